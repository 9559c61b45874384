"""Stage `fuse`: late fusion of the two streams per split, by averaging and by a linear SVM.

    python stages/fuse.py metrics/scores/spatial metrics/scores/temporal metrics/scores/fused
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from twostream.config import as_dict, load_params
from twostream.evaluate import accuracy
from twostream.fusion import average_fusion, svm_fusion
from twostream.runtime import configure_logging
from twostream.scores import ScoreFile, load_scores, save_scores, split_files


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spatial_dir", type=Path)
    parser.add_argument("temporal_dir", type=Path)
    parser.add_argument("fused_dir", type=Path, help="split<k>.npz with 'average' and 'svm' (out)")
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
        if not np.array_equal(spatial.ids, temporal.ids):
            raise SystemExit(f"split {split}: the streams scored different videos; rerun evaluate")
        ids, labels, s_test = spatial.side("test")
        _, train_labels, s_train = spatial.side("train")
        t_test, t_train = temporal.side("test")[2], temporal.side("train")[2]
        fused = {"average": average_fusion(s_test, t_test),
                 "svm": svm_fusion((s_train, t_train), train_labels, (s_test, t_test), fusion.svm_c)}
        meta = {"split": split, "fusion": as_dict(fusion), "classes": spatial.meta["classes"]}
        for method, scores in fused.items():
            save_scores(args.fused_dir / method / f"split{split}.npz",
                        ScoreFile(ids, labels, np.full(len(ids), "test"), scores, meta))
            log.info("split %d: fusion by %s: %.1f%%", split, method, 100 * accuracy(scores, labels))


if __name__ == "__main__":
    main()
