import numpy as np
import pytest

from twostream.inputs.stacking import (bidirectional_indices, build_stack, flip_stack, stack_fields,
                                       stack_indices, stack_starts, subtract_mean_flow,
                                       trajectory_fields)


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


def _rotation_field(height: int, width: int, angle: float) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    dx = (np.cos(angle) - 1) * (xs - cx) - np.sin(angle) * (ys - cy)
    dy = np.sin(angle) * (xs - cx) + (np.cos(angle) - 1) * (ys - cy)
    return np.stack([dx, dy], axis=-1).astype(np.float32)


def test_trajectory_of_a_constant_motion_is_the_same_field():
    fields = np.zeros((4, 20, 30, 2), np.float32)
    fields[..., 0], fields[..., 1] = 1.5, -0.5
    assert np.allclose(trajectory_fields(fields), fields)


def test_trajectory_follows_a_rotation():
    """A point rotating about the centre: the k-th sample is the field at its k-th position."""
    height, width, angle, length = 61, 61, 0.05, 5
    field = _rotation_field(height, width, angle)
    traj = trajectory_fields(np.repeat(field[None], length, axis=0))
    x, y = 45.0, 30.0  # start 15 px right of the centre
    for k in range(length):
        # Position after k steps of the rotation, and the displacement the field has there.
        a = angle * k
        px, py = 30 + (x - 30) * np.cos(a) - (y - 30) * np.sin(a), 30 + (x - 30) * np.sin(a) + (y - 30) * np.cos(a)
        want = [(np.cos(angle) - 1) * (px - 30) - np.sin(angle) * (py - 30),
                np.sin(angle) * (px - 30) + (np.cos(angle) - 1) * (py - 30)]
        assert np.allclose(traj[k, 30, 45], want, atol=0.02), k
    # Plain stacking samples the start pixel every time: it differs once the point has moved.
    assert not np.allclose(traj[4, 30, 45], field[30, 45], atol=0.1)


def test_bidirectional_stack_takes_half_forward_half_backward():
    fwd, bwd = bidirectional_indices(5, 4, 20)
    assert (fwd, bwd) == ([5, 6], [4, 3])
    assert bidirectional_indices(0, 4, 3) == ([0, 1], [0, 0])  # padded at the clip's start
    with pytest.raises(ValueError, match="even L"):
        bidirectional_indices(5, 3, 20)

    def read(indices, backward):
        values = np.asarray(indices, np.float32) + (100 if backward else 0)
        return np.broadcast_to(values[:, None, None, None], (len(indices), 2, 3, 2)).copy()

    stack = build_stack(read, 5, 4, 20, "bidirectional")
    assert stack.shape == (8, 2, 3)
    assert stack[::2, 0, 0].tolist() == [5, 6, 104, 103]


def test_build_stack_flow_matches_plain_stacking():
    fields = np.random.default_rng(0).normal(size=(6, 4, 5, 2)).astype(np.float32)
    read = lambda idx, back: fields[list(idx)]  # noqa: E731
    assert np.array_equal(build_stack(read, 1, 3, 6, "flow"), stack_fields(fields[1:4]))
    with pytest.raises(ValueError, match="stacking 'brox'"):
        build_stack(read, 1, 3, 6, "brox")


def test_trajectory_takes_field_k_at_the_kth_point_of_a_motion_that_changes_over_time():
    """Field k moves every pixel c_k right (c = 1, 2, 3, 4 px) and its d_y grows with x, so the
    k-th sample is right only for field k at the point reached after k steps: a wrong field
    index gives another c, a pixel left behind another d_y."""
    steps = [1.0, 2.0, 3.0, 4.0]
    height, width = 20, 60
    xs = np.arange(width, dtype=np.float32)
    fields = np.zeros((len(steps), height, width, 2), np.float32)
    for k, c in enumerate(steps):
        fields[k, ..., 0] = c
        fields[k, ..., 1] = 0.01 * xs[None, :]
    traj = trajectory_fields(fields)
    x = 10.0
    for k, c in enumerate(steps):
        assert np.allclose(traj[k, 5, 10], [c, 0.01 * x], atol=1e-4), k
        x += c
