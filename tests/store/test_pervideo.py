"""Per-video jobs: resume, stale files, bad videos filed, and machine errors that stop the stage."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from twostream.store.pervideo import FAILURES, Job, MachineError, run_jobs
from twostream.store.zipstore import is_current, read_meta, write_archive

from conftest import REPO


def _jobs(out: Path, n: int = 5) -> list[Job]:
    return [Job(f"C/v{k}", Path(f"v{k}.avi"), out / "C" / f"v{k}.zip", {"k": k}) for k in range(n)]


def _work(job: Job) -> None:
    if job.video_id == "C/v1":
        raise ValueError("cannot decode: a bad video")
    write_archive(job.target, {"rgb/00000.jpg": b"x" * 50_000}, {"recipe": job.recipe})


def test_a_full_disk_fails_the_stage_and_a_rerun_redoes_exactly_the_rest(tmp_path, monkeypatch):
    """ENOSPC is the machine's fault, not the video's: not filed as a failure (DVC would record
    the out and the next run would skip the video for good), no temp file left, and a rerun
    computes exactly the videos that were not finished."""
    out = tmp_path / "frames"
    jobs = _jobs(out)
    real_writestr = zipfile.ZipFile.writestr

    def full_disk(self, name, data, *args, **kwargs):
        if "v3" in str(self.filename) and name != "meta.json":  # mid-write of the 4th video
            real_writestr(self, name, data[:100], *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_writestr(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", full_disk)
    with pytest.raises(MachineError, match=r"No space left on device.*MB free on the disk.*"
                                           r"about .* MB more for the 2 videos left.*rerun"):
        run_jobs(jobs, _work, out, workers=1, desc="frames")
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    assert is_current(jobs[0].target, jobs[0].recipe) and is_current(jobs[2].target, jobs[2].recipe)
    assert not jobs[3].target.exists()

    monkeypatch.setattr(zipfile.ZipFile, "writestr", real_writestr)
    again = run_jobs(jobs, _work, out, workers=1, desc="frames")
    assert (again.done, again.skipped) == (2, 2)  # v3 and v4; v0 and v2 kept; v1 is a bad video
    assert set(json.loads((out / FAILURES).read_text())) == {"C/v1"}


def test_a_bad_video_is_filed_and_the_stage_goes_on(tmp_path):
    out = tmp_path / "frames"
    result = run_jobs(_jobs(out), _work, out, workers=2, desc="frames")
    assert (result.done, set(result.failures)) == (4, {"C/v1"})
    assert "a bad video" in json.loads((out / FAILURES).read_text())["C/v1"]


def _huge(job: Job) -> None:
    import cv2
    import numpy as np

    if job.video_id == "C/v2":  # what --short-side 100000 made OpenCV do on every video
        cv2.resize(np.zeros((4, 4), np.uint8), (1_000_000, 1_000_000))
    _work(job)


def test_an_allocation_failure_stops_the_run_instead_of_filing_videos_as_bad(tmp_path):
    out = tmp_path / "flow"
    with pytest.raises(MachineError, match="Insufficient memory"):
        run_jobs(_jobs(out), _huge, out, workers=1, desc="flow")
    assert not (out / FAILURES).exists() or "C/v2" not in json.loads((out / FAILURES).read_text())


def _record_threads(job: Job) -> None:
    import cv2
    import torch

    write_archive(job.target, {"rgb/00000.jpg": b"x"},
                  {"recipe": job.recipe, "threads": [torch.get_num_threads(), cv2.getNumThreads()]})


def test_a_pool_worker_runs_opencv_and_torch_on_one_core(tmp_path):
    """One process per core: a worker whose OpenCV or torch-tvl1's compiled kernels ran one
    thread per core would oversubscribe the machine."""
    out = tmp_path / "flow"
    jobs = _jobs(out, 2)
    run_jobs(jobs, _record_threads, out, workers=2, desc="flow")
    assert [read_meta(job.target)["threads"] for job in jobs] == [[1, 1], [1, 1]]


PARENT = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from twostream.store.pervideo import Job, run_jobs
import slow_work
out = Path(sys.argv[1])
run_jobs([Job(f"C/v{k}", Path("x"), out / f"v{k}.zip", {}) for k in range(4)], slow_work.work, out,
         workers=2, desc="flow")
"""
SLOW_WORK = """
import os, time
from pathlib import Path

def work(job):
    (job.target.parent / f"worker{os.getpid()}").write_text("")
    for _ in range(300):  # 30 s of "flow", writing as it goes
        time.sleep(0.1)
        (job.target.parent / f"worker{os.getpid()}").write_text(str(time.time()))
"""


