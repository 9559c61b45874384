import numpy as np
import pytest

from twostream.inputs.crops import (TSN_SCALES, corner_scale_region, crop_resized, equally_spaced, five_boxes,
                                    flip_image, protocol_crops, random_box)


def test_ten_crops_are_corners_centre_and_their_flips():
    image = np.arange(3 * 96 * 128, dtype=np.float32).reshape(3, 96, 128)
    crops = protocol_crops(image, 84, 10, flip_image)
    assert crops.shape == (10, 3, 84, 84)
    assert five_boxes(96, 128, 84) == [(0, 0, 84), (0, 44, 84), (12, 0, 84), (12, 44, 84), (6, 22, 84)]
    assert np.array_equal(crops[0], image[:, :84, :84])          # top-left
    assert np.array_equal(crops[3], image[:, 12:, 44:])          # bottom-right
    assert np.array_equal(crops[4], image[:, 6:90, 22:106])      # centre
    for k in range(5):
        assert np.array_equal(crops[5 + k], crops[k][..., ::-1])  # flips follow


def test_twenty_five_frames_equally_spaced():
    idx = equally_spaced(n_items=100, count=25)
    assert len(idx) == 25 and idx[0] == 0 and idx[-1] == 99
    assert np.ptp(np.diff(idx)) <= 1
    assert equally_spaced(3, 25)[:3] == [0, 0, 0]  # a short clip repeats frames


def test_random_box_anywhere_in_frame():
    rng = np.random.default_rng(0)
    boxes = [random_box(96, 128, 84, rng) for _ in range(500)]
    tops, lefts = zip(*[(b[0], b[1]) for b in boxes])
    assert min(tops) == 0 and max(tops) == 12 and min(lefts) == 0 and max(lefts) == 44


def test_crop_larger_than_frame_is_explained():
    with pytest.raises(ValueError, match="input_size"):
        random_box(48, 64, 84, np.random.default_rng(0))


def test_corner_scale_crops_reach_every_corner_and_the_centre_at_jittered_sizes():
    """TSN's crops on a 96 x 128 frame: sides from {1, .875, .75, .66} x 96, height and width
    drawn separately (at most one scale step apart), placed at the four corners and the centre."""
    sizes = [int(96 * s) for s in TSN_SCALES]
    places, shapes = set(), set()
    for seed in range(600):
        top, left, h, w = corner_scale_region(96, 128, np.random.default_rng(seed))
        assert h in sizes and w in sizes and abs(sizes.index(h) - sizes.index(w)) <= 1
        corners = [(0, 0), (0, 128 - w), (96 - h, 0), (96 - h, 128 - w), ((96 - h) // 2, (128 - w) // 2)]
        assert (top, left) in corners
        if h < 96:  # the five places are distinct
            places.add(corners.index((top, left)))
        shapes.add((h, w))
    assert len(places) == 5  # four corners and the centre, each drawn
    assert any(h != w for h, w in shapes) and any(h == w for h, w in shapes)


def test_a_resized_flow_crop_scales_its_displacements_with_the_zoom():
    stack = np.zeros((2, 60, 80), np.float32)
    stack[0], stack[1] = 3.0, -2.0  # d_x, d_y everywhere
    out = crop_resized(stack, (0, 0, 60, 40), 30, flow=True)  # x zoomed 0.75, y 0.5
    assert out.shape == (2, 30, 30)
    assert np.allclose(out[0], 3.0 * 30 / 40) and np.allclose(out[1], -2.0 * 30 / 60)
    image = crop_resized(np.full((3, 60, 80), 0.5, np.float32), (0, 0, 60, 40), 30)
    assert np.allclose(image, 0.5)  # colours are not scaled
    same = crop_resized(stack, (5, 7, 30, 30), 30, flow=True)
    assert same.base is not None and np.array_equal(same, stack[:, 5:35, 7:37])  # no resize: a view
