"""Late fusion of the two streams' class scores: averaging, and a linear SVM on top."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.svm import LinearSVC


def l2_normalise(scores: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(scores, axis=1, keepdims=True)
    return scores / np.maximum(norms, 1e-12)


def average_fusion(*streams: np.ndarray) -> np.ndarray:
    """Mean of the streams' softmax scores (the paper's fusion by averaging)."""
    return np.mean(np.stack(streams), axis=0)


def svm_features(*streams: np.ndarray) -> np.ndarray:
    """Stacked L2-normalised softmax scores, the SVM's input."""
    return np.concatenate([l2_normalise(s) for s in streams], axis=1)


def _svm(c: float, seed: int) -> LinearSVC:
    return LinearSVC(multi_class="crammer_singer", C=c, random_state=seed, max_iter=20000)


def choose_svm_c(features: np.ndarray, labels: np.ndarray, candidates: tuple[float, ...],
                 folds: int, seed: int = 0) -> tuple[float, dict[float, float]]:
    """C by stratified k-fold cross-validation on the training videos only (ties: the smaller C).

    Returns the chosen C and each candidate's mean validation accuracy. With one candidate, or
    too few videos per class for two folds, the first candidate is used without validation.
    """
    smallest_class = min(np.unique(labels, return_counts=True)[1], default=0)
    k = min(folds, int(smallest_class))
    if len(candidates) == 1 or k < 2:
        return float(candidates[0]), {}
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    means = {float(c): float(np.mean(cross_val_score(_svm(c, seed), features, labels, cv=splitter)))
             for c in candidates}
    best = max(means.values())
    return min(c for c, v in means.items() if v == best), means


def svm_fusion(train_streams: tuple[np.ndarray, ...], train_labels: np.ndarray,
               test_streams: tuple[np.ndarray, ...], c: float | tuple[float, ...], seed: int = 0,
               folds: int = 5) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit a Crammer-Singer multi-class linear SVM on training videos; score the test videos.

    ``c``: one value, or candidates to choose among by :func:`choose_svm_c`. Returns the test
    scores and the choice (C and each candidate's validation accuracy). Training rows with a NaN score (unscorable videos) are left
    out of the fit; test rows with NaN stay NaN so that accuracy counts them as wrong.
    """
    train = svm_features(*train_streams)
    keep = ~np.isnan(train).any(axis=1)
    candidates = tuple(c) if isinstance(c, (tuple, list)) else (float(c),)
    chosen, validation = choose_svm_c(train[keep], train_labels[keep], candidates, folds, seed)
    svm = _svm(chosen, seed)
    svm.fit(train[keep], train_labels[keep])
    test = svm_features(*test_streams)
    out = np.full((len(test), train_streams[0].shape[1]), np.nan, np.float32)
    valid = ~np.isnan(test).any(axis=1)
    if valid.any():
        out[np.ix_(valid, svm.classes_)] = svm.decision_function(test[valid])
        missing = np.setdiff1d(np.arange(out.shape[1]), svm.classes_)
        out[np.ix_(valid, missing)] = -np.inf
    return out, {"C": chosen, "validation_accuracy": validation}