def test_pool_workers_die_with_a_killed_parent(tmp_path):
    """kill -9 of a run with --workers 2: the parent cannot stop its pool, so each worker must
    notice its parent is gone and exit instead of writing on for minutes."""
    import signal
    import time

    (tmp_path / "slow_work.py").write_text(SLOW_WORK)
    out = tmp_path / "out"
    out.mkdir()
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(out), str(tmp_path)], cwd=REPO,
                              env={**__import__("os").environ, "PYTHONPATH": f"{REPO}:{tmp_path}"})
    deadline = time.time() + 60
    while len(list(out.glob("worker*"))) < 2 and time.time() < deadline:
        time.sleep(0.2)
    workers = [int(p.name.removeprefix("worker")) for p in out.glob("worker*")]
    assert len(workers) == 2, "the workers never started"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    alive = workers
    while alive and time.time() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()
                 and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()]
    for pid in alive:  # (a failed run must not leave them behind)
        __import__("os").kill(pid, signal.SIGKILL)
    assert not alive, f"workers {alive} outlived their killed parent"


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_frames_stage_on_a_small_tmpfs_exits_non_zero_and_resumes(tiny_dataset, tmp_path):
    """The real stage script on a real full disk (a 200 KB tmpfs): it fails naming the disk,
    leaves no temp file, files no video as bad; with room made, the rerun finishes the rest."""
    disk = tmp_path / "disk"
    if shutil.which("mount") is None or not _mount_tmpfs(disk, "200k"):
        pytest.skip("needs permission to mount a tmpfs (root); the patched test above covers it")
    try:
        splits = tmp_path / "splits.csv"
        from twostream.datasets.splits import read_ucf_splits, save_table

        save_table(read_ucf_splits(tiny_dataset / "ucfTrainTestlist"), splits)
        command = [sys.executable, str(REPO / "stages" / "frames.py"), str(tiny_dataset), str(splits),
                   str(disk / "frames"), "--params", str(REPO / "params.yaml")]
        first = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        assert first.returncode != 0
        assert "No space left on device" in first.stderr and "free on the disk" in first.stderr
        assert "Traceback" not in first.stderr
        kept = sorted((disk / "frames").rglob("*.zip"))
        assert kept and not [p for p in disk.rglob("*") if ".tmp" in p.name]
        failures = disk / "frames" / FAILURES
        assert not failures.exists() or json.loads(failures.read_text()) == {}
        subprocess.run(["mount", "-o", "remount,size=20m", str(disk)], check=True)
        second = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        assert second.returncode == 0, second.stderr
        assert "already done" in second.stderr and len(list((disk / "frames").rglob("*.zip"))) == 12
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_a_full_disk_message_sizes_folder_outputs_too(tmp_path):
    """The denseflow layout writes a folder per video: the estimate counts its files."""
    from twostream.store.pervideo import machine_error

    done = tmp_path / "out" / "clip"
    done.mkdir(parents=True)
    for k in range(4):
        (done / f"flow_x_{k:05d}.jpg").write_bytes(b"x" * 2**18)  # 1 MB in all
    err = machine_error(OSError(errno.ENOSPC, "No space left on device"), tmp_path / "out", [done], 3)
    assert "about 3.0 MB more for the 3 videos left (1.0 MB each so far)" in str(err)
    none = machine_error(OSError(errno.ENOSPC, "No space left on device"), tmp_path / "out", [], 3)
    assert "3 videos left (none finished yet" in str(none) and "room for" not in str(none)
