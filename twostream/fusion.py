"""Late fusion of the two streams' class scores: averaging, and a linear SVM on top."""

from __future__ import annotations

import numpy as np
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


def svm_fusion(train_streams: tuple[np.ndarray, ...], train_labels: np.ndarray,
               test_streams: tuple[np.ndarray, ...], c: float, seed: int = 0) -> np.ndarray:
    """Fit a Crammer-Singer multi-class linear SVM on training videos; score the test videos.

    Training rows with a NaN score (unscorable videos) are left out of the fit; test rows with
    NaN stay NaN so that accuracy counts them as wrong.
    """
    train = svm_features(*train_streams)
    keep = ~np.isnan(train).any(axis=1)
    svm = LinearSVC(multi_class="crammer_singer", C=c, random_state=seed, max_iter=20000)
    svm.fit(train[keep], train_labels[keep])
    test = svm_features(*test_streams)
    out = np.full((len(test), train_streams[0].shape[1]), np.nan, np.float32)
    valid = ~np.isnan(test).any(axis=1)
    if valid.any():
        out[np.ix_(valid, svm.classes_)] = svm.decision_function(test[valid])
        missing = np.setdiff1d(np.arange(out.shape[1]), svm.classes_)
        out[np.ix_(valid, missing)] = -np.inf
    return out
