import numpy as np

from twostream.flow.colour import colour_wheel, flow_to_colour, main


def test_wheel_is_the_standard_55_colours():
    wheel = colour_wheel()
    assert wheel.shape == (55, 3)
    assert np.allclose(wheel[0], [1, 0, 0])          # starts at red
    assert np.allclose(wheel[15], [1, 1, 0])         # yellow after 15
    assert np.allclose(wheel[21], [0, 1, 0])         # green after 6 more
    assert np.allclose(wheel[25], [0, 1, 1])         # cyan after 4 more
    assert np.allclose(wheel[36], [0, 0, 1])         # blue after 11 more
    assert np.allclose(wheel[49], [1, 0, 1])         # magenta after 13 more


def test_colour_coding():
    flow = np.zeros((3, 4, 2), np.float32)
    flow[0, 0] = [2, 0]     # right, full speed
    flow[0, 1] = [-2, 0]    # left, full speed
    flow[0, 2] = [1, 0]     # right, half speed
    flow[0, 3] = [8, 0]     # beyond the scale: dimmed
    image = flow_to_colour(flow, max_magnitude=2.0)
    assert image.dtype == np.uint8 and image.shape == (3, 4, 3)
    assert (image[1:] == 255).all()                  # no motion is white
    assert image[0, 0, 0] == 255 and image[0, 0, 1] < 10                   # right is red
    assert image[0, 1, 0] < 10 and image[0, 1, 1] > 200 and image[0, 1, 2] > 200  # left is cyan
    assert (image[0, 2] > image[0, 0]).any() and image[0, 2, 0] == 255    # slower is paler
    assert image[0, 3].max() <= 192                                         # saturated, dimmed


def test_cli_writes_frames_above_flow(tiny_archives, tmp_path):
    import cv2

    table, frames_dir, flow_dir = tiny_archives
    from twostream.store.zipstore import archive_name

    out = tmp_path / "flow.png"
    main([str(flow_dir / archive_name(table["id"][0])), str(out), "--frames", str(frames_dir)])
    image = cv2.imread(str(out))
    assert image.shape[0] == 2 * 48 and image.shape[1] % 64 == 0
