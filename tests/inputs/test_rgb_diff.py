"""RGB differences (TSN): consecutive frames of one clip, stacked as flow fields are."""

import numpy as np
import pytest

from twostream.inputs.protocol import temporal_test_inputs
from twostream.inputs.rgb import rgb_tensor
from twostream.inputs.rgb_diff import n_differences, read_differences
from twostream.inputs.stacking import build_stack
from twostream.inputs.train_sets import TemporalTrainSet
from twostream.store.zipstore import ArchiveReader, archive_name, frame_member


def _reader(tiny_archives, row=0):
    table, frames, _ = tiny_archives
    return ArchiveReader(frames / archive_name(table["id"][row]))


def test_a_difference_is_the_next_frame_minus_this_one_of_the_same_clip(tiny_archives):
    reader = _reader(tiny_archives)
    n = reader.meta["n_frames"]
    assert n_differences(reader.meta) == n - 1
    frame = lambda i: rgb_tensor(reader.image(frame_member(i))).transpose(1, 2, 0)  # noqa: E731
    got = read_differences(reader, [0, n - 2])
    assert np.allclose(got[0], frame(1) - frame(0)) and np.allclose(got[1], frame(n - 1) - frame(n - 2))
    with pytest.raises(IndexError, match="not both in it"):
        read_differences(reader, [n - 1])  # would need a frame past the clip's end
    with pytest.raises(IndexError):
        read_differences(reader, [-1])  # would wrap round to the clip's last frame


def test_a_stack_past_the_clips_end_repeats_its_last_difference(tiny_archives):
    """L larger than the clip: padding repeats difference n-2 (frames n-2, n-1), never a
    difference across the clip's boundary (frame 0 minus frame n-1)."""
    reader = _reader(tiny_archives)
    count = n_differences(reader.meta)
    length = count + 2
    stack = build_stack(lambda idx, back: read_differences(reader, idx), 0, length, count, "rgb_diff")
    assert stack.shape[0] == 3 * length
    last = read_differences(reader, [count - 1])[0].transpose(2, 0, 1)
    for k in range(count - 1, length):
        assert np.array_equal(stack[3 * k:3 * k + 3], last)


def test_training_and_test_inputs_have_3l_channels_and_mirror_without_negation(tiny_archives):
    table, frames, _ = tiny_archives
    paths, labels = [frames / archive_name(v) for v in table["id"]], list(table["label"])
    data = TemporalTrainSet(paths, labels, input_size=40, stack_length=4, mean_subtraction=False,
                            seed=0, stacking="rgb_diff")
    flipped = [k for k in range(40)
               if data.plan(data.readers[0], np.random.default_rng([0, k])).flip]
    key = (0, flipped[0])
    x, _ = data[key]
    assert x.shape == (12, 40, 40)
    plan = data.plan(data.readers[0], np.random.default_rng([0, key[1]]))
    top, left, size, _ = plan.region
    stack = build_stack(lambda idx, back: read_differences(data.readers[0], idx), plan.starts[0], 4,
                        n_differences(data.readers[0].meta), "rgb_diff")
    assert np.allclose(x.numpy(), stack[:, top:top + size, left:left + size][..., ::-1])
    inputs, weights = temporal_test_inputs(data.readers[0], frames=5, crops=10, input_size=40,
                                           stack_length=4, mean_subtraction=True, stacking="rgb_diff")
    assert inputs.shape[1:] == (12, 40, 40) and weights.sum() == 50
