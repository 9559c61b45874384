"""The hand-made UCF-101 / HMDB-51 overlap list names real classes of both official lists."""

import pytest

from twostream.datasets.overlap import UCF_OVERLAPPING_HMDB, ClassListError, extra_classes, overlaps
from twostream.datasets.splits import read_class_index, read_hmdb_splits

from conftest import REAL


def test_overlap_list_uses_official_class_names_and_leaves_68_classes():
    ucf = read_class_index(REAL / "ucf101" / "ucfTrainTestlist" / "classInd.txt")
    hmdb = sorted(read_hmdb_splits(REAL / "hmdb51" / "testTrainMulti_7030_splits")["class"].unique())
    assert len(ucf) == 101 and len(hmdb) == 51
    assert set(UCF_OVERLAPPING_HMDB) <= set(ucf)
    assert set(UCF_OVERLAPPING_HMDB.values()) <= set(hmdb)
    added = extra_classes(["auto"], ucf, hmdb)
    assert len(added) == 68 and "JavelinThrow" not in added and "PlayingGuitar" in added
    assert overlaps("Punch", hmdb) == "punch" and overlaps("Typing", hmdb) is None


def test_generated_classes_overlap_by_appearance_and_motion():
    assert extra_classes(["auto"], ["EmberSlide", "AzureSpin"], ["azure_spin", "amber_fall"]) == ["EmberSlide"]


def test_a_chosen_list_is_checked_and_kept_in_label_order():
    assert extra_classes(["Typing", "Archery"], ["Archery", "Typing", "YoYo"], []) == ["Archery", "Typing"]
    with pytest.raises(ClassListError, match="table2.extra_classes.*Typo"):
        extra_classes(["Typo"], ["Archery"], [])
