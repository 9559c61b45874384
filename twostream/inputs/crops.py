"""Crop geometry for training (random crop + flip) and testing (25 inputs x 10 crops).

Pure functions over (C, H, W) arrays and box tuples, so the geometry is testable on its own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Box = tuple[int, int, int]  # (top, left, size)


def random_box(height: int, width: int, size: int, rng: np.random.Generator) -> Box:
    """A size x size box anywhere in the frame (the paper samples crops across the whole frame)."""
    _check_fits(height, width, size)
    return int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1)), size


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
