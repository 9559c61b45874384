import numpy as np
import pytest

from twostream.inputs.train_sets import SpatialTrainSet, TemporalTrainSet
from twostream.inputs.stacking import bidirectional_indices
from twostream.store.zipstore import archive_name


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
    starts = {data.plan(_Meta(), np.random.default_rng(i)).starts[0] for i in range(300)}
    assert starts == expected
    if stacking == "bidirectional":
        for start in expected:
            forward, backward = bidirectional_indices(start, 10, 12)
            assert min(backward) >= 0 and max(forward) <= 11 and len(set(forward + backward)) == 10


def test_segments_give_k_snippets_in_order_under_one_crop_and_flip(tiny_archives):
    table, frames, flow = tiny_archives
    paths, labels = _paths(table, flow)
    data = TemporalTrainSet(paths, labels, input_size=40, stack_length=2,
                            mean_subtraction=False, seed=0, segments=3, crops="corners_scales")
    x, _ = data[(0, 7)]
    assert x.shape == (3, 4, 40, 40)
    plan = data.plan(data.readers[0], np.random.default_rng([0, 7]))
    assert list(plan.starts) == sorted(plan.starts) and len(set(plan.starts)) == 3
    spatial = SpatialTrainSet(*_paths(table, frames), input_size=40,
                              jitter=0.0, seed=0, segments=3)
    assert spatial[(0, 7)][0].shape == (3, 3, 40, 40)
