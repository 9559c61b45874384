"""Stage `evaluate_spatial_ucf101@<cell>` / `evaluate_temporal_ucf101@<cell>`: score every video of each trained split
with the test protocol (frames x crops): its test videos (`--sides test`), or for the fused pair
its training videos, which SVM fusion learns from (`--sides train`).

    python stages/evaluate.py spatial data/ucf101/frames data/ucf101/splits.csv \
        models/ucf101/spatial/last_layer-0.5 metrics/scores/ucf101/spatial/last_layer-0.5
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from twostream.config import load_params
from twostream.datasets.splits import load_table
from twostream.errors import run_stage
from twostream.evaluation.score_model import score_model
from twostream.evaluation.scores import ScoreFile, save_scores
from twostream.evaluation.scores import accuracy
from twostream.models.model_file import ModelFile
from twostream.runtime import configure_logging, pick_device
from twostream.streams import STREAMS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stream", choices=STREAMS)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("splits_csv", type=Path)
    parser.add_argument("models_dir", type=Path)
    parser.add_argument("scores_dir", type=Path, help="split<k>.npz per split (out)")
    parser.add_argument("--sides", default="test", choices=("test", "train", "train,test"),
                        help="which videos to score: every Table 1 cell needs its test videos; "
                             "the SVM learns from the fused pair's training videos")
    parser.add_argument("--frames", type=Path,
                        help="temporal: the frames archives, read by nets on RGB differences")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    log: logging.Logger = configure_logging(f"evaluate_{args.stream}")
    protocol = load_params(args.params).evaluate
    table = load_table(args.splits_csv)
    device = pick_device()
    models = sorted(args.models_dir.glob("split*.pt"))
    if not models:
        raise SystemExit(f"{args.models_dir}: no split<k>.pt model files; run train_{args.stream}")
    for model_file in models:
        saved = ModelFile.load(model_file, args.stream)
        split = saved.split
        rows = table[table[f"split{split}"].isin(args.sides.split(","))].reset_index(drop=True)
        scores, meta = score_model(saved, rows, args.data_dir, args.frames, protocol, device, log,
                                   args.models_dir.name)
        subset = rows[f"split{split}"].to_numpy()
        labels = rows["label"].to_numpy()
        save_scores(args.scores_dir / f"split{split}.npz",
                    ScoreFile(rows["id"].to_numpy(), labels, subset, scores, meta))
        for side in args.sides.split(","):
            chosen = subset == side
            log.info("%s %s split %d: %s accuracy %.1f%% over %d videos", args.stream,
                     args.models_dir.name, split, side, 100 * accuracy(scores[chosen], labels[chosen]),
                     int(chosen.sum()))


if __name__ == "__main__":
    run_stage(main)
