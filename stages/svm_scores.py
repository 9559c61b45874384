"""Stage `svm_scores_spatial@<part>` / `svm_scores_temporal@<part>`: the fused pair's scores on
each split's training videos, which the fusion SVM learns from (Tables 3-4).

    python stages/svm_scores.py spatial last_layer-0.5 --part ucf101 \
        --model models/ucf101/spatial/last_layer-0.5 \
        --data ucf101 data/ucf101/frames data/ucf101/splits.csv \
        --out metrics/scores/ucf101/fusion_train/spatial

`fusion.svm_scores` says which nets score them: `trainset`, the fused net itself (`--model`;
it trained on those videos, so its scores are near-perfect and the SVM sees little of its test
behaviour); `out_of_fold`, `fusion.cross_fits` nets per split, each trained as the fused net is
(same cell, params and seed) with one fold of whole groups held out and scoring that fold; or
`held_out`, the first of those nets only, so the SVM learns from one fold's videos. `--data`,
`--frames` and `--init` are what the cell's train stage reads (every part's, for the nets that
learn from both).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twostream.config import ROLES, ParamsError, load_params
from twostream.datasets.splits import SplitError, load_table
from twostream.errors import run_stage
from twostream.evaluation.cross_fit import cross_fit_scores
from twostream.evaluation.score_model import score_model
from twostream.evaluation.scores import ScoreFile, save_scores
from twostream.evaluation.scores import accuracy
from twostream.models import WeightsError
from twostream.models.model_file import ModelFile
from twostream.runtime import configure_logging, pick_device
from twostream.streams import STREAMS, cell
from twostream.training.fit import PartData


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stream", choices=STREAMS)
    parser.add_argument("cell", help="the fused cell, as its train stage names it")
    parser.add_argument("--part", required=True, choices=ROLES, help="the part whose videos are scored")
    parser.add_argument("--model", type=Path, required=True,
                        help="the fused net's split<k>.pt (scores the training videos under trainset)")
    parser.add_argument("--data", nargs=3, action="append", required=True,
                        metavar=("PART", "DATA_DIR", "SPLITS_CSV"),
                        help="a dataset part, its frames (spatial) or flow (temporal), its split table")
    parser.add_argument("--frames", nargs=2, action="append", default=[], metavar=("PART", "DIR"),
                        help="temporal: a part's frames archives, read by nets on RGB differences")
    parser.add_argument("--init", type=Path, help="the net a fine-tuned row starts from (DIR/split<k>.pt)")
    parser.add_argument("--out", type=Path, required=True, help="split<k>.npz per split (out)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--checkpoints", type=Path, default=Path("tmp/checkpoints"),
                        help="the fold nets' resume state, kept outside DVC's outs")
    args = parser.parse_args(argv)
    log = configure_logging(f"svm_scores_{args.stream}@{args.part}")
    params = load_params(args.params)
    mode = params.fusion.svm_scores
    frames = {part: Path(folder) for part, folder in args.frames}
    try:
        data = {part: PartData(load_table(csv), Path(csv), Path(folder), frames.get(part))
                for part, folder, csv in args.data}
        chosen = cell(params, args.stream, args.cell, args.part)
    except (ParamsError, SplitError) as err:
        raise SystemExit(f"{args.params}: {err}") from None
    if args.part not in data:
        parser.error(f"--part {args.part}: give its data with --data {args.part} DIR SPLITS_CSV")
    device = pick_device()
    own = data[args.part]
    for split in params.run.splits:
        if mode == "trainset":
            saved = ModelFile.load(args.model / f"split{split}.pt", args.stream)
            rows = own.table[own.table[f"split{split}"] == "train"].reset_index(drop=True)
            scores, meta = score_model(saved, rows, own.data_dir, own.frames_dir, params.evaluate,
                                       device, log, args.model.name)
            meta["svm_scores"] = {"mode": mode}
        else:
            init = (args.init / f"split{split}.pt") if args.init and chosen.init_from else None
            try:
                rows, scores, meta = cross_fit_scores(
                    chosen, args.part, data, split, params.run.seed, params.fusion.cross_fits,
                    mode == "held_out", params.evaluate, device, init,
                    args.checkpoints / "svm_scores" / args.stream / args.part / args.cell, log)
            except WeightsError as err:
                raise SystemExit(f"{args.params}: {err}") from None
        labels = rows["label"].to_numpy()
        save_scores(args.out / f"split{split}.npz",
                    ScoreFile(rows["id"].to_numpy(), labels, rows[f"split{split}"].to_numpy(), scores, meta))
        log.info("%s %s split %d (%s): accuracy %.1f%% over %d training videos", args.stream, args.cell,
                 split, mode, 100 * accuracy(scores, labels), len(rows))


if __name__ == "__main__":
    run_stage(main)
