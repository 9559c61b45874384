"""Stage `fuse@<part>`: late fusion of the two streams per split, by averaging and by a linear SVM.

    python stages/fuse.py metrics/scores/ucf101/spatial/last_layer-0.5 \
        metrics/scores/ucf101/temporal/multitask metrics/scores/ucf101/fusion_train \
        metrics/scores/ucf101/fused --svm models/ucf101/svm

The fused nets are `fusion.spatial` at the top-level `dropout` and `fusion.temporal` (ucf101) or
`fusion.hmdb_temporal` (hmdb51), as dvc.yaml puts them in the paths; the paper fuses
pre-trained + last layer with the multi-task L=10 flow-stacking net. `--svm DIR` keeps each
split's fitted SVM (split<k>.npz) for `twostream predict`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from twostream.config import load_params
from twostream.errors import run_stage
from twostream.evaluation.late_fusion import PairScores, PairingError, fuse_split
from twostream.evaluation.scores import ScoreFile, load_scores, save_scores, split_files
from twostream.evaluation.scores import accuracy
from twostream.runtime import configure_logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spatial_dir", type=Path, help="the fused spatial cell's test scores")
    parser.add_argument("temporal_dir", type=Path, help="the fused temporal cell's test scores")
    parser.add_argument("train_dir", type=Path,
                        help="{spatial,temporal}/split<k>.npz: the pair's training-video scores")
    parser.add_argument("fused_dir", type=Path, help="split<k>.npz with 'average' and 'svm' (out)")
    parser.add_argument("--svm", type=Path, help="split<k>.npz: the fitted SVM per split (out)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    log = configure_logging("fuse")
    fusion = load_params(args.params).fusion
    spatial_files, temporal_files = split_files(args.spatial_dir), split_files(args.temporal_dir)
    common = sorted(set(spatial_files) & set(temporal_files))
    if not common:
        raise PairingError(f"no split scored by both streams in {args.spatial_dir} and {args.temporal_dir}")
    names = {"spatial": args.spatial_dir.name, "temporal": args.temporal_dir.name}
    for split in common:
        pair = PairScores(load_scores(spatial_files[split]), load_scores(temporal_files[split]),
                          *(load_scores(args.train_dir / s / f"split{split}.npz") for s in names))
        fused = fuse_split(pair, split, fusion, names)
        choice = fused.meta["svm"]
        log.info("split %d: SVM C = %g (cross-validated accuracy per C: %s)", split, choice["C"],
                 {c: round(v, 3) for c, v in choice["validation_accuracy"].items()})
        if not choice["converged"]:
            log.warning("split %d: the SVM at C = %g stopped at liblinear's cap of %d passes before "
                        "converging (training scores the SVM cannot separate): its fit is approximate",
                        split, choice["C"], choice["iterations"])
        if args.svm is not None:
            fused.svm.save(args.svm / f"split{split}.npz", **fused.meta)
        for method, scores in fused.scores.items():
            save_scores(args.fused_dir / method / f"split{split}.npz",
                        ScoreFile(fused.ids, fused.labels, np.full(len(fused.ids), "test"), scores, fused.meta))
            log.info("split %d: fusion by %s: %.1f%%", split, method, 100 * accuracy(scores, fused.labels))


if __name__ == "__main__":
    run_stage(main)
