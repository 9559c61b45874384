"""Out-of-fold scores for the fusion SVM: nets trained as the fused net is, each with one fold
of the training videos held out, score that fold.

The fused nets fit their own training videos almost perfectly, so an SVM fitted on their scores
there learns from a distribution the test videos never show (every C cross-validates at 1.0)
and cannot learn what averaging does not. Scores of videos a net did not train on are what
stacking needs (Wolpert 1992); the SVM is then applied to the fused nets' test scores as before.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from twostream.config import EvaluateParams
from twostream.datasets.folds import fold_tables
from twostream.evaluation.score_model import score_model
from twostream.streams import Cell
from twostream.training.fit import PartData, fit_split


def cross_fit_scores(cell: Cell, part: str, data: dict[str, PartData], split: int, run_seed: int,
                     folds: int, held_out: bool, protocol: EvaluateParams, device: torch.device,
                     init: Path | None, checkpoint_dir: Path, log: logging.Logger
                     ) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """The rows of ``part``'s split-``split`` training videos that were scored (all of them, or
    under ``held_out`` the first fold's), their class scores, and the score file's meta.

    Each fold net is ``cell`` trained by :func:`fit_split` with the same seed on ``part``'s
    training videos minus one fold (``folds`` folds of whole groups; the other part's data, for
    a net that learns from both, stays whole). A killed run resumes from the fold nets'
    checkpoints under ``checkpoint_dir``, which are removed once the split is scored."""
    tables = fold_tables(data[part].table, split, folds, run_seed)
    if held_out:
        tables = tables[:1]
    column = f"split{split}"
    scored: list[pd.DataFrame] = []
    parts: list[np.ndarray] = []
    fold_meta: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    for number, table in enumerate(tables, 1):
        log.info("split %d: fold net %d of %d (%d videos held out of %d)", split, number, len(tables),
                 int((table[column] == "test").sum()), int((data[part].table[column] == "train").sum()))
        folded = {**data, part: replace(data[part], table=table)}
        saved = fit_split(cell, run_seed, folded, split, checkpoint_dir / f"fold{number}", device,
                          live=None, init=init)[part]
        rows = table[table[column] == "test"]
        scores, meta = score_model(saved, rows.reset_index(drop=True), data[part].data_dir,
                                   data[part].frames_dir, protocol, device, log,
                                   f"{cell.name} fold {number}")
        scored.append(rows)
        parts.append(scores)
        fold_meta.append({"videos": len(rows), "train_videos": saved.train_videos})
    order = np.argsort(np.concatenate([r.index.to_numpy() for r in scored]), kind="stable")
    rows = pd.concat(scored).iloc[order]
    rows = data[part].table.loc[rows.index].reset_index(drop=True)  # the split's own sides
    meta = {**meta, "svm_scores": {"mode": "held_out" if held_out else "out_of_fold",
                                   "folds": folds, "fold_nets": fold_meta}}
    for number in range(1, len(tables) + 1):
        (checkpoint_dir / f"fold{number}" / f"split{split}.pt").unlink(missing_ok=True)
    return rows, np.concatenate(parts)[order], meta
