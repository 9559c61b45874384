"""Stage `train_spatial@<setting>-<dropout>` / `train_temporal@<input>`: train one Table 1 cell
of one stream per split in `run.splits`.

    python stages/train.py spatial last_layer-0.5 data/frames data/splits.csv \\
        models/spatial/last_layer-0.5 metrics/train/spatial/last_layer-0.5
    python stages/train.py temporal flow10_sub data/flow data/splits.csv \\
        models/temporal/flow10_sub metrics/train/temporal/flow10_sub

Multi-GPU / multi-node: the same command under `torchrun --nproc_per_node N` (DDP).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
from dvclive import Live

from twostream.config import ParamsError, load_params
from twostream.distributed import join, leave
from twostream.fit import fit_split
from twostream.models import WeightsError
from twostream.runtime import configure_logging, pick_device
from twostream.splits import load_table
from twostream.streams import STREAMS, cell


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stream", choices=STREAMS)
    parser.add_argument("cell", help="a Table 1a cell <setting>-<dropout> or a table1b name")
    parser.add_argument("data_dir", type=Path, help="data/frames (spatial) or data/flow (temporal)")
    parser.add_argument("splits_csv", type=Path)
    parser.add_argument("models_dir", type=Path, help="split<k>.pt per split (out)")
    parser.add_argument("live_dir", type=Path, help="dvclive training curves (out)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--checkpoints", type=Path, default=Path("tmp/checkpoints"),
                        help="resume state, kept outside DVC's outs so a killed run resumes")
    args = parser.parse_args(argv)
    log = configure_logging(f"train_{args.stream}@{args.cell}")
    params = load_params(args.params)
    try:
        chosen = cell(params, args.stream, args.cell)
    except ParamsError as err:
        raise SystemExit(f"{args.params}: {err}") from None
    table = load_table(args.splits_csv)
    world = join()
    device = world.device() if world.active else pick_device()
    args.models_dir.mkdir(parents=True, exist_ok=True)
    try:
        for split in params.run.splits:
            live = (Live(str(args.live_dir / f"split{split}"), dvcyaml=False, save_dvc_exp=False)
                    if world.main else None)
            try:
                payload = fit_split(chosen, params, table, args.splits_csv, split, args.data_dir,
                                    args.checkpoints / args.stream / args.cell, device, live, world)
            except WeightsError as err:
                raise SystemExit(f"{args.params}: {err}") from None
            finally:
                if live is not None:
                    live.end()
                    # Its metrics.json repeats the last logged step (report makes the metrics);
                    # dropped so that `dvc plots show` over metrics/train finds curves only.
                    Path(live.metrics_file).unlink(missing_ok=True)
            if world.main:
                target = args.models_dir / f"split{split}.pt"
                torch.save(payload, target.with_suffix(".tmp"))
                os.replace(target.with_suffix(".tmp"), target)
                (args.checkpoints / args.stream / args.cell / f"split{split}.pt").unlink(missing_ok=True)
                log.info("saved %s", target)
            world.barrier()
    finally:
        leave(world)


if __name__ == "__main__":
    main()
