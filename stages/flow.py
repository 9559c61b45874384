"""Stage `flow`: dense optical flow per video, clipped, quantised and stored as JPEG.

    python stages/flow.py data/frames data/splits.csv data/flow
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twostream.config import load_params
from twostream.flow.extract import extract_flow
from twostream.runtime import configure_logging
from twostream.splits import load_table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("frames_dir", type=Path)
    parser.add_argument("splits_csv", type=Path)
    parser.add_argument("flow_dir", type=Path, help="<id>.zip per video (out)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    log = configure_logging("flow")
    params = load_params(args.params)
    table = load_table(args.splits_csv)
    result = extract_flow(table, args.frames_dir, args.flow_dir, params.flow)
    result.finish(log, f"flow ({params.flow.backend})", args.flow_dir, len(table))


if __name__ == "__main__":
    main()
