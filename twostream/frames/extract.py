"""Decode every video into a per-video archive of JPEG frames (shorter side rescaled)."""

from __future__ import annotations

import hashlib
from collections import deque
from pathlib import Path

import numpy as np
import pandas as pd

from twostream.config import FramesParams
from twostream.store.fingerprint import code_fingerprint
from twostream.store.pervideo import Job, RunSummary, run_jobs
from twostream.store.zipstore import archive_name, encode_jpeg, frame_member, write_archive
from twostream.frames.video import VideoError, VideoReader

TRUNCATED = 0.9  # fewer decoded frames than this share of the declared count is worth a note
# The code that turns a video into frames: a change to it redoes every archive (not a comment).
FRAMES_CODE = code_fingerprint("twostream.frames.extract", "twostream.frames.video", "twostream.store.zipstore")


def file_digest(path: Path) -> str:
    """Content hash of a source file, so a changed video is re-decoded on resume."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def middle_window(declared: int, max_frames: int) -> tuple[int, int]:
    """Frames [start, stop) of the ``max_frames`` consecutive ones centred in a clip of
    ``declared`` frames (all of them for max_frames 0 or a shorter clip): consecutive, so flow
    stays the paper's frame-to-frame flow; only the clip's ends are cut."""
    if max_frames == 0 or declared <= max_frames:
        return 0, declared if max_frames == 0 else max_frames
    start = (declared - max_frames) // 2
    return start, start + max_frames


def window_frames(video: VideoReader, short_side: int, max_frames: int
                  ) -> tuple[list[np.ndarray], int, int, int]:
    """The resized frames of the clip's middle window, where it starts, how many frames were
    read, and the window's planned end (more than were read: the file is shorter than it
    declares).

    Reading stops at the window's end. If the file holds fewer frames than it declares, the
    last ``max_frames`` decoded ones are kept, so a truncated clip still gives a full window.
    """
    _, stop = middle_window(video.declared, max_frames)
    kept: deque[np.ndarray] = deque(maxlen=max_frames)
    read = 0
    for frame in video.frames(short_side):
        kept.append(frame)
        read += 1
        if read >= stop:
            break
    return list(kept), read - len(kept), read, stop


def decode_to_archive(job: Job) -> str | None:
    """Decode one video, resizing and JPEG-encoding each frame as it is read (memory: one frame
    and the encoded ones; with ``max_frames`` the window's resized frames); fail if it is too
    short to use, note it if it looks truncated."""
    short_side, quality = job.recipe["short_side"], job.recipe["jpeg_quality"]
    max_frames = job.recipe["max_frames"]
    members: dict[str, bytes] = {}
    height = width = first = 0
    with VideoReader(job.source) as video:
        if max_frames:
            frames, first, read, stop = window_frames(video, short_side, max_frames)
            expected = stop if video.declared else read
        else:
            frames = video.frames(short_side)
        for i, frame in enumerate(frames):
            members[frame_member(i)] = encode_jpeg(frame, quality)
            height, width = frame.shape[:2]
    decoded, declared = len(members), video.declared
    if not max_frames:
        read, expected = decoded, declared
    if decoded == 0:
        raise VideoError(f"{job.source}: no decodable frames (corrupt or empty video)")
    min_frames = job.recipe["min_frames"]
    if decoded < min_frames:
        raise VideoError(f"{job.source}: too short: {decoded} decodable frame(s), need at least "
                         f"{min_frames} (frames.min_frames)")
    note = None
    if declared and read < TRUNCATED * min(declared, expected):
        note = (f"decoded {read} of the {declared} frames the file declares (truncated or "
                f"damaged?); the decoded frames are used")
    write_archive(job.target, members, {"recipe": job.recipe, "n_frames": decoded, "fps": video.fps,
                                        "height": height, "width": width,
                                        "source": str(job.source), "declared_frames": declared,
                                        "first_frame": first})
    return note


def extract_frames(table: pd.DataFrame, raw_root: Path, out_dir: Path,
                   params: FramesParams) -> RunSummary:
    """Decode the table's videos from ``raw_root`` into ``out_dir/<id>.zip``."""
    jobs = []
    for video_id, rel in zip(table["id"], table["path"]):
        source = raw_root / rel
        recipe = {"short_side": params.short_side, "jpeg_quality": params.jpeg_quality,
                  "min_frames": params.min_frames, "max_frames": params.max_frames, "code": FRAMES_CODE,
                  "source_digest": file_digest(source) if source.is_file() else None}
        jobs.append(Job(video_id, source, out_dir / archive_name(video_id), recipe))
    return run_jobs(jobs, decode_to_archive, out_dir, params.workers, "frames")
