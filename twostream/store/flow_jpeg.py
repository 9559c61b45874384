"""Flow <-> 8-bit JPEG: clip at +-bound, map linearly to codes 1..255 with zero at 128, map back.

The paper stores flow this way (1.5 TB as float -> 27 GB as JPEG for UCF-101). The fixed map
keeps one scale for every video, so no per-frame scale factors need storing. It is symmetric
about code 128 so that zero motion decodes as exactly zero (the usual [0, 255] map puts zero at
127.5, which rounds to 128 and decodes as +bound/255: +0.078 px at bound 20 in every still
pixel, a bias mean subtraction cannot remove where a stack is mostly still); code 0 is unused.
"""

from __future__ import annotations

import numpy as np

from twostream.store.zipstore import decode_jpeg, encode_jpeg

ZERO_CODE = 128   # the code of zero motion
HALF_RANGE = 127  # codes ZERO_CODE +- HALF_RANGE (1..255) span -bound..+bound


def code_step(bound: float) -> float:
    """Displacement per code: bound / 127 px."""
    return bound / HALF_RANGE


def quantize(flow: np.ndarray, bound: float) -> np.ndarray:
    """float displacements -> uint8 codes 1..255, clipping at +-bound (0 maps to 128)."""
    scaled = np.clip(flow, -bound, bound) * (HALF_RANGE / bound)
    return (np.rint(scaled) + ZERO_CODE).astype(np.uint8)


def dequantize(codes: np.ndarray, bound: float) -> np.ndarray:
    """uint8 codes -> float32 displacements in [-bound, bound] (code 0, never written, gives a
    step below -bound)."""
    return (codes.astype(np.float32) - np.float32(ZERO_CODE)) * np.float32(code_step(bound))


def max_quantization_error(bound: float) -> float:
    """Worst-case rounding error of :func:`quantize` for values inside +-bound (half a step)."""
    return code_step(bound) / 2


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
