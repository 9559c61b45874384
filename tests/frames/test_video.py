import numpy as np
import pytest

from twostream.frames.video import VideoError, read_video, resize_short_side, write_video


def test_write_read_round_trip(tmp_path):
    frames = [np.full((48, 64, 3), i * 20, np.uint8) for i in range(5)]
    write_video(tmp_path / "clip.avi", frames, 25.0)
    back, fps = read_video(tmp_path / "clip.avi")
    assert len(back) == 5 and back[0].shape == (48, 64, 3) and fps == 25.0


def test_corrupt_video_names_the_file(tmp_path):
    bad = tmp_path / "v_Broken_g01_c01.avi"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00AVI garbage" * 10)
    with pytest.raises(VideoError, match="v_Broken_g01_c01.avi"):
        read_video(bad)


def test_resize_short_side_keeps_aspect():
    out = resize_short_side(np.zeros((240, 320, 3), np.uint8), 256)
    assert out.shape[:2] == (256, 341)
