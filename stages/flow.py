"""Stage `flow`: dense optical flow per video, clipped, quantised and stored as JPEG.

    python stages/flow.py data/frames data/splits.csv data/flow
    torchrun --nnodes N --nproc_per_node G stages/flow.py data/frames data/splits.csv data/flow

Under torchrun each rank computes its own deterministic shard of the videos (rank, rank +
world, ...) on GPU LOCAL_RANK when there is one; rerun without torchrun (or with any other
world size) and finished videos are skipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twostream.config import load_params
from twostream.errors import run_stage
from twostream.flow.extract import extract_flow
from twostream.store.pervideo import MachineError
from twostream.runtime import configure_logging, torchrun_shard
from twostream.datasets.splits import load_table


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
    rank, world = torchrun_shard()
    if world > 1:
        log.info("rank %d of %d: computing every %d-th video from the %d-th", rank, world, world, rank)
    try:
        result = extract_flow(table, args.frames_dir, args.flow_dir, params.flow, shard=(rank, world))
    except MachineError as err:
        raise SystemExit(f"flow: {err}") from None
    result.finish(log, "flow", args.flow_dir, len(table[rank::world]))


if __name__ == "__main__":
    run_stage(main)
