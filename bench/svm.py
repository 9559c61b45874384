"""What the fuse stage's Crammer-Singer SVM costs as the training videos grow, on scores it can
and cannot separate, and what running its cross-validation fits in parallel buys.

    python bench/svm.py                                  # 1,000 and 3,000 videos, 101 classes
    python bench/svm.py --videos 9537 --regimes trained  # UCF-101 split 1's training videos

The scores are generated, not a net's: each stream's softmax over ``--classes`` classes of
``strength * onehot(label) + N(0, 1)`` logits, the two streams with independent noise.
``chance`` (strength 0) stands for barely trained nets (bench/scale.py's), ``partial``
(strength 3) for nets right on about half their training videos, ``trained`` (strength 6) for
nets that fit their training set, as real ones do; the table gives each stream's measured
training accuracy. Timed: one fit per C of
params.yaml's ``fusion.svm_c`` on all videos (seconds, liblinear passes, converged before its
100,000-pass cap), then the C choice by ``fusion.svm_folds``-fold cross-validation with one
process and with one per core, side by side. Prints tables and appends them to
bench/RESULTS.md (--no-append to skip).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
import warnings

import numpy as np
import sklearn
from results import report
from sklearn.exceptions import ConvergenceWarning

from twostream.config import load_params
from twostream.evaluation.fusion import (
    CRAMMER_SINGER_MAX_ITER,
    choose_svm_c,
    crammer_singer_svm,
    svm_features,
)

REGIMES = {"chance": 0.0, "partial": 3.0, "trained": 6.0}


def generated_scores(videos: int, classes: int, strength: float, seed: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two streams' softmax scores and the labels (classes as balanced as ``videos`` allows)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(videos) % classes
    streams = []
    for _ in range(2):
        logits = rng.normal(size=(videos, classes))
        logits[np.arange(videos), labels] += strength
        logits -= logits.max(axis=1, keepdims=True)
        soft = np.exp(logits)
        streams.append(soft / soft.sum(axis=1, keepdims=True))
    return streams[0], streams[1], labels


def timed_fit(features: np.ndarray, labels: np.ndarray, c: float) -> dict[str, float]:
    svm = crammer_singer_svm(c, seed=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        svm.fit(features, labels)
    passes = int(np.max(svm.n_iter_))
    return {"seconds": time.perf_counter() - start, "passes": passes,
            "converged": passes < CRAMMER_SINGER_MAX_ITER,
            "train_acc": float(np.mean(svm.predict(features) == labels))}


def timed_choice(features: np.ndarray, labels: np.ndarray, candidates: tuple[float, ...],
                 folds: int, workers: int) -> tuple[float, float]:
    start = time.perf_counter()
    chosen, _ = choose_svm_c(features, labels, candidates, folds, seed=0, workers=workers)
    return time.perf_counter() - start, chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--classes", type=int, default=101)
    parser.add_argument("--regimes", nargs="+", choices=sorted(REGIMES), default=sorted(REGIMES))
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--no-cv", action="store_true", help="skip the cross-validation timing")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    fusion = load_params(args.params).fusion
    candidates, folds = tuple(fusion.svm_c), fusion.svm_folds
    cores = len(os.sched_getaffinity(0))
    fits = ["| scores | videos | stream train acc | C | seconds | passes | converged | SVM train acc |",
            "|---|---|---|---|---|---|---|---|"]
    choices = [f"| scores | videos | 1 process (s) | {cores} processes (s) | speed-up | same C |",
               "|---|---|---|---|---|---|"]
    for regime in args.regimes:
        for videos in args.videos:
            s, t, labels = generated_scores(videos, args.classes, REGIMES[regime], seed=videos)
            stream_acc = np.mean([np.mean(x.argmax(1) == labels) for x in (s, t)])
            features = svm_features(s, t)
            for c in candidates:
                r = timed_fit(features, labels, c)
                fits.append(f"| {regime} | {videos:,} | {100 * stream_acc:.1f}% | {c:g} | "
                            f"{r['seconds']:.2f} | {r['passes']:,} | {'yes' if r['converged'] else 'no'} | "
                            f"{100 * r['train_acc']:.1f}% |")
                print(fits[-1], flush=True)
            if not args.no_cv:
                one, c_one = timed_choice(features, labels, candidates, folds, workers=1)
                every, c_every = timed_choice(features, labels, candidates, folds, workers=0)
                choices.append(f"| {regime} | {videos:,} | {one:.1f} | {every:.1f} | {one / every:.2f}x | "
                               f"{'yes' if c_one == c_every else f'no ({c_one:g} vs {c_every:g})'} |")
                print(choices[-1], flush=True)
    lines = [f"### the fusion SVM's cost by training videos and separability ({datetime.date.today()})", "",
             (f"bench/svm.py on {platform.machine()}, {cores} cores, scikit-learn {sklearn.__version__}; "
              f"generated scores of {args.classes} classes (see the script); C among {list(candidates)}, "
              f"{folds}-fold cross-validation"), "", *fits]
    if not args.no_cv:
        lines += ["", f"Choosing C ({len(candidates)} C x {folds} folds, fits in parallel processes):",
                  "", *choices]
    report(lines, append=not args.no_append)


if __name__ == "__main__":
    main()
