"""Decode every video into a per-video archive of JPEG frames (shorter side rescaled)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from twostream.config import FramesParams
from twostream.fingerprint import code_fingerprint
from twostream.pervideo import Job, RunSummary, run_jobs
from twostream.store import archive_name, encode_jpeg, frame_member, write_archive
from twostream.video import VideoError, VideoReader

TRUNCATED = 0.9  # fewer decoded frames than this share of the declared count is worth a note
# The code that turns a video into frames: a change to it redoes every archive (not a comment).
FRAMES_CODE = code_fingerprint("twostream.frames", "twostream.video", "twostream.store")


def file_digest(path: Path) -> str:
    """Content hash of a source file, so a changed video is re-decoded on resume."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def decode_to_archive(job: Job) -> str | None:
    """Decode one video, resizing and JPEG-encoding each frame as it is read (memory: one frame
    and the encoded ones); fail if it is too short to use, note it if it looks truncated."""
    short_side, quality = job.recipe["short_side"], job.recipe["jpeg_quality"]
    members: dict[str, bytes] = {}
    height = width = 0
    with VideoReader(job.source) as video:
        for i, frame in enumerate(video.frames(short_side)):
            members[frame_member(i)] = encode_jpeg(frame, quality)
            height, width = frame.shape[:2]
    decoded, declared = len(members), video.declared
    if decoded == 0:
        raise VideoError(f"{job.source}: no decodable frames (corrupt or empty video)")
    min_frames = job.recipe["min_frames"]
    if decoded < min_frames:
        raise VideoError(f"{job.source}: too short: {decoded} decodable frame(s), need at least "
                         f"{min_frames} (frames.min_frames)")
    note = None
    if declared and decoded < TRUNCATED * declared:
        note = (f"decoded {decoded} of the {declared} frames the file declares (truncated or "
                f"damaged?); the decoded frames are used")
    write_archive(job.target, members, {"recipe": job.recipe, "n_frames": decoded, "fps": video.fps,
                                        "height": height, "width": width,
                                        "source": str(job.source), "declared_frames": declared})
    return note


def extract_frames(table: pd.DataFrame, raw_root: Path, out_dir: Path,
                   params: FramesParams) -> RunSummary:
    """Decode the table's videos from ``raw_root`` into ``out_dir/<id>.zip``."""
    jobs = []
    for video_id, rel in zip(table["id"], table["path"]):
        source = raw_root / rel
        recipe = {"short_side": params.short_side, "jpeg_quality": params.jpeg_quality,
                  "min_frames": params.min_frames, "code": FRAMES_CODE,
                  "source_digest": file_digest(source) if source.is_file() else None}
        jobs.append(Job(video_id, source, out_dir / archive_name(video_id), recipe))
    return run_jobs(jobs, decode_to_archive, out_dir, params.workers, "frames")
