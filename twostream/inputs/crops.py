"""Crop geometry for training (the paper's random crop, or TSN's corner and scale-jitter crops,
and a flip) and testing (25 inputs x 10 crops).

Pure functions over (C, H, W) arrays and box tuples, so the geometry is testable on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import cv2
import numpy as np

Box = tuple[int, int, int]  # (top, left, size)
Region = tuple[int, int, int, int]  # (top, left, height, width), resized to the input size
# TSN's crop sizes, as fractions of the frame's short side (Wang et al. 2016, Sec. 3.3).
TSN_SCALES = (1.0, 0.875, 0.75, 0.66)
T = TypeVar("T")  # a numpy array or a torch tensor


def random_box(height: int, width: int, size: int, rng: np.random.Generator) -> Box:
    """A size x size box anywhere in the frame (the paper samples crops across the whole frame)."""
    _check_fits(height, width, size)
    return int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1)), size


def corner_scale_region(height: int, width: int, rng: np.random.Generator,
                        scales: tuple[float, ...] = TSN_SCALES, max_distort: int = 1) -> Region:
    """TSN's corner cropping with scale jittering: a crop height and a crop width drawn
    separately from ``scales`` x the short side (their scale indices at most ``max_distort``
    apart, so the aspect ratio stays near square), placed at one of the four corners or the
    centre. The caller resizes it to the input size."""
    short = min(height, width)
    sizes = [max(1, int(short * s)) for s in scales]
    pairs = [(h, w) for i, h in enumerate(sizes) for j, w in enumerate(sizes) if abs(i - j) <= max_distort]
    crop_h, crop_w = pairs[int(rng.integers(len(pairs)))]
    bottom, right = height - crop_h, width - crop_w
    corners = [(0, 0), (0, right), (bottom, 0), (bottom, right), (bottom // 2, right // 2)]
    top, left = corners[int(rng.integers(len(corners)))]
    return top, left, crop_h, crop_w


def square_region(box: Box) -> Region:
    top, left, size = box
    return top, left, size, size


def crop_resized(array: np.ndarray, region: Region, size: int, flow: bool = False) -> np.ndarray:
    """(C, size, size): ``region`` of a (C, H, W) array, resized bilinearly when it is not
    already size x size. A flow stack (``flow``: channels d_x, d_y, d_x, ...) has its
    displacements scaled with the zoom, so one pixel of motion stays one pixel of the input."""
    top, left, height, width = region
    out = array[..., top:top + height, left:left + width]
    if (height, width) == (size, size):
        return out
    resized = np.stack([cv2.resize(np.ascontiguousarray(c), (size, size), interpolation=cv2.INTER_LINEAR)
                        for c in out])
    return scale_displacements(resized, height, width, size) if flow else resized


def scale_displacements(stack: T, height: int, width: int, size: int) -> T:
    """A flow stack (channels d_x, d_y, d_x, ...) cut at height x width and resized to size x
    size, its displacements scaled in place by the same zoom: numpy (the CPU loader) or torch
    (GPU decoding) alike."""
    stack[0::2] *= size / width
    stack[1::2] *= size / height
    return stack


def five_boxes(height: int, width: int, size: int) -> list[Box]:
    """Four corners and the centre."""
    _check_fits(height, width, size)
    bottom, right = height - size, width - size
    return [(0, 0, size), (0, right, size), (bottom, 0, size), (bottom, right, size),
            (bottom // 2, right // 2, size)]


def crop(array: np.ndarray, box: Box) -> np.ndarray:
    top, left, size = box
    return array[..., top:top + size, left:left + size]


def protocol_crops(array: np.ndarray, size: int, count: int,
               flip: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """(count, C, size, size): 1 = centre; 5 = corners + centre; 10 = those and their flips."""
    boxes = five_boxes(array.shape[-2], array.shape[-1], size)
    if count == 1:
        boxes = boxes[4:]
    crops = [crop(array, box) for box in boxes]
    if count == 10:
        crops += [flip(c) for c in crops]
    elif count not in (1, 5):
        raise ValueError(f"crops={count}: must be 1, 5 or 10")
    return np.stack(crops)


def flip_image(array: np.ndarray) -> np.ndarray:
    """Left-right mirror of a (C, H, W) image."""
    return array[..., ::-1].copy()


def equally_spaced(n_items: int, count: int) -> list[int]:
    """``count`` indices spread evenly over ``range(n_items)`` (repeats when n_items < count)."""
    return [int(round(x)) for x in np.linspace(0, n_items - 1, count)]


def _check_fits(height: int, width: int, size: int) -> None:
    if size > height or size > width:
        raise ValueError(f"crop {size}x{size} does not fit a {height}x{width} frame; "
                         f"lower the stream's input_size or raise frames.short_side")
