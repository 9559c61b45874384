"""A stage process ends as ``sys.exit`` would (status, message, logs, atexit, threads, every
byte written) but without the interpreter's teardown."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from conftest import REPO

SCRIPT = textwrap.dedent("""
    import atexit, concurrent.futures, logging, sys, threading, time
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from twostream.errors import UserError, run_stage

    mode, out = sys.argv[1], Path(sys.argv[2])

    class Finalised:
        def __del__(self):
            (out / "finalised").write_text("the interpreter's teardown ran")

    KEPT = Finalised()  # a module global: the interpreter's teardown finalises it
    EXECUTOR = concurrent.futures.ProcessPoolExecutor(1)


    def main():
        logging.basicConfig(filename=out / "log", level=logging.INFO)
        logging.info("logged")
        atexit.register(lambda: (out / "atexit").write_text("ran"))
        threading.Thread(target=lambda: (time.sleep(0.3), (out / "thread").write_text("done"))).start()
        sys.stdout.write("no newline yet")  # buffered: written only when flushed
        # left open, as joblib leaves its workers: its manager thread ends on threading's exit hook
        EXECUTOR.submit(pow, 2, 3).result()
        if mode == "message":
            raise SystemExit("stage: went wrong")
        if mode == "user":
            raise UserError("params.yaml: key: how to fix it")


    if mode == "plain exit":
        main()
        sys.exit(0)
    run_stage(main)
""")


@pytest.fixture
def stage(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text(SCRIPT.format(repo=str(REPO)))

    def run(mode: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(script), mode, str(tmp_path)],
                              capture_output=True, text=True, timeout=30)
    return run


def test_a_plain_exit_runs_the_teardown_the_stage_skips(stage, tmp_path):
    assert stage("plain exit").returncode == 0 and (tmp_path / "finalised").exists()


@pytest.mark.parametrize("mode, status, stderr", [
    ("done", 0, ""),
    ("message", 1, "stage: went wrong\n"),
    ("user", 2, "stage: params.yaml: key: how to fix it\n"),
])
def test_a_stage_ends_as_sys_exit_would_without_the_teardown(stage, tmp_path, mode, status, stderr):
    result = stage(mode)
    assert (result.returncode, result.stderr) == (status, stderr)
    assert result.stdout == "no newline yet"
    assert (tmp_path / "log").read_text().strip() == "INFO:root:logged"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "done"
    assert not (tmp_path / "finalised").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process start times come from /proc")
def test_the_timing_record_says_when_the_process_started(tmp_path):
    """bench/timing.py splits a stage's time into start-up (process start to ``main``) and
    work; a start taken from the boot time's whole second put up to a second of DVC's own
    time into start-up."""
    import json
    import os
    import time

    from twostream.errors import TIMING_ENV

    record = tmp_path / "timing.jsonl"
    script = tmp_path / "probe.py"
    script.write_text(f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
                      "from twostream.errors import run_stage\nrun_stage(lambda: None)\n")
    before = time.time()
    subprocess.run([sys.executable, str(script)], env={**os.environ, TIMING_ENV: str(record)},
                   check=True, timeout=30)
    after = time.time()
    times = json.loads(record.read_text())
    assert before - 0.05 <= times["started"] <= times["entered"] <= times["ended"] <= after
    assert times["started"] - before < 0.2  # the process starts as soon as it is spawned
