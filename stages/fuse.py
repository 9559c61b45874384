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

from twostream.config import as_dict, load_params
from twostream.errors import run_entry_point
from twostream.evaluate import accuracy
from twostream.fusion import average_fusion, fit_fusion_svm
from twostream.runtime import configure_logging
from twostream.scores import ScoreFile, load_scores, save_scores, split_files


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
        raise SystemExit(f"no split scored by both streams in {args.spatial_dir} and {args.temporal_dir}")
    for split in common:
        spatial, temporal = load_scores(spatial_files[split]), load_scores(temporal_files[split])
        spatial_train, temporal_train = (load_scores(args.train_dir / stream / f"split{split}.npz")
                                         for stream in ("spatial", "temporal"))
        for name, a, b in (("test", spatial, temporal), ("training", spatial_train, temporal_train)):
            if not np.array_equal(a.ids, b.ids):
                raise SystemExit(f"split {split}: the streams scored different {name} videos; "
                                 f"rerun `dvc repro`")
        if (spatial_train.meta.get("cell"), temporal_train.meta.get("cell")) != (
                spatial.meta.get("cell"), temporal.meta.get("cell")):
            raise SystemExit(f"split {split}: training scores come from other cells than the test "
                             f"scores; rerun `dvc repro`")
        ids, labels, s_test = spatial.side("test")
        _, train_labels, s_train = spatial_train.side("train")
        t_test, t_train = temporal.side("test")[2], temporal_train.side("train")[2]
        svm, choice = fit_fusion_svm((s_train, t_train), train_labels, fusion.svm_c,
                                     folds=fusion.svm_folds)
        svm_scores = svm.scores(s_test, t_test)
        log.info("split %d: SVM C = %g (cross-validated accuracy per C: %s)", split, choice["C"],
                 {c: round(v, 3) for c, v in choice["validation_accuracy"].items()})
        fused = {"average": average_fusion(s_test, t_test), "svm": svm_scores}
        meta = {"split": split, "fusion": as_dict(fusion), "classes": spatial.meta["classes"],
                "svm": choice,
                "cells": {"spatial": spatial.meta.get("cell", args.spatial_dir.name),
                          "temporal": temporal.meta.get("cell", args.temporal_dir.name)}}
        if args.svm is not None:
            svm.save(args.svm / f"split{split}.npz", **meta)
        for method, scores in fused.items():
            save_scores(args.fused_dir / method / f"split{split}.npz",
                        ScoreFile(ids, labels, np.full(len(ids), "test"), scores, meta))
            log.info("split %d: fusion by %s: %.1f%%", split, method, 100 * accuracy(scores, labels))


if __name__ == "__main__":
    run_entry_point(main)
