import numpy as np

from twostream.flow.stacking import (flip_stack, stack_fields, stack_indices, stack_starts,
                                     subtract_mean_flow)


def _fields(n=12, h=6, w=8):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, h, w, 2)).astype(np.float32)


def test_stack_has_2l_channels_alternating_dx_dy():
    fields = _fields()
    stack = stack_fields(fields[stack_indices(2, 10, 12)])
    assert stack.shape == (20, 6, 8)
    assert np.array_equal(stack[0], fields[2, ..., 0]) and np.array_equal(stack[1], fields[2, ..., 1])
    assert np.array_equal(stack[18], fields[11, ..., 0]) and np.array_equal(stack[19], fields[11, ..., 1])


def test_short_clip_is_padded_with_its_last_field():
    assert stack_indices(0, 5, 3) == [0, 1, 2, 2, 2]


def test_starts_are_equally_spaced_and_valid():
    starts = stack_starts(n_fields=30, length=10, count=25)
    assert len(starts) == 25 and starts[0] == 0 and starts[-1] == 20
    assert stack_starts(n_fields=4, length=10, count=3) == [0, 0, 0]


def test_mean_subtraction_removes_each_fields_mean_vector():
    stack = stack_fields(_fields()[:4]) + 5.0  # a camera pan adds a constant vector
    out = subtract_mean_flow(stack)
    assert np.allclose(out.mean(axis=(1, 2)), 0, atol=1e-5)
    assert np.allclose(out, subtract_mean_flow(stack_fields(_fields()[:4])), atol=1e-5)


def test_flip_mirrors_and_negates_dx_only():
    stack = stack_fields(_fields()[:3])
    flipped = flip_stack(stack)
    assert np.array_equal(flipped[0], -stack[0][:, ::-1])
    assert np.array_equal(flipped[1], stack[1][:, ::-1])
    assert np.array_equal(flip_stack(flipped), stack)
