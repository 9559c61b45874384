"""The flow stage with the batched backend: same archive layout, batch recorded, close to OpenCV."""

from __future__ import annotations

import numpy as np

from twostream.flow.extract import extract_flow
from twostream.store.zipstore import ArchiveReader, archive_name, flow_members, read_meta
from twostream.store.flow_jpeg import decode_field

from conftest import repo_block


def test_torch_tvl1_flow_stage_matches_the_opencv_one(tiny_archives, tmp_path):
    table, frames_dir, opencv_flow = tiny_archives
    out = tmp_path / "flow"
    result = extract_flow(table, frames_dir, out, repo_block("flow", backend="torch-tvl1", batch_pairs=3, workers=1))
    assert result.done == len(table) and not result.failures
    video = archive_name(table["id"][0])
    meta = read_meta(out / video)
    assert meta["backend"] == "torch-tvl1" and meta["recipe"]["batch_pairs"] == 3
    assert meta["settings"]["device"] in ("cpu", "cuda") and meta["settings"]["compiled"] is True
    assert meta["n_fields"] == read_meta(opencv_flow / video)["n_fields"]
    diffs = []
    for i in range(meta["n_fields"]):
        with ArchiveReader(out / video) as ours, ArchiveReader(opencv_flow / video) as ref:
            a = decode_field(*(ours.read(m) for m in flow_members(i)), 20.0)
            b = decode_field(*(ref.read(m) for m in flow_members(i)), 20.0)
        diffs.append(np.linalg.norm(a - b, axis=-1).mean())
    assert np.mean(diffs) < 0.5  # px, on 64x48 synthetic clips quantised to 8 bits


def test_backward_fields_are_the_reverse_flow(tiny_archives, tmp_path):
    table, frames_dir, _ = tiny_archives
    out = tmp_path / "flow"
    extract_flow(table.head(2), frames_dir, out, repo_block("flow", backward=True, workers=1))
    video = archive_name(table["id"][0])
    assert read_meta(out / video)["backward"] is True
    with ArchiveReader(out / video) as reader:
        forward = decode_field(*(reader.read(m) for m in flow_members(0)), 20.0)
        backward = decode_field(*(reader.read(m) for m in flow_members(0, backward=True)), 20.0)
    moving = np.linalg.norm(forward, axis=-1) > 0.5
    assert moving.sum() > 20
    # Where things move, the backward field points the other way.
    cosine = (forward * backward).sum(-1)[moving] / (
        np.linalg.norm(forward, axis=-1)[moving] * np.linalg.norm(backward, axis=-1)[moving] + 1e-6)
    assert np.median(cosine) < -0.5


def test_two_torchrun_ranks_split_the_videos(tiny_archives, tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    import yaml

    from conftest import REPO
    from twostream.datasets.splits import save_table

    table, frames_dir, _ = tiny_archives
    save_table(table, tmp_path / "splits.csv")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["flow"].update({"backend": "opencv-farneback", "workers": 1})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    torchrun = shutil.which("torchrun") or sys.executable
    args = ([torchrun] if torchrun.endswith("torchrun") else [sys.executable, "-m", "torch.distributed.run"])
    proc = subprocess.run(args + ["--standalone", "--nproc_per_node", "2", "stages/flow.py", str(frames_dir),
                                  str(tmp_path / "splits.csv"), str(tmp_path / "flow"),
                                  "--params", str(tmp_path / "params.yaml")],
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rank 0 of 2" in proc.stderr and "rank 1 of 2" in proc.stderr
    made = sorted(p.relative_to(tmp_path / "flow") for p in (tmp_path / "flow").rglob("*.zip"))
    assert len(made) == len(table)
    assert {p.name for p in (tmp_path / "flow").glob("failures*.json")} == {"failures.rank0.json",
                                                                            "failures.rank1.json"}
    # A plain rerun finds every video done, whichever rank made it.
    again = extract_flow(table, frames_dir, tmp_path / "flow",
                         repo_block("flow", backend="opencv-farneback", workers=1, backward=True))
    assert again.done == 0 and again.skipped == len(table)


def test_a_video_whose_frames_failed_is_filed_as_such(tiny_archives, tmp_path):
    """Not "archive not found; rerun the stage": its frames failed, and the reason says where."""
    import json
    import shutil

    table, frames_dir, _ = tiny_archives
    frames = tmp_path / "frames"
    shutil.copytree(frames_dir, frames)
    broken = table["id"][1]
    (frames / archive_name(broken)).unlink()
    (frames / "failures.json").write_text(json.dumps({broken: "VideoError: cannot open"}))
    result = extract_flow(table.head(3), frames, tmp_path / "flow", repo_block("flow", workers=1))
    assert result.done == 2 and list(result.failures) == [broken]
    assert result.failures[broken] == (f"its frames failed ({frames / 'failures.json'}: "
                                       f"VideoError: cannot open)")
