"""One split's late fusion of a spatial and a temporal net (the fuse stage): the pair's score
files checked to belong together, then averaging and the SVM fitted on the training videos."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from twostream.config import FusionParams, as_dict
from twostream.errors import UserError
from twostream.evaluation.fusion import FusionSvm, average_fusion, fit_fusion_svm
from twostream.evaluation.scores import ScoreFile


class PairingError(UserError):
    """The two streams' score files do not describe the same videos or cells: stale scores."""


@dataclass(frozen=True)
class PairScores:
    """A split's four score files: each stream on the test videos and on the training videos."""
    spatial: ScoreFile
    temporal: ScoreFile
    spatial_train: ScoreFile
    temporal_train: ScoreFile


@dataclass(frozen=True)
class FusedSplit:
    ids: np.ndarray
    labels: np.ndarray
    scores: dict[str, np.ndarray]   # "average", "svm": (test videos, classes)
    svm: FusionSvm
    meta: dict[str, Any]            # what the fused score files and the SVM file record


def check_pairing(pair: PairScores, split: int) -> None:
    """Fail unless both streams scored the same test and training videos, in the same order, and
    the training scores come from the same cells as the test scores."""
    for name, a, b in (("test", pair.spatial, pair.temporal),
                       ("training", pair.spatial_train, pair.temporal_train)):
        if not np.array_equal(a.ids, b.ids):
            raise PairingError(f"split {split}: the streams scored different {name} videos; "
                               f"rerun `dvc repro`")
    cells = lambda s, t: (s.meta.get("cell"), t.meta.get("cell"))  # noqa: E731
    if cells(pair.spatial_train, pair.temporal_train) != cells(pair.spatial, pair.temporal):
        raise PairingError(f"split {split}: training scores come from other cells than the test "
                           f"scores; rerun `dvc repro`")


def fuse_split(pair: PairScores, split: int, fusion: FusionParams, cells: dict[str, str]) -> FusedSplit:
    """Averaging and the SVM (C chosen by cross-validation on the training videos only) on one
    split's test videos. ``cells``: the pair's names where a score file does not record them."""
    check_pairing(pair, split)
    ids, labels, s_test = pair.spatial.side("test")
    _, train_labels, s_train = pair.spatial_train.side("train")
    t_test, t_train = pair.temporal.side("test")[2], pair.temporal_train.side("train")[2]
    svm, choice = fit_fusion_svm((s_train, t_train), train_labels, fusion.svm_c, folds=fusion.svm_folds,
                                 workers=fusion.svm_workers)
    recipe = {k: v for k, v in as_dict(fusion).items() if k != "svm_workers"}  # not in the result
    meta = {"split": split, "fusion": recipe, "classes": pair.spatial.meta["classes"],
            "svm": choice,
            "cells": {"spatial": pair.spatial.meta.get("cell", cells["spatial"]),
                      "temporal": pair.temporal.meta.get("cell", cells["temporal"])}}
    scores = {"average": average_fusion(s_test, t_test, weights=fusion.weights), "svm": svm.scores(s_test, t_test)}
    return FusedSplit(ids, labels, scores, svm, meta)
