"""Cross-fitting folds of one split's training videos: the fusion SVM's scores must come from
nets that did not train on the videos they score.

A fold is a set of whole ``_gNN_`` groups (clips of a group share actor and scene, so a group
split between a fold net's training and its scored videos would leak, as the official splits
avoid), balanced over classes. Each fold's table is the split table with that split's column
rewritten: the fold's videos ``test``, the other training videos ``train``, the split's own test
videos ``unused``, so the training and scoring code reads it as any split.
"""

from __future__ import annotations

import warnings

import pandas as pd

from twostream.datasets.splits import class_names
from twostream.errors import UserError


class FoldError(UserError, ValueError):
    """A split's training videos cannot be cut into the folds asked for."""


def fold_tables(table: pd.DataFrame, split: int, folds: int, seed: int) -> list[pd.DataFrame]:
    """``folds`` copies of ``table``, one per fold of split ``split``'s training videos, as the
    module docstring lays out. Every training video is scored by exactly one fold; every fold
    net sees every class."""
    column = f"split{split}"
    train = table[table[column] == "train"]
    groups = train["group"].astype(str).to_numpy()
    if len(set(groups)) < folds:
        raise FoldError(f"split {split}: its training videos come from {len(set(groups))} groups, "
                        f"fewer than fusion.cross_fits={folds} folds (a fold holds whole groups); "
                        f"lower fusion.cross_fits")
    # here, not at the top: with the default SVM (trainset) no fold is cut, so the svm_scores
    # stages need not import scikit-learn
    from sklearn.model_selection import StratifiedGroupKFold

    cutter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a class with fewer groups than folds: said below, by name
        warnings.simplefilter("ignore", UserWarning)
        cuts = list(cutter.split(train, train["label"], groups))
    everyone = set(class_names(table))
    out = []
    for number, (_, scored) in enumerate(cuts, 1):
        sides = pd.Series("unused", index=table.index)
        sides[train.index] = "train"
        sides[train.index[scored]] = "test"
        lacking = everyone - set(table.loc[sides == "train", "class"])
        if lacking:
            raise FoldError(f"split {split}, fold {number} of {folds}: no training video of "
                            f"{', '.join(sorted(lacking))} left once the fold is held out (the class "
                            f"has too few groups); lower fusion.cross_fits or use "
                            f"fusion.svm_scores=trainset")
        folded = table.copy()
        folded[column] = sides.to_numpy()
        out.append(folded)
    return out
