"""Decode and resize videos: the one place that knows about codecs."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from twostream.errors import UserError


class VideoError(UserError, ValueError):
    """A video cannot be read; the message names the file and why."""


class VideoReader:
    """A video opened for reading frame by frame: memory stays one frame, whatever its length
    or size (a 600-frame 1080p clip held whole took 4.5 GB)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise VideoError(f"{self.path}: video file not found")
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            self._capture.release()
            raise VideoError(f"{self.path}: cannot open (corrupt file or unsupported codec)")
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        # The frame count the container claims (0 if unknown): decoding fewer means truncation.
        self.declared = max(0, int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0))

    def frames(self, short_side: int | None = None) -> Iterator[np.ndarray]:
        """BGR uint8 frames as they decode, each resized to ``short_side`` at once if given."""
        while True:
            ok, frame = self._capture.read()
            if not ok:
                return
            yield frame if short_side is None else resize_short_side(frame, short_side)

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_video(path: str | Path, short_side: int | None = None) -> tuple[list[np.ndarray], float]:
    """All frames (BGR uint8, resized if ``short_side``) and the frame rate, for short clips
    (tests, pictures); stages stream with :class:`VideoReader`. Raises VideoError naming the file."""
    with VideoReader(path) as video:
        frames = list(video.frames(short_side))
    if not frames:
        raise VideoError(f"{path}: no decodable frames (corrupt or empty video)")
    return frames, video.fps


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
