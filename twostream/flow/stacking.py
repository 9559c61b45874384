"""Temporal-stream inputs from flow fields: stacking, mean subtraction, flipping.

Pure array functions: fields are (N, H, W, 2) float arrays, stacks are (2L, H, W) with channels
alternating d_x, d_y (channel 2k is d_x of field tau+k, 2k+1 its d_y), as in the paper.
"""

from __future__ import annotations

import numpy as np


def stack_indices(start: int, length: int, n_fields: int) -> list[int]:
    """Field indices tau..tau+L-1, repeating the last field when a clip is too short (padding)."""
    if n_fields < 1:
        raise ValueError("a clip with fewer than 2 frames has no flow field to stack")
    return [min(max(start + k, 0), n_fields - 1) for k in range(length)]


def stack_starts(n_fields: int, length: int, count: int) -> list[int]:
    """``count`` equally spaced start positions tau over the valid range (the test protocol)."""
    last = max(n_fields - length, 0)
    return [int(round(x)) for x in np.linspace(0, last, count)]


def stack_fields(fields: np.ndarray) -> np.ndarray:
    """(L, H, W, 2) fields -> (2L, H, W) stack, channels alternating d_x, d_y."""
    length, height, width, _ = fields.shape
    return np.ascontiguousarray(fields.transpose(0, 3, 1, 2).reshape(2 * length, height, width))


def subtract_mean_flow(stack: np.ndarray) -> np.ndarray:
    """Subtract from each field its mean displacement vector (a cheap camera-motion compensation)."""
    return stack - stack.mean(axis=(-2, -1), keepdims=True)


def flip_stack(stack: np.ndarray) -> np.ndarray:
    """Mirror a (2L, H, W) stack left-right: the image flips and every d_x changes sign."""
    flipped = stack[..., ::-1].copy()
    flipped[0::2] *= -1
    return flipped
