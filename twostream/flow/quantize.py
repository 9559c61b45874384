"""Flow <-> 8-bit JPEG: clip at +-bound, map linearly to [0, 255], map back on load.

The paper stores flow this way (1.5 TB as float -> 27 GB as JPEG for UCF-101). The fixed map
keeps one scale for every video, so no per-frame scale factors need storing.
"""

from __future__ import annotations

import numpy as np

from twostream.store.zipstore import decode_jpeg, encode_jpeg


def quantize(flow: np.ndarray, bound: float) -> np.ndarray:
    """float displacements -> uint8, clipping at +-bound (0 maps to 127.5, rounded)."""
    scaled = (np.clip(flow, -bound, bound) + bound) * (255.0 / (2.0 * bound))
    return np.rint(scaled).astype(np.uint8)


def dequantize(codes: np.ndarray, bound: float) -> np.ndarray:
    """uint8 -> float32 displacements in [-bound, bound]."""
    return codes.astype(np.float32) * np.float32(2.0 * bound / 255.0) - np.float32(bound)


def max_quantization_error(bound: float) -> float:
    """Worst-case rounding error of :func:`quantize` for values inside +-bound (half a step)."""
    return bound / 255.0


def encode_field(flow: np.ndarray, bound: float, quality: int) -> tuple[bytes, bytes]:
    """One (H, W, 2) field -> grayscale JPEG bytes for d_x and d_y."""
    codes = quantize(flow, bound)
    return encode_jpeg(codes[..., 0], quality), encode_jpeg(codes[..., 1], quality)


def decode_codes(x_jpeg: bytes, y_jpeg: bytes) -> np.ndarray:
    """Grayscale JPEG bytes for d_x and d_y -> (H, W, 2) uint8 codes (1/4 the memory of floats)."""
    return np.stack([decode_jpeg(x_jpeg, grayscale=True), decode_jpeg(y_jpeg, grayscale=True)], -1)


def decode_field(x_jpeg: bytes, y_jpeg: bytes, bound: float) -> np.ndarray:
    """Grayscale JPEG bytes for d_x and d_y -> (H, W, 2) float32 field."""
    return dequantize(decode_codes(x_jpeg, y_jpeg), bound)
