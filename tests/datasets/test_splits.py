import shutil

import pandas as pd
import pytest

from twostream.datasets.splits import (SplitError, check_groups_disjoint, held_out_groups, read_hmdb_splits,
                                       read_ucf_splits, write_ucf_splits)

from conftest import REAL, SHARED_DATA
from twostream.datasets.official import SPECS, count_problems


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


def _split_dirs():
    """The vendored official files, and ../shared/data's copy when present."""
    roots = [REAL] + ([SHARED_DATA] if SHARED_DATA is not None else [])
    return roots


@pytest.mark.parametrize("root", _split_dirs(), ids=str)
def test_official_ucf101_counts(root, caplog):
    table = read_ucf_splits(root / "ucf101" / "ucfTrainTestlist")
    assert table["label"].nunique() == 101
    assert len(table) == 13320
    expected = {1: (9537, 3783), 2: (9586, 3734), 3: (9624, 3696)}
    for split, (train, test) in expected.items():
        counts = table[f"split{split}"].value_counts()
        assert (counts["train"], counts["test"]) == (train, test)
        assert "unused" not in counts
    assert count_problems(table, SPECS["ucf101"]) == []
    # The HandStandPushups / HandstandPushups trap is resolved and reported.
    assert "'HandStandPushups'" in caplog.text and "case-insensitively" in caplog.text
    hsp = table[table["class"] == "HandstandPushups"]
    assert len(hsp) > 100 and hsp["path"].str.startswith("UCF-101/HandstandPushups/v_HandStandPushups_").all()


@pytest.mark.parametrize("root", _split_dirs(), ids=str)
def test_official_hmdb51_counts(root):
    table = read_hmdb_splits(root / "hmdb51" / "testTrainMulti_7030_splits")
    assert table["label"].nunique() == 51 and len(table) == 6766
    for split in (1, 2, 3):
        counts = table[f"split{split}"].value_counts()
        assert (counts["train"], counts["test"], counts["unused"]) == (3570, 1530, 1666)
    assert count_problems(table, SPECS["hmdb51"]) == []
    golf = table[table["id"] == "golf/Golf_Tips_-_Hit_The_Driver_300+_Yards!!!_golf_f_nm_np1_fr_med_0"]
    assert golf["path"].tolist() == ["hmdb51_org/golf/Golf_Tips_-_Hit_The_Driver_300+_Yards!!!_golf_f_nm_np1_fr_med_0.avi"]
    assert golf["split1"].tolist() == ["train"]
    assert table.loc[table["id"] == "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0", "group"].item() == "April_09"


def test_hmdb_formats_and_errors(tmp_path):
    folder = tmp_path / "testTrainMulti_7030_splits"
    folder.mkdir()
    for split in (1, 2, 3):  # official format: "name.avi <0|1|2> " with a trailing space
        (folder / f"wave_test_split{split}.txt").write_text(
            f"a_wave_0.avi {1 if split != 2 else 2} \nb_wave_1.avi {2 if split != 2 else 0} \n")
    table = read_hmdb_splits(folder)
    assert table.set_index("id")["split2"].to_dict() == {"wave/a_wave_0": "test", "wave/b_wave_1": "unused"}
    (folder / "wave_test_split3.txt").unlink()
    with pytest.raises(SplitError, match="wave_test_split3.txt is missing"):
        read_hmdb_splits(folder)
    (folder / "wave_test_split3.txt").write_text("a_wave_0.avi 7 \n")
    with pytest.raises(SplitError, match=r"wave_test_split3.txt:1: expected"):
        read_hmdb_splits(folder)
    with pytest.raises(SplitError, match="no <class>_test_split"):
        read_hmdb_splits(tmp_path / "nowhere")


def test_wrong_counts_name_what_differs(tmp_path):
    lists = tmp_path / "ucfTrainTestlist"
    shutil.copytree(REAL / "ucf101" / "ucfTrainTestlist", lists)
    lines = (lists / "testlist02.txt").read_bytes().split(b"\r\n")
    (lists / "testlist02.txt").write_bytes(b"\r\n".join(lines[:-11] + [b""]))  # drop 10 clips
    problems = count_problems(read_ucf_splits(lists), SPECS["ucf101"])
    assert problems == ["split 2: 9586 train / 3724 test / 10 unused, expected 9586 / 3734 / 0"]
