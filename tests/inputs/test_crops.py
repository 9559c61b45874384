import numpy as np
import pytest

from twostream.inputs.crops import equally_spaced, five_boxes, flip_image, random_box, protocol_crops


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
