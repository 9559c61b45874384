"""Peak memory of decoding one long, large video into a frames archive, and of `predict`'s
frames step, before and after streaming decode.

    python bench/memory.py                  # a generated 600-frame 1920x1080 clip
    python bench/memory.py --frames 3000    # a two-minute 1080p clip at 25 fps

Each method runs in its own process (its peak RSS is its own): ``all frames held`` is the old
decode (every full-size frame in a list, then resized), ``streaming`` is the frames stage's
decode_to_archive (each frame resized and JPEG-encoded as it is read). Prints a table and
appends it to bench/RESULTS.md (--no-append to skip).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from results import report

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("all frames held", "streaming")


def make_clip(path: Path, frames: int, width: int, height: int) -> None:
    """A textured clip that moves, written frame by frame (MJPG AVI, as the embedded datasets)."""
    import cv2

    rng = np.random.default_rng(0)
    scene = cv2.resize(rng.integers(0, 255, (height // 8, width // 8 + frames, 3), np.uint8),
                       (width + frames * 8, height), interpolation=cv2.INTER_LINEAR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (width, height))
    for t in range(frames):
        writer.write(np.ascontiguousarray(scene[:, t * 8:t * 8 + width]))
    writer.release()


def run_one(method: str, clip: Path, short_side: int) -> dict[str, float]:
    from twostream.frames.extract import decode_to_archive
    from twostream.store.pervideo import Job
    from twostream.store.zipstore import encode_jpeg
    from twostream.frames.video import read_video, resize_short_side

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if method == "streaming":
            decode_to_archive(Job("clip", clip, Path(tmp) / "clip.zip",
                                  {"short_side": short_side, "jpeg_quality": 90, "min_frames": 2}))
        else:  # the decode before streaming: every full-size frame first, then resize and encode
            frames, _ = read_video(clip)
            encoded = [encode_jpeg(resize_short_side(f, short_side), 90) for f in frames]
            assert encoded
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--short-side", type=int, default=256)
    parser.add_argument("--no-append", action="store_true")
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "CLIP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], Path(args.one[1]), args.short_side)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "long.avi"
        make_clip(clip, args.frames, args.width, args.height)
        size_mb = clip.stat().st_size / 2**20
        baseline = json.loads(subprocess.run(
            [sys.executable, "-c", "import json, resource, twostream.frames.extract; print(json.dumps("
             "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))"],
            capture_output=True, text=True, check=True, cwd=ROOT).stdout)
        results = {}
        for method in METHODS:
            out = subprocess.run([sys.executable, __file__, "--one", method, str(clip),
                                  "--short-side", str(args.short_side)],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            results[method] = json.loads(out.stdout.strip().splitlines()[-1])
    lines = [f"### decoding one {args.width}x{args.height} clip of {args.frames} frames to a frames "
             f"archive, short side {args.short_side} ({datetime.date.today()})", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores; clip {size_mb:.0f} MB (MJPG); "
             f"a process that only imports twostream.frames.extract peaks at {baseline:.0f} MB", "",
             "| method | peak RSS (MB) | above the import (MB) | seconds |", "|---|---|---|---|"]
    for method, r in results.items():
        lines.append(f"| {method} | {r['peak_mb']:.0f} | {r['peak_mb'] - baseline:.0f} | "
                     f"{r['seconds']:.1f} |")
    report(lines, append=not args.no_append)


if __name__ == "__main__":
    main()
