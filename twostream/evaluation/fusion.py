"""Late fusion of the two streams' class scores: averaging, and a linear SVM on top."""

from __future__ import annotations

import contextlib
import json
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twostream.errors import UserError

if TYPE_CHECKING:
    from sklearn.svm import LinearSVC


class SvmFileError(UserError, ValueError):
    """A file given as a fusion SVM is not one."""


def l2_normalise(scores: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(scores, axis=1, keepdims=True)
    return scores / np.maximum(norms, 1e-12)


def average_fusion(*streams: np.ndarray, weights: tuple[float, ...] | None = None) -> np.ndarray:
    """Mean of the streams' softmax scores (the paper's fusion by averaging); ``weights``, one per
    stream, make it the weighted mean (TSN: spatial 1, temporal 1.5). The scores must be softmax
    probabilities, as the score files hold, not class-layer outputs: a weight on logits also
    sharpens or flattens that stream's distribution. Equal weights are the plain mean, bit for
    bit (the paper's figures do not move with the scale of equal weights)."""
    if weights is not None and (len(weights) != len(streams) or not sum(weights) > 0):
        raise ValueError(f"weights {list(weights)}: one per stream ({len(streams)}), not all 0")
    if weights is None or len(set(weights)) == 1:
        return np.mean(np.stack(streams), axis=0)
    total = sum(w * s for w, s in zip(weights, streams))
    return total / np.float32(sum(weights))


def svm_features(*streams: np.ndarray) -> np.ndarray:
    """Stacked L2-normalised softmax scores, the SVM's input."""
    return np.concatenate([l2_normalise(s) for s in streams], axis=1)


# liblinear's Crammer-Singer solver stops at 100,000 passes whatever max_iter says: scikit-learn
# (1.9) does not hand max_iter to it. Asking for the same cap keeps ConvergenceWarning truthful
# (it is raised when n_iter_ reaches max_iter) instead of firing on every fit past 1,000.
CRAMMER_SINGER_MAX_ITER = 100_000


@contextlib.contextmanager
def _no_convergence_warnings() -> Iterator[None]:
    """scikit-learn's ConvergenceWarning silenced: a fit that stops at the iteration cap is
    reported in the fusion's meta (``converged``), not as a warning."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def crammer_singer_svm(c: float, seed: int) -> LinearSVC:
    """The fusion SVM of the paper: one Crammer-Singer multi-class linear SVM (not one-vs-rest)."""
    # scikit-learn is imported where an SVM is made: averaging fusion and the report, which
    # import this module too, need not pay its 0.7 s
    from sklearn.svm import LinearSVC

    return LinearSVC(multi_class="crammer_singer", C=c, random_state=seed,
                     max_iter=CRAMMER_SINGER_MAX_ITER)


def _joblib_jobs(workers: int) -> int:
    return -1 if workers == 0 else workers


def choose_svm_c(features: np.ndarray, labels: np.ndarray, candidates: tuple[float, ...],
                 folds: int, seed: int = 0, workers: int = 1) -> tuple[float, dict[float, float]]:
    """C by stratified k-fold cross-validation on the training videos only (ties: the smaller C).

    Every (C, fold) fit runs in its own process, ``workers`` at a time (0 = one per core): the
    fits are independent and single-threaded, and on scores the SVM cannot separate the large
    C take minutes each. Returns the chosen C and each candidate's mean validation accuracy.
    With one candidate, or too few videos per class for two folds, the first candidate is used
    without validation.
    """
    smallest_class = min(np.unique(labels, return_counts=True)[1], default=0)
    k = min(folds, int(smallest_class))
    if len(candidates) == 1 or k < 2:
        return float(candidates[0]), {}
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    search = GridSearchCV(crammer_singer_svm(candidates[0], seed), {"C": [float(c) for c in candidates]},
                          cv=splitter, refit=False, n_jobs=_joblib_jobs(workers))
    with _no_convergence_warnings():
        # a fold that stops at the cap is still a fair estimate of its C; the final fit reports it
        search.fit(features, labels)
    means = {float(c): float(v) for c, v in zip(search.cv_results_["param_C"],
                                                search.cv_results_["mean_test_score"])}
    best = max(means.values())
    return min(c for c, v in means.items() if v == best), means


@dataclass(frozen=True)
class FusionSvm:
    """A fitted fusion SVM as plain arrays: saved by the fuse stage, applied by ``predict`` to
    a new video's two score vectors without scikit-learn's pickles."""
    coef: np.ndarray        # (fitted classes, features)
    intercept: np.ndarray   # (fitted classes,)
    labels: np.ndarray      # the class index of each row of ``coef``
    num_classes: int
    C: float

    @classmethod
    def from_estimator(cls, svm: LinearSVC, num_classes: int, c: float) -> "FusionSvm":
        coef = svm.coef_.astype(np.float64)
        intercept = np.asarray(svm.intercept_, np.float64).reshape(-1)
        if len(svm.classes_) == 2 and len(coef) == 1:
            # scikit-learn folds a two-class Crammer-Singer fit into one row (w1 - w0): give
            # each class its row again, so the first scores 0 and the second the margin
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.array([0.0, intercept[0]])
        return cls(coef, intercept, svm.classes_.astype(np.int64), num_classes, float(c))

    def scores(self, *streams: np.ndarray) -> np.ndarray:
        """Decision values (videos, classes); classes with no training video get -inf and
        rows with a NaN score (unscorable videos) stay NaN, so accuracy counts them wrong."""
        features = svm_features(*(np.atleast_2d(s) for s in streams))
        if features.shape[1] != self.coef.shape[1]:
            raise ValueError(f"the SVM takes {self.coef.shape[1]} stacked scores, got "
                             f"{features.shape[1]}: the streams have other classes than it was fit on")
        out = np.full((len(features), self.num_classes), np.nan, np.float32)
        valid = ~np.isnan(features).any(axis=1)
        if valid.any():
            out[valid] = -np.inf
            out[np.ix_(valid, self.labels)] = features[valid] @ self.coef.T + self.intercept
        return out

    def save(self, path: Path, **meta: Any) -> None:
        """``.npz`` with the arrays and ``meta`` (JSON: the cells it fuses, their classes)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, coef=self.coef, intercept=self.intercept, labels=self.labels,
                 num_classes=self.num_classes, C=self.C, meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path: Path) -> tuple["FusionSvm", dict[str, Any]]:
        """Read with no pickles (nothing in the file runs); every member is checked against its
        CRC-32 as it is read, so a damaged file fails naming it."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return (cls(data["coef"], data["intercept"], data["labels"],
                            int(data["num_classes"]), float(data["C"])),
                        json.loads(str(data["meta"])))
        except zipfile.BadZipFile as err:  # a member's CRC-32 or the zip's structure
            raise SvmFileError(f"{path}: damaged or truncated ({err}); rerun the fuse stage "
                               f"(`dvc repro`) or copy it again") from None
        except (ValueError, KeyError, OSError, EOFError) as err:
            raise SvmFileError(f"{path}: not a fusion SVM file of the fuse stage "
                               f"(models/<part>/svm/split<k>.npz): {type(err).__name__}") from None


def fit_fusion_svm(train_streams: tuple[np.ndarray, ...], train_labels: np.ndarray,
                   c: float | tuple[float, ...], seed: int = 0, folds: int = 5, workers: int = 1
                   ) -> tuple[FusionSvm, dict[str, Any]]:
    """Fit a Crammer-Singer multi-class linear SVM on the training videos' stacked scores.

    ``c``: one value, or candidates to choose among by :func:`choose_svm_c` (``workers``
    processes). Returns the SVM and the choice: C, each candidate's validation accuracy, and the
    final fit's liblinear passes and whether it converged before the 100,000-pass cap (it may
    not where the training scores are near chance). Training rows with a NaN score (unscorable
    videos) are left out of the fit.
    """
    train = svm_features(*train_streams)
    keep = ~np.isnan(train).any(axis=1)
    candidates = tuple(c) if isinstance(c, (tuple, list)) else (float(c),)
    chosen, validation = choose_svm_c(train[keep], train_labels[keep], candidates, folds, seed,
                                      workers)
    svm = crammer_singer_svm(chosen, seed)
    with _no_convergence_warnings():
        svm.fit(train[keep], train_labels[keep])
    passes = int(np.max(svm.n_iter_))
    fitted = FusionSvm.from_estimator(svm, train_streams[0].shape[1], chosen)
    return fitted, {"C": chosen, "validation_accuracy": validation, "iterations": passes,
                    "converged": passes < CRAMMER_SINGER_MAX_ITER}
