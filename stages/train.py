"""Stage `train_spatial` / `train_temporal`: train one stream per split in `run.splits`.

    python stages/train.py spatial data/frames data/splits.csv models/spatial metrics/train/spatial
    python stages/train.py temporal data/flow data/splits.csv models/temporal metrics/train/temporal
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
from dvclive import Live

from twostream.config import load_params
from twostream.fit import fit_split
from twostream.runtime import configure_logging, pick_device
from twostream.splits import load_table
from twostream.streams import STREAMS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stream", choices=STREAMS)
    parser.add_argument("data_dir", type=Path, help="data/frames (spatial) or data/flow (temporal)")
    parser.add_argument("splits_csv", type=Path)
    parser.add_argument("models_dir", type=Path, help="split<k>.pt per split (out)")
    parser.add_argument("live_dir", type=Path, help="dvclive training curves (out)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--checkpoints", type=Path, default=Path("tmp/checkpoints"),
                        help="resume state, kept outside DVC's outs so a killed run resumes")
    args = parser.parse_args(argv)
    configure_logging(f"train_{args.stream}")
    params = load_params(args.params)
    table = load_table(args.splits_csv)
    device = pick_device()
    args.models_dir.mkdir(parents=True, exist_ok=True)
    for split in params.run.splits:
        with Live(str(args.live_dir / f"split{split}"), dvcyaml=False, save_dvc_exp=False) as live:
            payload = fit_split(args.stream, params, table, args.splits_csv, split, args.data_dir,
                                args.checkpoints / args.stream, device, live)
        target = args.models_dir / f"split{split}.pt"
        torch.save(payload, target.with_suffix(".tmp"))
        os.replace(target.with_suffix(".tmp"), target)
        (args.checkpoints / args.stream / f"split{split}.pt").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
