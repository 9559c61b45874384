"""`twostream flow`: flow for any videos, in denseflow/mmaction2 folders or zip archives, resumable."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from twostream.cli import main
from twostream.flow.from_videos import (
    TOOL_FLOW,
    ClaimedOutputError,
    NameClashError,
    compute_flow,
    find_videos,
    pair_batches,
    tool_settings,
)
from twostream.flow.groundtruth import texture
from twostream.store.flow_jpeg import decode_field
from twostream.frames.video import write_video
from twostream.store.pervideo import LOCKS
from twostream.store.zipstore import ArchiveReader, flow_members

SHIFT = 2  # px per frame, to the left


def panning_video(path: Path, n_frames: int = 5, seed: int = 0) -> Path:
    """A textured scene the camera pans across: every field is (-SHIFT, 0)."""
    scene = cv2.cvtColor(np.clip(texture(64, 120, np.random.default_rng(seed)), 0, 255).astype(np.uint8),
                         cv2.COLOR_GRAY2BGR)
    write_video(path, [scene[8:56, 8 + SHIFT * k:8 + SHIFT * k + 64] for k in range(n_frames)], 25.0)
    return path


def settings(**changes):
    flow = {**TOOL_FLOW, "backend": "opencv-dis", "workers": 1, **changes}
    layout = flow.pop("layout", "denseflow")
    return tool_settings(flow, 0, True, layout)


def test_pair_batches_give_every_consecutive_pair_once():
    for n in (0, 1, 2, 5, 17, 33):
        for batch in (1, 4, 16):
            pairs = [(start + k, start + k + 1) for start, held in pair_batches(range(n), batch)
                     for k in range(len(held) - 1)]
            assert pairs == [(i, i + 1) for i in range(n - 1)], (n, batch)
            assert all(len(held) <= batch + 1 for _, held in pair_batches(range(n), batch))


def test_find_videos_keeps_class_folders_and_names_what_is_not_a_video(tmp_path):
    for rel in ("videos/Archery/a.avi", "videos/Bowling/a.avi", "videos/notes.txt", "b.mp4", "c/b.mp4"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    named, bad = find_videos([tmp_path / "videos", tmp_path / "b.mp4", tmp_path / "videos/Archery/a.avi",
                              tmp_path / "videos/notes.txt", tmp_path / "gone.avi"])
    assert named == {"Archery/a": tmp_path / "videos/Archery/a.avi", "Bowling/a": tmp_path / "videos/Bowling/a.avi",
                     "b": tmp_path / "b.mp4"}  # a video named twice counts once
    assert set(bad) == {tmp_path / "videos/notes.txt", tmp_path / "gone.avi"}
    assert "not a video" in bad[tmp_path / "videos/notes.txt"] and "no such" in bad[tmp_path / "gone.avi"]


@pytest.mark.parametrize("value", ["1", "15", "100000"])
def test_short_side_out_of_bounds_is_refused_before_any_video(tmp_path, value, capsys):
    video = panning_video(tmp_path / "pan.avi")
    assert main(["flow", str(video), "--out", str(tmp_path / "o"), "--short-side", value]) == 2
    err = capsys.readouterr().err
    assert f"--short-side {value}: must be 0" in err and "16-4320" in err and err.count("\n") == 1


@pytest.mark.parametrize("inputs", [["b.mp4", "c/b.mp4"], ["d"]])
def test_two_videos_with_one_output_name_are_refused_naming_both(tmp_path, inputs):
    for rel in ("b.mp4", "c/b.mp4", "d/clip.avi", "d/clip.mp4"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    with pytest.raises(NameClashError) as err:
        find_videos([tmp_path / i for i in inputs])
    first, second = ("b.mp4", "c/b.mp4") if inputs[0] == "b.mp4" else ("d/clip.avi", "d/clip.mp4")
    assert str(tmp_path / first) in str(err.value) and str(tmp_path / second) in str(err.value)
    assert main(["flow", *(str(tmp_path / i) for i in inputs), "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("layout", ["denseflow", "zip"])
def test_a_finished_output_is_never_replaced_by_another_videos_flow(tmp_path, layout):
    first = panning_video((tmp_path / "a").mkdir() or tmp_path / "a/clip.avi", seed=0)
    other = panning_video((tmp_path / "b").mkdir() or tmp_path / "b/clip.avi", seed=1)
    compute_flow({"clip": first}, tmp_path / "out", settings(layout=layout))
    target = tmp_path / "out" / ("clip.zip" if layout == "zip" else "clip")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in ([target] if layout == "zip" else target.iterdir()))
    with pytest.raises(ClaimedOutputError, match=f"holds the flow of {first}, not of {other}"):
        compute_flow({"clip": other}, tmp_path / "out", settings(layout=layout))
    after = sorted((p.name, p.stat().st_mtime_ns) for p in ([target] if layout == "zip" else target.iterdir()))
    assert after == before
    panning_video(first, seed=2)  # the same file, changed in place: redone
    assert compute_flow({"clip": first}, tmp_path / "out", settings(layout=layout)).summary.done == 1
    moved = tmp_path / "moved.avi"
    os.replace(first, moved)  # the same content elsewhere: already done
    assert compute_flow({"clip": moved}, tmp_path / "out", settings(layout=layout)).summary.skipped == 1


def test_denseflow_layout_holds_frames_and_the_fields_of_the_motion(tmp_path):
    video = panning_video(tmp_path / "pan.avi")
    run = compute_flow({"pan": video}, tmp_path / "out", settings(backward=True))
    assert run.summary.done == 1 and run.pairs == 4
    folder = tmp_path / "out/pan"
    names = sorted(os.listdir(folder))
    # mmaction2 counts a video's fields by the prefix flow_x_: backward ones must not match it
    assert [n for n in names if n.startswith("img_")] == [f"img_{i:05d}.jpg" for i in range(1, 6)]
    assert [n for n in names if n.startswith("flow_x_")] == [f"flow_x_{i:05d}.jpg" for i in range(1, 5)]
    assert len([n for n in names if n.startswith(("flow_y_", "bflow_x_", "bflow_y_"))]) == 12
    record = json.loads((folder / "flow.json").read_text())
    assert record["n_fields"] == 4 and record["bound"] == 20.0 and record["backend"] == "opencv-dis"

    def read(prefix: str, i: int) -> tuple[bytes, bytes]:
        return (folder / f"{prefix}_x_{i:05d}.jpg").read_bytes(), (folder / f"{prefix}_y_{i:05d}.jpg").read_bytes()

    for i in range(1, 5):
        forward, backward = decode_field(*read("flow", i), 20.0), decode_field(*read("bflow", i), 20.0)
        inner = (slice(8, -8), slice(8, -8))
        assert np.median(forward[inner][..., 0]) == pytest.approx(-SHIFT, abs=0.3)
        assert np.median(backward[inner][..., 0]) == pytest.approx(SHIFT, abs=0.3)
        assert abs(np.median(forward[inner][..., 1])) < 0.3


def test_zip_layout_is_the_pipelines_archive(tmp_path):
    video = panning_video(tmp_path / "pan.avi")
    compute_flow({"Class/pan": video}, tmp_path / "out", settings(layout="zip"))
    with ArchiveReader(tmp_path / "out/Class/pan.zip") as archive:
        assert archive.meta["n_fields"] == 4 and archive.meta["width"] == 64
        field = decode_field(*(archive.read(m) for m in flow_members(3)), archive.meta["bound"])
        assert archive.image("rgb/00004.jpg").shape == (48, 64, 3)
    assert np.median(field[8:-8, 8:-8, 0]) == pytest.approx(-SHIFT, abs=0.3)


def test_a_rerun_skips_finished_videos_and_redoes_half_written_or_changed_ones(tmp_path):
    videos = {name: panning_video(tmp_path / f"{name}.avi", seed=k) for k, name in enumerate("abc")}
    out = tmp_path / "out"
    out.mkdir()
    (out / "someone_elses.zip").write_bytes(b"kept")  # a shared folder: what no video names stays
    assert compute_flow(videos, out, settings()).summary.done == 3
    stamp = (out / "a/flow_x_00001.jpg").stat().st_mtime_ns
    again = compute_flow(videos, out, settings())
    assert (again.summary.done, again.summary.skipped, again.pairs) == (0, 3, 0)
    assert (out / "a/flow_x_00001.jpg").stat().st_mtime_ns == stamp
    # a killed run: b's folder half-written under its temp name, c's finished folder gone
    os.rename(out / "b", out / ".b.tmp999")
    (out / ".b.tmp999/flow.json").unlink()
    for path in (out / "c").iterdir():
        path.unlink()
    (out / "c").rmdir()
    resumed = compute_flow(videos, out, settings())
    assert (resumed.summary.done, resumed.summary.skipped) == (2, 1)
    assert not (out / ".b.tmp999").exists() and (out / "b/flow.json").is_file()
    changed = compute_flow(videos, out, settings(bound=10.0))
    assert changed.summary.done == 3
    assert json.loads((out / "a/flow.json").read_text())["bound"] == 10.0
    assert sorted(p.name for p in out.iterdir() if p.name != LOCKS) == ["a", "b", "c", "failures.json", "someone_elses.zip",
                                                     "warnings.json"]


def test_torchrun_ranks_take_disjoint_shares(tmp_path):
    videos = {name: panning_video(tmp_path / f"{name}.avi", n_frames=3) for name in "abcde"}
    out = tmp_path / "out"
    first = compute_flow(videos, out, settings(), shard=(0, 2))
    assert first.summary.done == 3 and sorted(p.name for p in out.iterdir() if p.is_dir() and p.name != LOCKS) == ["a", "c", "e"]
    second = compute_flow(videos, out, settings(), shard=(1, 2))
    assert second.summary.done == 2 and (out / "failures.rank1.json").is_file()
    assert compute_flow(videos, out, settings()).summary.skipped == 5


def test_the_command_names_bad_videos_and_computes_the_rest(tmp_path, capsys):
    good = panning_video(tmp_path / "in/good.avi")
    (tmp_path / "in/broken.avi").write_bytes(b"not a video at all")
    status = main(["flow", str(tmp_path / "in"), str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "out"),
                   "--backend", "opencv-dis", "--workers", "1"])
    err = capsys.readouterr().err
    assert status == 1
    assert f"{tmp_path / 'missing.mp4'}: no such file" in err
    assert str(tmp_path / "in/broken.avi") in err and "Traceback" not in err
    assert "1 videos computed (4 frame pairs" in err and "pairs/s" in err
    assert (tmp_path / "out/good/flow_x_00004.jpg").is_file() and good.is_file()
    assert "broken" in json.loads((tmp_path / "out/failures.json").read_text())


def test_the_command_names_the_flag_of_a_wrong_value(tmp_path, capsys):
    panning_video(tmp_path / "a.avi")
    assert main(["flow", str(tmp_path / "a.avi"), "--out", str(tmp_path / "out"), "--bound", "-3"]) == 2
    assert "--bound -3.0: must be > 0" in capsys.readouterr().err
    assert main(["flow", str(tmp_path / "a.avi"), "--out", str(tmp_path / "out"), "--backend", "dense"]) == 2
    assert "--backend 'dense': must be one of" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_params_file_gives_the_pipelines_flow_block(tmp_path, capsys):
    from conftest import REPO

    video = panning_video(tmp_path / "a.avi", n_frames=3)
    assert main(["flow", str(video), "--out", str(tmp_path / "out"), "--params", str(REPO / "params.yaml"),
                 "--backend", "opencv-dis", "--workers", "1"]) == 0
    record = json.loads((tmp_path / "out/a/flow.json").read_text())
    import yaml

    pipeline = yaml.safe_load((REPO / "params.yaml").read_text())["flow"]
    assert record["recipe"]["backward"] is pipeline["backward"]
    assert record["recipe"]["jpeg_quality"] == pipeline["jpeg_quality"]
    assert record["recipe"]["build"]["epsilon"] == pipeline["tvl1_epsilon"]


def test_a_video_another_live_run_is_computing_is_left_to_it(tmp_path):
    """Two runs on one --out: the second neither removes the first's work in progress nor
    computes the same video again; once the first is gone (its lock with it) a rerun does it."""
    import fcntl
    import hashlib



    videos = {"a": panning_video(tmp_path / "a.avi"), "b": panning_video(tmp_path / "b.avi", seed=1)}
    out = tmp_path / "out"
    (out / LOCKS).mkdir(parents=True)
    other_run = open(out / LOCKS / f"{hashlib.sha1(b'a').hexdigest()[:20]}.lock", "a")
    fcntl.flock(other_run, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "a" is being computed elsewhere
    in_progress = out / ".a.tmp99999"
    in_progress.mkdir()
    run = compute_flow(videos, out, settings())
    assert (run.summary.done, run.summary.elsewhere) == (1, ["a"]) and not run.summary.failures
    assert in_progress.is_dir() and not (out / "a").exists() and (out / "b/flow.json").is_file()
    other_run.close()  # that run ended (or was killed: the kernel drops its lock)
    again = compute_flow(videos, out, settings())
    assert (again.summary.done, again.summary.skipped, again.summary.elsewhere) == (1, 1, [])
    assert (out / "a/flow.json").is_file()


def test_a_linked_class_folder_is_followed_and_a_link_loop_ends(tmp_path):
    (tmp_path / "store/Archery").mkdir(parents=True)
    (tmp_path / "store/Archery/a.avi").write_bytes(b"x")
    (tmp_path / "store/Archery/._a.avi").write_bytes(b"x")  # macOS's AppleDouble: not a video
    (tmp_path / "videos/Bowling").mkdir(parents=True)
    (tmp_path / "videos/Bowling/b.avi").write_bytes(b"x")
    (tmp_path / "videos/Archery").symlink_to(tmp_path / "store/Archery")
    (tmp_path / "videos/Bowling/loop").symlink_to(tmp_path / "videos")
    named, bad = find_videos([tmp_path / "videos"])
    assert named == {"Archery/a": tmp_path / "videos/Archery/a.avi", "Bowling/b": tmp_path / "videos/Bowling/b.avi"}
    assert not bad
