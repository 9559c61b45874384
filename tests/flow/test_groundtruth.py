"""Frame pairs with known flow: the truth must be the motion that made the second frame."""

from __future__ import annotations

import numpy as np

from twostream.flow.groundtruth import boundary_error, endpoint_error, photo_object_pair, texture


def _scene() -> np.ndarray:
    return np.clip(texture(96, 128, np.random.default_rng(4)), 0, 255).astype(np.uint8)


def test_object_pair_truth_moves_the_object_and_leaves_the_scene():
    first, second, truth = photo_object_pair(_scene(), magnitude=4.0, seed=1, noise=0.0, gain=1.0, offset=0.0)
    moving = np.linalg.norm(np.nan_to_num(truth), axis=-1) > 0
    occluded = np.isnan(truth[..., 0])
    assert 0.03 < moving.mean() < 0.3 and occluded.any() and not (moving & occluded).any()
    dx, dy = truth[moving][0]
    assert abs(np.hypot(dx, dy) - 4.0) < 1e-4
    # inside the object, frame 1 at p is frame 2 at p + d (integer part; away from the edge)
    ys, xs = np.nonzero(moving)
    k = len(ys) // 2
    y, x = ys[k], xs[k]
    assert abs(int(first[y, x]) - int(second[int(round(y + dy)), int(round(x + dx))])) < 40
    # outside it and not covered, the scene stands still
    still = ~moving & ~occluded
    assert np.abs(first[still].astype(int) - second[still].astype(int)).mean() < 8


def test_errors_leave_out_occluded_pixels_and_see_a_blurred_boundary():
    _, _, truth = photo_object_pair(_scene(), magnitude=4.0, seed=2)
    exact = np.nan_to_num(truth)
    assert endpoint_error(exact, truth) == 0.0 and boundary_error(exact, truth) == 0.0
    zero = np.zeros_like(exact)  # a method that sees no motion at all
    assert boundary_error(zero, truth) > endpoint_error(zero, truth) > 0
