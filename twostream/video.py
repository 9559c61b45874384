"""Decode and resize videos: the one place that knows about codecs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from twostream.errors import UserError


class VideoError(UserError, ValueError):
    """A video cannot be read; the message names the file and why."""


def read_video(path: str | Path) -> tuple[list[np.ndarray], float]:
    """All frames (BGR uint8) and the frame rate. Raises VideoError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: video file not found")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise VideoError(f"{path}: cannot open (corrupt file or unsupported codec)")
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        frames: list[np.ndarray] = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        capture.release()
    if not frames:
        raise VideoError(f"{path}: no decodable frames (corrupt or empty video)")
    return frames, fps


def declared_frame_count(path: str | Path) -> int:
    """The frame count the container claims (0 if unknown): decoding fewer means truncation."""
    capture = cv2.VideoCapture(str(path))
    try:
        return max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)) if capture.isOpened() else 0
    finally:
        capture.release()


def resize_short_side(frame: np.ndarray, short_side: int) -> np.ndarray:
    """Rescale so the shorter side equals ``short_side``, keeping the aspect ratio."""
    height, width = frame.shape[:2]
    scale = short_side / min(height, width)
    if scale == 1.0:
        return frame
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(frame, size, interpolation=interpolation)


def write_video(path: str | Path, frames: Sequence[np.ndarray], fps: float) -> None:
    """Write BGR frames as a Motion-JPEG AVI, atomically (a temp file then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.avi")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise VideoError(f"{path}: OpenCV cannot open an MJPG AVI writer")
    try:
        for frame in frames:
            writer.write(np.ascontiguousarray(frame))
    finally:
        writer.release()
    os.replace(tmp, path)
