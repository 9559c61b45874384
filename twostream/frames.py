"""Decode every video into a per-video archive of JPEG frames (shorter side rescaled)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from twostream.config import FramesParams
from twostream.pervideo import Job, RunSummary, run_jobs
from twostream.store import archive_name, encode_jpeg, frame_member, write_archive
from twostream.video import VideoError, declared_frame_count, read_video, resize_short_side

TRUNCATED = 0.9  # fewer decoded frames than this share of the declared count is worth a note


def file_digest(path: Path) -> str:
    """Content hash of a source file, so a changed video is re-decoded on resume."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def decode_to_archive(job: Job) -> str | None:
    """Decode one video; fail if it is too short to use, note it if it looks truncated."""
    frames, fps = read_video(job.source)
    min_frames = job.recipe["min_frames"]
    if len(frames) < min_frames:
        raise VideoError(f"{job.source}: too short: {len(frames)} decodable frame(s), need at least "
                         f"{min_frames} (frames.min_frames)")
    declared = declared_frame_count(job.source)
    note = None
    if declared and len(frames) < TRUNCATED * declared:
        note = (f"decoded {len(frames)} of the {declared} frames the file declares (truncated or "
                f"damaged?); the decoded frames are used")
    short_side, quality = job.recipe["short_side"], job.recipe["jpeg_quality"]
    frames = [resize_short_side(f, short_side) for f in frames]
    members = {frame_member(i): encode_jpeg(f, quality) for i, f in enumerate(frames)}
    height, width = frames[0].shape[:2]
    write_archive(job.target, members, {"recipe": job.recipe, "n_frames": len(frames), "fps": fps,
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
                  "min_frames": params.min_frames,
                  "source_digest": file_digest(source) if source.is_file() else None}
        jobs.append(Job(video_id, source, out_dir / archive_name(video_id), recipe))
    return run_jobs(jobs, decode_to_archive, out_dir, params.workers, "frames")
