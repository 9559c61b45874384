import numpy as np

from twostream.store.flow_jpeg import (decode_field, dequantize, encode_field, max_quantization_error,
                                     quantize)


def test_quantize_round_trip_within_half_a_step():
    flow = np.random.default_rng(0).uniform(-20, 20, (32, 32, 2)).astype(np.float32)
    back = dequantize(quantize(flow, 20.0), 20.0)
    assert np.abs(back - flow).max() <= max_quantization_error(20.0) + 1e-5


def test_zero_motion_decodes_as_zero_and_the_map_is_symmetric():
    """The [0, 255] map put zero at 127.5 -> code 128 -> +0.078 px in every still pixel."""
    assert quantize(np.zeros(3), 20.0).tolist() == [128] * 3
    assert dequantize(quantize(np.zeros(3), 20.0), 20.0).tolist() == [0.0] * 3
    flow = np.random.default_rng(1).uniform(-25, 25, 1000)
    assert np.array_equal(dequantize(quantize(-flow, 20.0), 20.0), -dequantize(quantize(flow, 20.0), 20.0))
    still = decode_field(*encode_field(np.zeros((48, 64, 2), np.float32), 20.0, 90), 20.0)
    assert np.count_nonzero(still) == 0  # through JPEG too: a flat field stays exact


def test_values_beyond_bound_are_clipped():
    back = dequantize(quantize(np.array([-50.0, 0.0, 35.0]), 20.0), 20.0)
    assert back[0] == -20.0 and back[2] == 20.0 and abs(back[1]) <= max_quantization_error(20.0) + 1e-5


def test_jpeg_round_trip_error_is_bounded():
    """A smooth field survives quantisation + JPEG (q=90) within a fraction of a pixel."""
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float32)
    flow = np.stack([3 * np.sin(xx / 15), -2 * np.cos(yy / 11)], -1)
    back = decode_field(*encode_field(flow, 20.0, 90), 20.0)
    err = np.abs(back - flow)
    assert err.mean() < 0.1 and err.max() < 0.5
