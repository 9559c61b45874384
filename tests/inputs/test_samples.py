import numpy as np
import pytest

from twostream.inputs.samples import (BalancedBatches, SpatialTrainSet, TemporalTrainSet,
                                      spatial_test_inputs, temporal_test_inputs)
from twostream.inputs.stacking import bidirectional_indices
from twostream.store.zipstore import ArchiveReader, archive_name

from conftest import repo_block


def _paths(table, folder):
    return [folder / archive_name(v) for v in table["id"]], list(table["label"])


def test_temporal_sample_is_a_2l_channel_stack(tiny_archives):
    table, _, flow = tiny_archives
    paths, labels = _paths(table, flow)
    data = TemporalTrainSet(paths, labels, input_size=48, stack_length=5, mean_subtraction=True, seed=0)
    x, y = data[(0, 7)]
    assert x.shape == (10, 48, 48) and y == labels[0]
    assert np.array_equal(x.numpy(), data[(0, 7)][0].numpy())  # a sample is a function of its key
    assert np.allclose(x.numpy().mean(axis=(1, 2)), 0, atol=0.5)  # mean-subtracted (then cropped)


def test_spatial_sample_shape(tiny_archives):
    table, frames, _ = tiny_archives
    paths, labels = _paths(table, frames)
    x, _ = SpatialTrainSet(paths, labels, input_size=48, jitter=0.2, seed=0)[(1, 3)]
    assert x.shape == (3, 48, 48)


def test_test_protocol_inputs_are_distinct_and_weighted_to_25_x_10(tiny_archives):
    table, frames, flow = tiny_archives
    with ArchiveReader(frames / archive_name(table["id"][0])) as r:
        # 8 frames: the 25 equally spaced frames are those 8, repeated; each is scored once.
        x, counts = spatial_test_inputs(r, frames=25, crops=10, input_size=48)
        assert x.shape == (80, 3, 48, 48) and counts.sum() == 250
        # a weighted mean over the distinct inputs is the mean over all 250
        chosen = [int(round(v)) for v in np.linspace(0, 7, 25)]
        assert list(counts[::10]) == [chosen.count(i) for i in range(8)]
    with ArchiveReader(flow / archive_name(table["id"][0])) as r:
        # 7 fields and L=10: one (padded) stack, repeated 25 times
        x, counts = temporal_test_inputs(r, frames=25, crops=10, input_size=48, stack_length=10,
                                         mean_subtraction=True)
        assert x.shape == (10, 20, 48, 48) and list(counts) == [25.0] * 10
        x, counts = temporal_test_inputs(r, frames=25, crops=10, input_size=48, stack_length=3,
                                         mean_subtraction=True)
        assert x.shape == (50, 6, 48, 48) and counts.sum() == 250


def test_balanced_batches_cover_classes_evenly():
    labels = [0] * 90 + [1] * 10  # imbalanced videos
    batches = list(BalancedBatches(labels, batch_size=100, iterations=20, seed=0))
    drawn = np.array([labels[v] for batch in batches for v, _ in batch])
    assert abs(drawn.mean() - 0.5) < 0.05
    resumed = list(BalancedBatches(labels, batch_size=100, iterations=20, seed=0, start=7))
    assert resumed == batches[7:]


def test_trajectory_and_bidirectional_inputs(tiny_archives, tmp_path):
    from twostream.flow.extract import extract_flow

    table, frames, _ = tiny_archives
    flow = tmp_path / "flow"
    extract_flow(table.head(2), frames, flow, repo_block("flow", backward=True, workers=1))
    paths, labels = _paths(table.head(2), flow)
    for stacking in ("trajectory", "bidirectional"):
        data = TemporalTrainSet(paths, labels, input_size=40, stack_length=4, mean_subtraction=False,
                                seed=0, stacking=stacking)
        x, _ = data[(1, 5)]
        assert x.shape == (8, 40, 40)
        with ArchiveReader(paths[0]) as r:
            test, counts = temporal_test_inputs(r, frames=3, crops=5, input_size=40, stack_length=4,
                                                mean_subtraction=True, stacking=stacking)
        assert test.shape[1:] == (8, 40, 40) and counts.sum() == 15
    # The backward half of a bi-directional stack really is backward flow: opposite sign on average.
    with ArchiveReader(paths[0]) as r:
        stack = temporal_test_inputs(r, frames=1, crops=1, input_size=40, stack_length=4,
                                     mean_subtraction=False, stacking="bidirectional")[0][0]
    forward = np.array([stack[0:4:2].mean(), stack[1:4:2].mean()])
    backward = np.array([stack[4:8:2].mean(), stack[5:8:2].mean()])
    assert np.linalg.norm(forward) > 0.2 and forward @ backward < 0


def test_pooled_batches_mix_datasets_in_fixed_shares_balanced_within_each():
    labels = [0] * 50 + [1] * 5 + [2] * 3 + [3] * 40   # classes 0-1: one dataset, 2-3: the other
    sampler = BalancedBatches(labels, 8, 400, seed=1, pools=[([0, 1], 6), ([2, 3], 2)])
    counts = np.zeros(4)
    for batch in sampler:
        picked = [labels[v] for v, _ in batch]
        assert sum(c < 2 for c in picked) == 6
        counts += np.bincount(picked, minlength=4)
    assert abs(counts[0] - counts[1]) / counts[:2].sum() < 0.05  # uniform within a pool
    assert abs(counts[2] - counts[3]) / counts[2:].sum() < 0.08
    # one pool of every class is the plain sampler, draw for draw
    assert list(BalancedBatches(labels, 8, 5, 2)) == list(BalancedBatches(labels, 8, 5, 2, pools=[([0, 1, 2, 3], 8)]))


def test_field_cache_returns_the_decoded_fields_within_its_budget(tiny_archives):
    from twostream.inputs.samples import FieldCache, read_fields

    table, _, flow = tiny_archives
    reader = ArchiveReader(flow / archive_name(table["id"][0]))
    cache = FieldCache(budget_mb=0.02)  # room for a few 48x64 fields only
    first = read_fields(reader, [0, 1, 2], cache=cache)
    again = read_fields(reader, [0, 1, 2], cache=cache)
    assert np.array_equal(first, read_fields(reader, [0, 1, 2])) and np.array_equal(first, again)
    read_fields(reader, range(reader.meta["n_fields"]), cache=cache)
    assert 0 < cache.used <= cache.budget


class _Meta:
    """A reader that only knows its clip's shape (a plan decodes nothing)."""

    meta = {"n_fields": 12, "height": 96, "width": 128}


@pytest.mark.parametrize("stacking, expected", [("flow", {0, 1, 2}), ("trajectory", {0, 1, 2}),
                                                 ("bidirectional", {5, 6, 7})])
def test_training_stacks_start_anywhere_a_whole_stack_fits_and_nowhere_else(stacking, expected):
    """12 fields, L = 10: tau in 0..2 (fields tau..tau+9), every one of them drawn; a
    bi-directional stack also looks L/2 back, so tau >= 5 and its fields stay inside the clip."""
    data = TemporalTrainSet([], [], input_size=84, stack_length=10, mean_subtraction=True, seed=0,
                            stacking=stacking)
    starts = {data.plan(_Meta(), np.random.default_rng(i)).start for i in range(300)}
    assert starts == expected
    if stacking == "bidirectional":
        for start in expected:
            forward, backward = bidirectional_indices(start, 10, 12)
            assert min(backward) >= 0 and max(forward) <= 11 and len(set(forward + backward)) == 10
