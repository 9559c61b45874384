"""Stage `frames`: decode every video into one archive of JPEG frames per video.

    python stages/frames.py data/ucf101/raw data/ucf101/splits.csv data/ucf101/frames
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twostream.config import load_params
from twostream.errors import run_stage
from twostream.frames.extract import extract_frames
from twostream.store.pervideo import MachineError
from twostream.runtime import configure_logging
from twostream.datasets.splits import load_table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("splits_csv", type=Path)
    parser.add_argument("frames_dir", type=Path, help="<id>.zip per video (out)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    log = configure_logging("frames")
    params = load_params(args.params)
    table = load_table(args.splits_csv)
    real = [d for d in (params.datasets.ucf101, params.datasets.hmdb51) if not d.startswith("synthetic")]
    if real and params.frames.short_side != 256:
        log.warning("frames.short_side=%d departs from the paper's 256 for %s (set -S "
                    "frames.short_side=256 for the paper's protocol)", params.frames.short_side,
                    " and ".join(real))
    try:
        result = extract_frames(table, args.raw_dir, args.frames_dir, params.frames)
    except MachineError as err:
        raise SystemExit(f"frames: {err}") from None
    result.finish(log, "frames", args.frames_dir, len(table))


if __name__ == "__main__":
    run_stage(main)
