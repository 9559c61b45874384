"""Score files: one ``.npz`` per stream and split, rows = videos, columns = classes.

Scores are written for the split's training videos too, because SVM fusion is fitted on them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_SPLIT = re.compile(r"split(\d+)\.npz$")


@dataclass(frozen=True)
class ScoreFile:
    ids: np.ndarray
    labels: np.ndarray
    subset: np.ndarray   # "train" / "test" per row
    scores: np.ndarray   # (videos, classes), NaN rows = unscorable videos
    meta: dict[str, Any]

    def side(self, subset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, labels, scores) of one side, in row order."""
        rows = self.subset == subset
        return self.ids[rows], self.labels[rows], self.scores[rows]


def save_scores(path: Path, scores: ScoreFile) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.npz")
    np.savez_compressed(tmp, ids=scores.ids.astype(str), labels=scores.labels,
                        subset=scores.subset.astype(str), scores=scores.scores,
                        meta=np.array(json.dumps(scores.meta)))
    os.replace(tmp, path)


def load_scores(path: Path) -> ScoreFile:
    with np.load(path) as data:
        return ScoreFile(data["ids"], data["labels"], data["subset"], data["scores"],
                         json.loads(str(data["meta"])))


def split_files(directory: Path) -> dict[int, Path]:
    """``split<k>.npz`` files in a folder, by split number."""
    found = {}
    for path in sorted(Path(directory).glob("split*.npz")):
        match = _SPLIT.search(path.name)
        if match:
            found[int(match.group(1))] = path
    return found


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy; rows with NaN (unscorable videos) count as wrong."""
    if len(labels) == 0:
        return float("nan")
    valid = ~np.isnan(scores).any(axis=1)
    hits = np.zeros(len(labels), bool)
    hits[valid] = scores[valid].argmax(axis=1) == labels[valid]
    return float(hits.mean())
