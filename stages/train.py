"""Stage `train_spatial_ucf101@<setting>-<dropout>`, `train_temporal_ucf101@<input>` (Table 1, ucf101 part),
`train_temporal_hmdb51_<row>` and `train_temporal_multitask` (Table 2), `train_spatial_hmdb51`: train one cell
of one stream per split in `run.splits`.

    python stages/train.py spatial last_layer-0.5 --data ucf101 data/ucf101/frames \
        data/ucf101/splits.csv --out ucf101 models/ucf101/spatial/last_layer-0.5 \
        --live metrics/train/ucf101/spatial/last_layer-0.5
    python stages/train.py temporal multitask \
        --data ucf101 data/ucf101/flow data/ucf101/splits.csv \
        --data hmdb51 data/hmdb51/flow data/hmdb51/splits.csv \
        --out ucf101 models/ucf101/temporal/multitask --out hmdb51 models/hmdb51/temporal/multitask \
        --live metrics/train/multitask

Each `--out` part gets a model file per split holding the trunk and that part's own class rows,
so every later stage reads it as a single-head net. `--init DIR` starts from DIR/split<k>.pt
(Table 2's "fine-tuned from UCF-101"). Multi-GPU / multi-node: the same command under
`torchrun --nproc_per_node N` (DDP).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from twostream.cells import SPATIAL_SETTINGS, TABLE2_ROWS
from twostream.config import ROLES, ParamsError, load_params
from twostream.training.curves import TrainingCurves
from twostream.training.distributed import join, leave
from twostream.errors import run_stage
from twostream.training.fit import PartData, fit_split
from twostream.models import WeightsError
from twostream.runtime import configure_logging, pick_device
from twostream.datasets.splits import SplitError, load_table
from twostream.streams import STREAMS, cell


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stream", choices=STREAMS)
    parser.add_argument("cell", help="a Table 1a cell <setting>-<dropout> (settings: "
                                     f"{', '.join(SPATIAL_SETTINGS)}), a table1b name or a "
                                     f"Table 2 row ({', '.join(TABLE2_ROWS)})")
    parser.add_argument("--data", nargs=3, action="append", required=True,
                        metavar=("PART", "DATA_DIR", "SPLITS_CSV"),
                        help="a dataset part, its frames (spatial) or flow (temporal), its split table")
    parser.add_argument("--out", nargs=2, action="append", required=True, metavar=("PART", "DIR"),
                        help="split<k>.pt per split of the net as that part's classifier (out)")
    parser.add_argument("--live", type=Path, required=True, help="dvclive training curves (out)")
    parser.add_argument("--frames", nargs=2, action="append", default=[], metavar=("PART", "DIR"),
                        help="temporal: a part's frames archives, read by nets on RGB differences")
    parser.add_argument("--init", type=Path, help="start from DIR/split<k>.pt's trunk")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--checkpoints", type=Path, default=Path("tmp/checkpoints"),
                        help="resume state, kept outside DVC's outs so a killed run resumes")
    args = parser.parse_args(argv)
    outs = {part: Path(folder) for part, folder in args.out}
    log = configure_logging(f"train_{args.stream}@{args.cell}")
    params = load_params(args.params)
    frames = {part: Path(folder) for part, folder in args.frames}
    for part in [p for p, *_ in args.data] + list(outs) + list(frames):
        if part not in ROLES:
            parser.error(f"dataset part {part!r}: must be one of {list(ROLES)}")
    try:
        chosen = cell(params, args.stream, args.cell, next(iter(outs)))
        data = {part: PartData(load_table(csv), Path(csv), Path(folder), frames.get(part))
                for part, folder, csv in args.data}
    except (ParamsError, SplitError) as err:
        raise SystemExit(f"{args.params}: {err}") from None
    world = join()
    device = world.device() if world.active else pick_device()
    checkpoints = args.checkpoints / args.stream / "+".join(outs) / args.cell
    for folder in outs.values():
        folder.mkdir(parents=True, exist_ok=True)
    if world.main and args.live.is_dir():  # it persists: curves of splits not run go
        for stale in args.live.glob("split*"):
            if stale.name not in {f"split{s}" for s in params.run.splits}:
                shutil.rmtree(stale)
    try:
        for split in params.run.splits:
            live = TrainingCurves(args.live / f"split{split}") if world.main else None
            init = args.init / f"split{split}.pt" if args.init else None
            try:
                payloads = fit_split(chosen, params.run.seed, data, split, checkpoints, device, live, world,
                                     init)
            except WeightsError as err:
                raise SystemExit(f"{args.params}: {err}") from None
            finally:
                if live is not None:
                    live.end()
            if world.main:
                for part, folder in outs.items():
                    if part not in payloads:
                        raise SystemExit(f"--out {part}: cell {args.cell} has no {part} classifier "
                                         f"(it has {sorted(payloads)})")
                    target = folder / f"split{split}.pt"
                    payloads[part].save(target)
                    log.info("saved %s", target)
                (checkpoints / f"split{split}.pt").unlink(missing_ok=True)
            world.barrier()
    finally:
        leave(world)


if __name__ == "__main__":
    run_stage(main)
