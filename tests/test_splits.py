import pandas as pd
import pytest

from twostream.splits import (SplitError, check_groups_disjoint, read_ucf_splits, held_out_groups,
                              write_ucf_splits)

from conftest import SHARED_DATA


def _table():
    rows = []
    for label, cls in enumerate(["Alpha", "Beta"]):
        for group in range(1, 7):
            for clip in (1, 2):
                split = {f"split{s}": "test" if group in held_out_groups(s, 6) else "train" for s in (1, 2, 3)}
                rows.append({"id": f"{cls}/v_{cls}_g{group:02d}_c{clip:02d}", "label": label, **split})
    return pd.DataFrame(rows)


def test_split_files_round_trip(tmp_path):
    table = _table()
    write_ucf_splits(table, ["Alpha", "Beta"], tmp_path)
    assert (tmp_path / "trainlist01.txt").read_bytes().endswith(b"\r\n")  # official CRLF format
    first = (tmp_path / "trainlist01.txt").read_text().splitlines()[0]
    assert first.endswith(" 1") and first.startswith("Alpha/v_Alpha_g")  # 1-based labels
    back = read_ucf_splits(tmp_path)
    merged = back.merge(table, on="id", suffixes=("", "_orig"))
    assert len(merged) == len(table)
    for col in ("label", "split1", "split2", "split3"):
        assert (merged[col] == merged[f"{col}_orig"]).all()
    assert back["path"].iloc[0].startswith("UCF-101/Alpha/")


def test_test_groups_follow_ucf_protocol():
    assert list(held_out_groups(1, 25)) == list(range(1, 8))
    assert list(held_out_groups(3, 25)) == list(range(15, 22))
    assert list(held_out_groups(2, 6)) == [3, 4]


def test_class_names_match_case_insensitively(tmp_path):
    (tmp_path / "classInd.txt").write_bytes(b"1 HandstandPushups\r\n")
    for s in (1, 2, 3):
        (tmp_path / f"trainlist0{s}.txt").write_bytes(
            b"HandStandPushups/v_HandStandPushups_g08_c01.avi 1\r\n")
        (tmp_path / f"testlist0{s}.txt").write_bytes(b"HandStandPushups/v_HandStandPushups_g01_c01.avi\r\n")
    table = read_ucf_splits(tmp_path)
    assert set(table["class"]) == {"HandstandPushups"}
    assert (table["label"] == 0).all()


def test_missing_split_file_is_named(tmp_path):
    (tmp_path / "classInd.txt").write_text("1 A\n")
    with pytest.raises(SplitError, match="trainlist01.txt"):
        read_ucf_splits(tmp_path)


def test_straddling_group_is_refused():
    table = _table()
    table.loc[0, "split1"] = "train" if table.loc[0, "split1"] == "test" else "test"
    table["class"] = table["id"].str.split("/").str[0]
    table["group"] = table["id"].str.extract(r"_g(\d+)_")[0].astype(int)
    with pytest.raises(SplitError, match="straddle"):
        check_groups_disjoint(table)


@pytest.mark.skipif(SHARED_DATA is None, reason="shared/data not present")
def test_official_ucf101_counts():
    table = read_ucf_splits(SHARED_DATA / "ucf101" / "ucfTrainTestlist")
    assert table["label"].nunique() == 101
    assert len(table) == 13320
    expected = {1: (9537, 3783), 2: (9586, 3734), 3: (9624, 3696)}
    for split, (train, test) in expected.items():
        counts = table[f"split{split}"].value_counts()
        assert (counts["train"], counts["test"]) == (train, test)
