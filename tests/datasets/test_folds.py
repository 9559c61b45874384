"""Cross-fitting folds: whole groups, every training video scored once, every class kept."""

import pandas as pd
import pytest

from twostream.datasets.folds import FoldError, fold_tables


def _table(groups: int = 6, classes: int = 3, test_groups: tuple[int, ...] = (1,)) -> pd.DataFrame:
    rows = []
    for label in range(classes):
        for group in range(1, groups + 1):
            for clip in (1, 2):
                name = f"C{label}/v_C{label}_g{group:02d}_c{clip:02d}"
                side = "test" if group in test_groups else "train"
                rows.append({"id": name, "path": name + ".avi", "label": label, "class": f"C{label}",
                             "group": group, "split1": side, "split2": "train", "split3": "unused"})
    return pd.DataFrame(rows)


def test_every_training_video_is_scored_by_exactly_one_fold_of_whole_groups():
    table = _table()
    folds = fold_tables(table, 1, 3, seed=0)
    assert len(folds) == 3
    scored = pd.concat([f.loc[f["split1"] == "test", "id"] for f in folds])
    assert sorted(scored) == sorted(table.loc[table["split1"] == "train", "id"])  # once each
    for folded in folds:
        held = set(folded.loc[folded["split1"] == "test", "group"])
        kept = set(folded.loc[folded["split1"] == "train", "group"])
        assert held and not held & kept  # no group on both sides
        assert set(folded.loc[table["split1"] == "test", "split1"]) == {"unused"}  # real test videos unseen
        assert set(folded.loc[folded["split1"] == "train", "class"]) == {"C0", "C1", "C2"}
        assert folded[["split2", "split3"]].equals(table[["split2", "split3"]])  # other splits kept


def test_folds_are_a_function_of_the_seed():
    table = _table()
    first = [f["split1"].tolist() for f in fold_tables(table, 1, 3, seed=0)]
    assert first == [f["split1"].tolist() for f in fold_tables(table, 1, 3, seed=0)]


def test_too_few_groups_for_the_folds_is_named():
    with pytest.raises(FoldError, match="cross_fits=6"):
        fold_tables(_table(groups=6), 1, 6, seed=0)  # 5 training groups


def test_a_class_left_with_no_training_video_is_named():
    table = _table(groups=4, test_groups=(1,))
    lonely = table[(table["class"] == "C2") & (table["group"] > 2)].index  # C2: one training group
    table = table.drop(lonely).reset_index(drop=True)
    with pytest.raises(FoldError, match="C2"):
        fold_tables(table, 1, 2, seed=0)
