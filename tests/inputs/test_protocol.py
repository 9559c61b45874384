import numpy as np

from twostream.inputs.protocol import spatial_test_inputs, temporal_test_inputs
from twostream.inputs.train_sets import TemporalTrainSet
from twostream.store.zipstore import ArchiveReader, archive_name

from conftest import repo_block


def _paths(table, folder):
    return [folder / archive_name(v) for v in table["id"]], list(table["label"])


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
