"""Temporal-stream inputs from flow fields: the paper's three stackings, mean subtraction, flips;
and TSN's RGB differences, stacked as flow fields are (:mod:`twostream.inputs.rgb_diff`).

Pure array functions: fields are (N, H, W, 2) float arrays, stacks are (2L, H, W) with channels
alternating d_x, d_y (channel 2k is d_x of the k-th field, 2k+1 its d_y), as in the paper.

- ``flow``: fields tau..tau+L-1 sampled at the same pixel (optical flow stacking);
- ``trajectory``: field tau+k-1 sampled at p_k, where p_1 is the pixel and
  p_k = p_{k-1} + d_{tau+k-2}(p_{k-1}) (bilinear), i.e. along the motion trajectory;
- ``bidirectional``: L/2 forward fields tau..tau+L/2-1, then L/2 backward fields (frame j+1 -> j)
  for j = tau-1 down to tau-L/2: still 2L channels;
- ``rgb_diff``: differences tau..tau+L-1 of consecutive RGB frames: 3L channels, no flow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from twostream.config import STACKINGS
FieldReader = Callable[[Sequence[int], bool], np.ndarray]  # (indices, backward) -> (n, H, W, 2)


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
    """(L, H, W, C) fields -> (C L, H, W) stack: for flow (C = 2) channels alternating d_x, d_y;
    for RGB differences (C = 3) R, G, B of each difference in turn."""
    length, height, width, channels = fields.shape
    return np.ascontiguousarray(fields.transpose(0, 3, 1, 2).reshape(channels * length, height, width))


def stack_channels(stacking: str, length: int) -> int:
    """Input channels of an L-stack: 2L flow channels, or 3L for RGB differences."""
    return 3 * length if stacking == "rgb_diff" else 2 * length


def subtract_mean_flow(stack: np.ndarray) -> np.ndarray:
    """Subtract from each field its mean displacement vector (a cheap camera-motion compensation)."""
    return stack - stack.mean(axis=(-2, -1), keepdims=True)


def flip_stack(stack: np.ndarray) -> np.ndarray:
    """Mirror a (2L, H, W) stack left-right: the image flips and every d_x changes sign."""
    flipped = stack[..., ::-1].copy()
    flipped[0::2] *= -1
    return flipped


def trajectory_fields(fields: np.ndarray) -> np.ndarray:
    """(L, H, W, 2) consecutive fields -> the same fields sampled along each pixel's trajectory."""
    length, height, width, _ = fields.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    px, py = xs.copy(), ys.copy()
    out = np.empty_like(fields, dtype=np.float32)
    for k in range(length):
        sampled = cv2.remap(np.ascontiguousarray(fields[k], dtype=np.float32), px, py,
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[k] = sampled
        px, py = px + sampled[..., 0], py + sampled[..., 1]
    return out


def bidirectional_indices(start: int, length: int, n_fields: int) -> tuple[list[int], list[int]]:
    """(forward field indices, backward field indices) of a bi-directional stack at ``start``."""
    if length % 2:
        raise ValueError(f"a bi-directional stack needs an even L, got {length}")
    if n_fields < 1:
        raise ValueError("a clip with fewer than 2 frames has no flow field to stack")
    half = length // 2
    clamp = lambda i: min(max(i, 0), n_fields - 1)  # noqa: E731 - padding, as stack_indices
    return [clamp(start + k) for k in range(half)], [clamp(start - 1 - k) for k in range(half)]


def build_stack(read: FieldReader, start: int, length: int, n_fields: int, kind: str) -> np.ndarray:
    """The (2L, H, W) input of stacking ``kind`` starting at field ``start``."""
    if kind in ("flow", "rgb_diff"):  # rgb_diff: ``read`` gives differences, not flow
        return stack_fields(read(stack_indices(start, length, n_fields), False))
    if kind == "trajectory":
        return stack_fields(trajectory_fields(read(stack_indices(start, length, n_fields), False)))
    if kind == "bidirectional":
        forward, backward = bidirectional_indices(start, length, n_fields)
        return stack_fields(np.concatenate([read(forward, False), read(backward, True)]))
    raise ValueError(f"stacking {kind!r}: must be one of {STACKINGS}")


def first_start(stacking: str, length: int) -> int:
    """The first valid stack start tau: a bi-directional stack looks L/2 fields back from tau."""
    return length // 2 if stacking == "bidirectional" else 0
