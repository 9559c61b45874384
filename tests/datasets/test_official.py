"""Real-dataset plumbing: download -> verify -> extract -> split -> data/raw, all on 127.0.0.1."""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

import pytest

from builders import make_zip

from conftest import REAL, repo_block
from http_server import FileServer, Served
from twostream.datasets.archives import UnsafeArchiveError, extract
from twostream.config import DownloadParams
from twostream.datasets.official import SPECS, locate, match_videos, prepare_dataset
from twostream.datasets.download import ChecksumError, FetchOptions, fetch
from twostream.datasets.splits import SplitError

UCF_CLIPS = sorted(p.relative_to(REAL / "ucf101").as_posix() for p in (REAL / "ucf101").rglob("*.avi"))
HMDB_CLIPS = sorted(p.relative_to(REAL / "hmdb51" / "videos").as_posix()
                    for p in (REAL / "hmdb51" / "videos").rglob("*.avi"))


def _folder_zip(folder: Path, prefix: str) -> bytes:
    return make_zip({f"{prefix}/{p.name}": p.read_bytes() for p in sorted(folder.iterdir())})


def _download(tmp_path: Path) -> DownloadParams:
    return repo_block("download", cache_dir=str(tmp_path / "cache"), retries=2, timeout=5, backoff=0.0)


