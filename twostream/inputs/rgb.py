"""RGB frames as the spatial nets read them: normalised float tensors and the colour jitter of
training."""

from __future__ import annotations

import cv2
import numpy as np

from twostream.models.normalise import IMAGENET_MEAN, IMAGENET_STD

# Samples are normalised as torchvision's ImageNet models expect; each network converts to its own.
RGB_MEAN = np.array(IMAGENET_MEAN, np.float32).reshape(3, 1, 1)
RGB_STD = np.array(IMAGENET_STD, np.float32).reshape(3, 1, 1)


def rgb_tensor(frame_bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> normalised RGB float32 (3, H, W)."""
    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB).astype(np.float32).transpose(2, 0, 1) / 255.0
    return (rgb - RGB_MEAN) / RGB_STD


Jitter = tuple[np.ndarray, float, float]  # per-channel gain (3,), contrast, brightness


def draw_jitter(strength: float, rng: np.random.Generator) -> Jitter | None:
    """Random per-channel gain, contrast and brightness of relative size ``strength``."""
    if strength <= 0:
        return None
    gain = 1.0 + rng.uniform(-strength, strength, size=3).astype(np.float32)
    contrast = float(1.0 + rng.uniform(-strength, strength))
    brightness = float(rng.uniform(-strength, strength))
    return gain, contrast, brightness


def apply_jitter(image: np.ndarray, jitter: Jitter | None) -> np.ndarray:
    """((x - mean) * contrast + mean) * gain + brightness, the mean per channel of this crop."""
    if jitter is None:
        return image
    gain, contrast, brightness = jitter
    mean = image.mean(axis=(1, 2), keepdims=True)
    return ((image - mean) * np.float32(contrast) + mean) * gain.reshape(3, 1, 1) + np.float32(brightness)
