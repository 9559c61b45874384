"""Frame pairs with a known flow field, to measure any backend's endpoint error.

Three sources: a generated multi-scale texture (:func:`known_flow_pair`), a real photograph
with a camera's noise and brightness change (:func:`photo_flow_pair`), and an object moving over
a still photographed scene (:func:`photo_object_pair`: a motion boundary and occlusion). The second frame samples
the first at ``x - w(x)``; the true flow from the first
frame is then the fixed point ``u(p) = w(p + u(p))``, solved by iteration, so the ground truth is
exact (not the usual small-motion approximation ``u = w``).
"""

from __future__ import annotations

import cv2
import numpy as np

MOTIONS = ("translation", "rotation", "zoom", "smooth")


def texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Multi-scale smooth noise, 0-255 float32: texture at every scale TV-L1 looks at."""
    image = np.zeros((height, width), np.float32)
    for cell in (2, 4, 8, 16):
        noise = rng.standard_normal((height // cell + 2, width // cell + 2)).astype(np.float32)
        image += cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC) * cell
    image -= image.min()
    return image * (255.0 / max(float(image.max()), 1e-6))


def _field(motion: str, height: int, width: int, magnitude: float) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    if motion == "translation":
        return np.full_like(xs, magnitude), np.full_like(xs, -0.6 * magnitude)
    if motion == "rotation":
        angle = magnitude / max(width, height) * 2.0  # about `magnitude` px at the corners
        return ((np.cos(angle) - 1) * (xs - cx) - np.sin(angle) * (ys - cy),
                np.sin(angle) * (xs - cx) + (np.cos(angle) - 1) * (ys - cy))
    if motion == "zoom":
        scale = magnitude / max(width, height) * 2.0
        return scale * (xs - cx), scale * (ys - cy)
    if motion == "smooth":
        return (magnitude * np.sin(2 * np.pi * ys / height), 0.7 * magnitude * np.cos(2 * np.pi * xs / width))
    raise ValueError(f"motion {motion!r}: must be one of {MOTIONS}")


def _true_flow(wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
    """The flow from the first frame when the second samples it at x - w(x): the fixed point
    u(p) = w(p + u(p)), by iteration (exact, not the small-motion u = w)."""
    height, width = wx.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ux, uy = wx.copy(), wy.copy()
    for _ in range(30):
        mx, my = xs + ux, ys + uy
        ux = cv2.remap(wx, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        uy = cv2.remap(wy, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.stack([ux, uy], axis=-1)


def _to_u8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def known_flow_pair(height: int, width: int, motion: str, magnitude: float = 3.0,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first frame, second frame) as uint8 grey and the true (H, W, 2) flow between them."""
    rng = np.random.default_rng(seed)
    margin = int(np.ceil(3 * magnitude)) + 8
    big = texture(height + 2 * margin, width + 2 * margin, rng)
    wx, wy = (a.astype(np.float32) for a in _field(motion, height, width, magnitude))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    first = big[margin:margin + height, margin:margin + width]
    second = cv2.remap(big, xs + margin - wx, ys + margin - wy, cv2.INTER_CUBIC)
    return _to_u8(first), _to_u8(second), _true_flow(wx, wy)


def photo_flow_pair(image: np.ndarray, motion: str, magnitude: float = 3.0, seed: int = 0,
                    noise: float = 2.0, gain: float = 1.03, offset: float = 2.0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A real photograph (uint8 grey, e.g. a video frame) and itself warped by a known field,
    with what a camera adds: independent sensor noise (sigma ``noise`` grey levels) in each
    frame and a brightness change (``gain`` x + ``offset``) in the second. Returns (first,
    second, true flow). Real frames have the flat regions, edges and texture gaps that a
    generated texture lacks, so this is the accuracy test that carries over to video.

    The warp reflects the image at its border; :func:`endpoint_error` leaves a border band out.
    """
    rng = np.random.default_rng(seed)
    height, width = image.shape[:2]
    source = image.astype(np.float32)
    wx, wy = (a.astype(np.float32) for a in _field(motion, height, width, magnitude))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    second = cv2.remap(source, xs - wx, ys - wy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
    first = source + rng.normal(0.0, noise, source.shape)
    second = second * gain + offset + rng.normal(0.0, noise, source.shape)
    return _to_u8(first), _to_u8(second), _true_flow(wx, wy)


def photo_object_pair(image: np.ndarray, magnitude: float = 3.0, seed: int = 0, noise: float = 2.0,
                      gain: float = 1.03, offset: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A moving object over a still background, from a real photograph: the motion boundary
    that :func:`photo_flow_pair`'s smooth fields lack (an actor against a static scene). The
    object is an ellipse of the photograph's own texture taken from elsewhere in it, moved by
    about ``magnitude`` px in a direction set by ``seed``; sensor noise and a brightness change
    as there. The true flow is the displacement inside the object and zero outside, NaN where
    the object covers background in the second frame (occluded: no flow exists there).
    """
    rng = np.random.default_rng(seed)
    height, width = image.shape[:2]
    source = image.astype(np.float32)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = width * rng.uniform(0.35, 0.65), height * rng.uniform(0.35, 0.65)
    rx, ry = width * rng.uniform(0.12, 0.2), height * rng.uniform(0.15, 0.25)
    inside = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0
    mask = cv2.GaussianBlur(inside.astype(np.float32), (3, 3), 0.7)  # an anti-aliased edge
    obj = np.roll(source, (height // 2, width // 2), axis=(0, 1))  # other texture than around it
    angle = rng.uniform(0, 2 * np.pi)
    dx, dy = np.float32(magnitude * np.cos(angle)), np.float32(magnitude * np.sin(angle))
    moved_obj = cv2.remap(obj, xs - dx, ys - dy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
    moved_mask = cv2.remap(mask, xs - dx, ys - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    first = source * (1 - mask) + obj * mask + rng.normal(0.0, noise, source.shape)
    second = (source * (1 - moved_mask) + moved_obj * moved_mask) * gain + offset + rng.normal(0.0, noise, source.shape)
    truth = np.zeros((height, width, 2), np.float32)
    truth[inside] = (dx, dy)
    truth[(moved_mask > 0.5) & ~inside] = np.nan
    return _to_u8(first), _to_u8(second), truth


def endpoint_error(flow: np.ndarray, truth: np.ndarray, border: int = 8) -> float:
    """Mean Euclidean distance between two (H, W, 2) fields, ignoring a border band and the
    pixels where the truth is NaN (occluded)."""
    diff = np.linalg.norm(flow - truth, axis=-1)
    if border and min(diff.shape) > 4 * border:
        diff = diff[border:-border, border:-border]
    return float(np.nanmean(diff))


def boundary_error(flow: np.ndarray, truth: np.ndarray, width: int = 4) -> float:
    """Mean endpoint error within ``width`` px of a motion boundary (where the true flow
    changes), occluded pixels left out: where a smoothing method blurs the object into the
    scene."""
    moving = (np.linalg.norm(np.nan_to_num(truth), axis=-1) > 0).astype(np.uint8)
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    band = (cv2.dilate(moving, kernel) - cv2.erode(moving, kernel)).astype(bool)
    diff = np.linalg.norm(flow - truth, axis=-1)
    return float(np.nanmean(diff[band]))
