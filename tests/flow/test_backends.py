import cv2
import numpy as np
import pytest

from twostream.flow.backends import make_backend
from twostream.flow.tvl1_settings import TVL1Settings


def _textured_pair(dx: float, dy: float):
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur((rng.random((80, 96)) * 255).astype(np.float32), (0, 0), 2.0)
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    moved = cv2.warpAffine(base, shift, (96, 80), borderMode=cv2.BORDER_REFLECT)
    return base.astype(np.uint8), moved.astype(np.uint8)


@pytest.mark.parametrize("name, tolerance", [("opencv-tvl1", 0.15), ("opencv-farneback", 0.4),
                                             ("opencv-dis", 0.15), ("torch-tvl1", 0.15)])
def test_backend_recovers_a_known_translation(name, tolerance):
    backend = make_backend(name, compile=False, epsilon=TVL1Settings.epsilon,
                           scale_step=TVL1Settings.scale_step)
    prev, nxt = _textured_pair(2.0, -1.0)
    flow = backend.compute(prev, nxt)
    assert flow.shape == (80, 96, 2) and flow.dtype == np.float32
    inner = flow[12:-12, 12:-12].reshape(-1, 2)
    assert np.abs(np.median(inner, axis=0) - [2.0, -1.0]).max() < tolerance
    assert backend.settings  # recorded in each video's metadata


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="flow.backend"):
        make_backend("brox", compile=False, epsilon=TVL1Settings.epsilon,
                           scale_step=TVL1Settings.scale_step)


@pytest.mark.parametrize("name", ["opencv-cuda-brox", "opencv-cuda-tvl1"])
def test_opencv_cuda_backends_say_what_is_missing(name):
    if cv2.cuda.getCudaEnabledDeviceCount() > 0:
        prev, nxt = _textured_pair(2.0, -1.0)
        flow = make_backend(name, compile=False, epsilon=TVL1Settings.epsilon,
                           scale_step=TVL1Settings.scale_step).compute(prev, nxt)
        assert np.abs(np.median(flow[12:-12, 12:-12].reshape(-1, 2), axis=0) - [2.0, -1.0]).max() < 0.3
        return
    with pytest.raises(RuntimeError, match=rf"flow.backend={name} needs OpenCV built with CUDA.*torch-tvl1"):
        make_backend(name, compile=False, epsilon=TVL1Settings.epsilon,
                           scale_step=TVL1Settings.scale_step)
