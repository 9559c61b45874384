"""Your own folder-per-class videos as a dataset: reproducible splits, groups kept whole."""

import shutil

import pytest

from twostream.datasets.folder import make_splits, prepare_folder, scan
from twostream.datasets.splits import SPLIT_COLUMNS, SplitError

from conftest import repo_block


def _user_folder(tiny_dataset, tmp_path):
    """Two classes with _gNN_ tags in the names, one with plain names (`clip1.avi`, ...)."""
    root = tmp_path / "mine"
    for cls in ("EmberSlide", "MossRise"):
        shutil.copytree(tiny_dataset / "UCF-101" / cls, root / cls)
    for k, video in enumerate(sorted((tiny_dataset / "UCF-101" / "EmberRise").iterdir()), 1):
        (root / "plain").mkdir(exist_ok=True)
        shutil.copy(video, root / "plain" / f"clip{k}.avi")
    (root / "plain" / "notes.txt").write_text("not a video")
    return root


def test_splits_hold_out_whole_groups_and_differ_per_split(tiny_dataset, tmp_path):
    table = make_splits(scan(_user_folder(tiny_dataset, tmp_path)), test_fraction=0.3, seed=0)
    assert list(table["class"].unique()) == ["EmberSlide", "MossRise", "plain"]
    assert set(table[table["class"] == "plain"]["group"]) == {"clip1", "clip2", "clip3"}
    for col in SPLIT_COLUMNS:
        per_class = table.groupby("class")[col].agg(set)
        assert all(sides == {"train", "test"} for sides in per_class)
        assert (table.groupby(["class", "group"])[col].nunique() == 1).all()
    assert len({tuple(table[c]) for c in SPLIT_COLUMNS}) == 3  # each split holds out its own slice
    assert table.equals(make_splits(scan(_user_folder(tiny_dataset, tmp_path / "again")), 0.3, 0))


def test_prepare_copies_once_and_never_touches_the_users_files(tiny_dataset, tmp_path):
    root = _user_folder(tiny_dataset, tmp_path)
    download = repo_block("download", cache_dir=str(tmp_path / "cache"))
    table = prepare_folder(repo_block("folder", root=str(root)), download, tmp_path / "raw", tmp_path)
    assert all((tmp_path / "raw" / p).is_file() for p in table["path"])
    assert not any((tmp_path / "raw" / p).samefile(root / p.split("/", 1)[1]) for p in table["path"])
    again = prepare_folder(repo_block("folder", root=str(root)), download, tmp_path / "raw2", tmp_path)
    assert again.equals(table)


def test_bad_folders_are_named_with_the_fix(tmp_path):
    with pytest.raises(SplitError, match="folder.root is empty"):
        prepare_folder(repo_block("folder"), repo_block("download"), tmp_path / "raw", tmp_path)
    (tmp_path / "one" / "Solo").mkdir(parents=True)
    (tmp_path / "one" / "Solo" / "a.avi").write_bytes(b"x")
    with pytest.raises(SplitError, match="class Solo: 1 group"):
        make_splits(scan(tmp_path / "one"), 0.3, 0)
    with pytest.raises(SplitError, match="no videos"):
        scan(tmp_path / "one" / "Solo")


def test_two_videos_of_one_name_are_refused_naming_both(tiny_dataset, tmp_path):
    """`A/clip.avi` and `A/clip.mp4` would share one id and one archive: the second would
    overwrite the first (and be recomputed every run). Refused before anything is written."""
    root = _user_folder(tiny_dataset, tmp_path)
    shutil.copy(root / "plain" / "clip1.avi", root / "plain" / "clip1.mp4")
    with pytest.raises(SplitError, match=r"plain/clip1.avi and plain/clip1.mp4.*rename one"):
        scan(root)


def test_splits_differ_where_the_groups_allow_and_a_repeat_is_said(caplog):
    """Four groups, 30% held out: two per split; split 3 used to wrap onto split 1's pair, so a
    3-split mean counted those videos twice. Two groups: no third choice exists; it is logged."""
    import logging

    import pandas as pd

    rows = [{"id": f"{c}/v_{c}_g{g:02d}_c01", "path": f"videos/{c}/v_{c}_g{g:02d}_c01.avi",
             "label": k, "class": c, "group": f"g{g:02d}"}
            for k, (c, n) in enumerate((("Four", 4), ("Two", 2))) for g in range(1, n + 1)]
    caplog.set_level(logging.WARNING)
    table = make_splits(pd.DataFrame(rows), test_fraction=0.3, seed=0)
    four = table[table["class"] == "Four"]
    held = [frozenset(four.loc[four[c] == "test", "group"]) for c in SPLIT_COLUMNS]
    assert len(set(held)) == 3 and all(len(h) == 2 for h in held)
    assert "splits repeat for 1 classes" in caplog.text and "Two (2 groups)" in caplog.text


def test_hidden_files_and_sub_folders_are_not_videos_and_are_said(tiny_dataset, tmp_path, caplog):
    """macOS leaves `._<name>` AppleDouble files beside each video; they are not videos (taken
    as test videos they would fail decoding and count as wrong). A sub-folder's videos are not
    read, and the log says so."""
    root = _user_folder(tiny_dataset, tmp_path)
    (root / "plain" / "._clip1.avi").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (root / "plain" / ".hidden.avi").write_bytes(b"x")
    (root / "plain" / "more").mkdir()
    shutil.copy(root / "plain" / "clip1.avi", root / "plain" / "more" / "clip9.avi")
    with caplog.at_level("INFO"):
        table = scan(root)
    assert not any(name.split("/")[1].startswith(".") for name in table["id"])
    assert set(table[table["class"] == "plain"]["id"]) == {"plain/clip1", "plain/clip2", "plain/clip3"}
    assert "ignored 2 hidden files" in caplog.text and "plain/._clip1.avi" in caplog.text
    warned = [r.message for r in caplog.records if r.levelname == "WARNING"]
    assert any("plain/more/" in m and "sub-folders" in m for m in warned)


def test_one_clip_under_two_names_on_both_sides_of_a_split_is_refused(tiny_dataset, tmp_path, caplog):
    root = _user_folder(tiny_dataset, tmp_path)
    download = repo_block("download", cache_dir=str(tmp_path / "cache"))
    (root / "plain" / "clip2.avi").unlink()
    (root / "plain" / "clip2.avi").symlink_to(root / "plain" / "clip1.avi")  # a link: the same bytes
    with pytest.raises(SplitError, match=r"plain/clip\d and plain/clip\d are the same file's bytes, and split"):
        prepare_folder(repo_block("folder", root=str(root)), download, tmp_path / "raw", tmp_path)
    (root / "plain" / "clip2.avi").unlink()  # one group: they stay together, and the log says so
    (root / "plain" / "clip1.avi").rename(root / "plain" / "v_plain_g01_c01.avi")
    (root / "plain" / "v_plain_g01_c02.avi").symlink_to(root / "plain" / "v_plain_g01_c01.avi")
    with caplog.at_level("WARNING"):
        prepare_folder(repo_block("folder", root=str(root)), download, tmp_path / "raw2", tmp_path)
    assert "1 sets of identical videos" in caplog.text