def test_ucf101_download_verify_extract_split(tmp_path: Path, caplog) -> None:
    """The whole path as a user with internet runs it, from a dead official URL to data/raw."""
    caplog.set_level(logging.INFO)
    videos = make_zip({rel: (REAL / "ucf101" / rel).read_bytes() for rel in UCF_CLIPS})
    splits = _folder_zip(REAL / "ucf101" / "ucfTrainTestlist", "ucfTrainTestlist")
    served = Served(files={"/mirror/UCF101.rar": videos,
                           "/mirror/UCF101TrainTestSplits-RecognitionTask.zip": splits},
                    cut_after={"/mirror/UCF101.rar": [len(videos) // 2]})
    with FileServer(served) as url:
        source = repo_block("ucf101", 
            videos_urls=(url + "/dead/UCF101.rar", url + "/mirror/UCF101.rar"),
            splits_urls=(url + "/mirror/UCF101TrainTestSplits-RecognitionTask.zip",),
            videos_sha256=hashlib.sha256(videos).hexdigest(), subset=True)
        raw = tmp_path / "raw"
        table = prepare_dataset("ucf101", source, _download(tmp_path), raw, base=tmp_path)
        # Everything complete: a second run neither downloads nor extracts again.
        n_requests = len(served.requests)
        shutil.rmtree(raw)
        again = prepare_dataset("ucf101", source, _download(tmp_path), raw, base=tmp_path)
        assert len(served.requests) == n_requests
    assert again.equals(table)
    assert sorted(table["path"]) == UCF_CLIPS
    assert all((raw / p).read_bytes() == (REAL / "ucf101" / p).read_bytes() for p in table["path"])
    assert (raw / "ucfTrainTestlist" / "classInd.txt").read_bytes().endswith(b"\r\n")
    assert set(table["split1"]) == {"train", "test"}
    assert table.loc[table["id"] == "JavelinThrow/v_JavelinThrow_g05_c05", "split1"].item() == "test"
    assert "subset mode: 5 of 13320 clips present" in caplog.text
    assert "already extracted" in caplog.text
    # videos are hard links into the cache, not copies
    cached = next((tmp_path / "cache" / "ucf101" / "videos").rglob("v_TennisSwing_g14_c03.avi"))
    assert (raw / "UCF-101/TennisSwing/v_TennisSwing_g14_c03.avi").stat().st_ino == cached.stat().st_ino


def test_hmdb51_nested_archives_download_extract_split(tmp_path: Path) -> None:
    by_class: dict[str, dict[str, bytes]] = {}
    for rel in HMDB_CLIPS:
        cls = rel.split("/")[0]
        by_class.setdefault(cls, {})[rel] = (REAL / "hmdb51" / "videos" / rel).read_bytes()
    outer = make_zip({f"{cls}.rar": make_zip(entries) for cls, entries in by_class.items()})
    splits = _folder_zip(REAL / "hmdb51" / "testTrainMulti_7030_splits", "testTrainMulti_7030_splits")
    served = Served(files={"/hmdb51_org.rar": outer, "/test_train_splits.rar": splits})
    with FileServer(served) as url:
        source = repo_block("hmdb51", videos_urls=(url + "/hmdb51_org.rar",),
                            splits_urls=(url + "/test_train_splits.rar",), subset=True)
        table = prepare_dataset("hmdb51", source, _download(tmp_path), tmp_path / "raw", base=tmp_path)
    assert sorted(p.split("/", 1)[1] for p in table["path"]) == HMDB_CLIPS
    assert table.set_index("class")["split1"].to_dict()["golf"] == "train"
    truman = table[table["id"] == "wave/TrumanShow_wave_f_nm_np1_fr_med_26"]
    assert truman["split1"].item() == "test"
    assert (tmp_path / "raw" / truman["path"].item()).is_file()


def test_missing_videos_fail_unless_subset(tmp_path: Path) -> None:
    with pytest.raises(SplitError, match=r"13315 of 13320 videos .* missing .*ucf101.subset: true"):
        prepare_dataset("ucf101", repo_block("ucf101", root=str(REAL / "ucf101")), _download(tmp_path),
                        tmp_path / "raw", base=tmp_path)
    assert not (tmp_path / "cache").exists()  # a ready root never touches the network


def test_root_relative_to_repository_and_real_sample_layouts(tmp_path: Path) -> None:
    for name, root in (("ucf101", REAL / "ucf101"), ("hmdb51", REAL / "hmdb51")):
        videos, splits = locate(SPECS[name], root, root)
        assert videos.is_dir() and splits.is_dir()
    shutil.copytree(REAL / "hmdb51", tmp_path / "hmdb")
    repo = tmp_path / "repo"
    repo.mkdir()
    table = prepare_dataset("hmdb51", repo_block("hmdb51", root="../hmdb", subset=True), _download(tmp_path),
                            repo / "raw", base=repo)
    assert len(table) == len(HMDB_CLIPS)
    assert (repo / "raw" / "testTrainMulti_7030_splits" / "golf_test_split1.txt").is_file()

def test_class_folder_case_on_disk_does_not_matter(tmp_path: Path) -> None:
    root = tmp_path / "ucf"
    shutil.copytree(REAL / "ucf101" / "ucfTrainTestlist", root / "ucfTrainTestlist")
    clip = root / "UCF-101" / "javelinthrow" / "V_JAVELINTHROW_G05_C05.AVI"
    clip.parent.mkdir(parents=True)
    shutil.copy(REAL / "ucf101" / "UCF-101/JavelinThrow/v_JavelinThrow_g05_c05.avi", clip)
    videos, splits = locate(SPECS["ucf101"], root, root)
    table = match_videos(SPECS["ucf101"].parse(splits, "UCF-101"), SPECS["ucf101"], videos, subset=True)
    assert table["path"].tolist() == ["UCF-101/javelinthrow/V_JAVELINTHROW_G05_C05.AVI"]
    assert table["id"].tolist() == ["JavelinThrow/v_JavelinThrow_g05_c05"]


def test_checksum_mismatch_stops_before_extraction(tmp_path: Path) -> None:
    splits = _folder_zip(REAL / "ucf101" / "ucfTrainTestlist", "ucfTrainTestlist")
    served = Served(files={"/v.rar": make_zip({"UCF-101/x/v_x_g01_c01.avi": b"x"}), "/s.zip": splits})
    with FileServer(served) as url:
        source = repo_block("ucf101", videos_urls=(url + "/v.rar",), splits_urls=(url + "/s.zip",),
                           videos_sha256="ab" * 32, subset=True)
        with pytest.raises(ChecksumError, match="abababab"):
            prepare_dataset("ucf101", source, _download(tmp_path), tmp_path / "raw", base=tmp_path)
    assert not (tmp_path / "cache" / "ucf101").exists() and not (tmp_path / "raw").exists()


def test_rar_fixtures_served_over_http(tmp_path: Path) -> None:
    rar = REAL.parent / "rar"
    served = Served(files={"/subdirs.rar": (rar / "rar3-subdirs.rar").read_bytes(),
                           "/evil.rar": (rar / "rar5-evil-symlink-traversal.rar").read_bytes()})
    options = FetchOptions(retries=0, backoff=0)
    with FileServer(served) as url:
        good = fetch("subdirs.rar", [url + "/subdirs.rar"], tmp_path / "dl", options=options)
        evil = fetch("evil.rar", [url + "/evil.rar"], tmp_path / "dl", options=options)
    extract(good, tmp_path / "good")
    assert (tmp_path / "good" / "sub" / "with space" / "long fn.txt").is_file()
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract(evil, tmp_path / "sandbox" / "evil")
    assert not any(tmp_path.rglob("pwned.txt"))


def test_cache_lock_serialises_runs_sharing_the_cache(tmp_path: Path) -> None:
    import threading
    import time

    from twostream.datasets.official import cache_lock

    order: list[str] = []

    def second() -> None:
        with cache_lock(tmp_path, "ucf101"):
            order.append("second")

    with cache_lock(tmp_path, "ucf101"):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append("first done")
    thread.join(5)
    assert order == ["first done", "second"]


def test_data_stage_reports_a_bad_root_by_key(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    import yaml

    from conftest import REPO

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["datasets"]["hmdb51"] = "hmdb51"
    params["hmdb51"]["root"] = str(tmp_path / "nowhere")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    proc = subprocess.run([sys.executable, "stages/data.py", "hmdb51", str(tmp_path / "raw"),
                           str(tmp_path / "splits.csv"), "--params", str(path)], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "data@hmdb51: hmdb51.root=" in proc.stderr and "is not a folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_two_urls_with_one_file_name_keep_their_own_archives(tmp_path: Path) -> None:
    """`.../a/archive.zip` (videos) and `.../b/archive.zip` (splits): each is downloaded and
    unpacked as itself (they used to share one cache name: the splits never downloaded and the
    videos were unpacked as the splits)."""
    videos = make_zip({rel: (REAL / "ucf101" / rel).read_bytes() for rel in UCF_CLIPS})
    splits = _folder_zip(REAL / "ucf101" / "ucfTrainTestlist", "ucfTrainTestlist")
    served = Served(files={"/a/archive.zip": videos, "/b/archive.zip": splits})
    with FileServer(served) as url:
        source = repo_block("ucf101", videos_urls=(url + "/a/archive.zip",),
                           splits_urls=(url + "/b/archive.zip",), subset=True)
        table = prepare_dataset("ucf101", source, _download(tmp_path), tmp_path / "raw",
                                base=tmp_path)
    assert sorted(table["path"]) == UCF_CLIPS
    assert {p for p, _, _ in served.requests} == {"/a/archive.zip", "/b/archive.zip"}
