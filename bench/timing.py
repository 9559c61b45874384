"""Where the time goes: the default `dvc repro` from scratch by stage and by kind of work, and
the test suite's slowest tests.

    python bench/timing.py repro      # dvc repro in a fresh clone of HEAD (no outputs, no run cache)
    python bench/timing.py tests      # the README's test command with --durations

`repro` runs the pipeline as a newcomer does, in a `git clone` of the last commit with its own
empty DVC cache, with ``TWOSTREAM_TIMING`` set, so every stage process records when it started,
when its imports were done and when it ended. Each stage's wall time (from DVC starting it to
DVC starting the next) then splits into process start-up and imports, the stage's own work,
and DVC's own time (hashing outputs, writing dvc.lock, starting the process). `tests` runs
`python -m pytest -q --durations=0` and sums the time by test file. Both print a table and
append it to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twostream.errors import TIMING_ENV  # noqa: E402
from real10 import run_timed  # noqa: E402
from results import report  # noqa: E402

# A stage's kind of work, by the script it runs.
KINDS = {"fingerprints": "code fingerprints", "data": "data (generate or import)", "frames": "decoding (frames)",
         "flow": "optical flow", "train": "training", "evaluate": "scoring (test protocol)",
         "svm_scores": "scoring (the SVM's training videos)", "fuse": "fusion", "report": "report"}


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or platform.machine())
    return f"{model}, {os.cpu_count()} cores, no GPU"


def script_of(stage: str) -> str:
    """The stage script a stage runs, from its name (dvc.yaml's naming rule)."""
    name = stage.partition("@")[0]
    for prefix in ("train", "evaluate", "svm_scores"):
        if name.startswith(prefix):
            return prefix
    return name


def repro(args: argparse.Namespace) -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="twostream-timing-"))
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    if args.cache:  # outputs land in a cache the workspace shares: its `dvc repro` then restores them
        subprocess.run(["dvc", "cache", "dir", str(Path(args.cache).resolve())], cwd=clone, check=True)
    timing = work / "timing.jsonl"
    per_stage, total = run_timed(["dvc", "repro"], work / "repro.log", cwd=clone,
                                 env={TIMING_ENV: str(timing), "PYTHONPATH": str(clone)})
    records = [json.loads(line) for line in timing.read_text().splitlines()]
    by_script: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_script[record["script"]].append(record)
    rows = []
    for stage, wall in per_stage.items():
        record = by_script[script_of(stage)].pop(0) if by_script[script_of(stage)] else None
        startup = record["entered"] - record["started"] if record and record["started"] else 0.0
        own = record["ended"] - record["entered"] if record else 0.0
        rows.append((stage, wall, startup, own))
    kinds: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for stage, wall, startup, own in rows:
        entry = kinds[KINDS.get(script_of(stage), script_of(stage))]
        entry[0] += 1
        entry[1] += wall
        entry[2] += startup
        entry[3] += own
    sums = [sum(r[i] for r in rows) for i in (1, 2, 3)]
    lines = [f"### the default `dvc repro` from scratch, by kind of work ({datetime.date.today()})", "",
             f"Machine: {machine()}. A fresh clone of {args.rev} with an empty DVC cache; "
             f"`bench/timing.py repro`. Whole run: **{total:.0f} s** ({total / 60:.1f} min), "
             f"{len(rows)} stages; before the first stage and after the last (DVC reading the "
             f"pipeline, checking outputs): {total - sums[0]:.0f} s.", "",
             "| kind of work | stages | wall s | start-up and imports s | the stage's work s | DVC's own s |",
             "|---|---|---|---|---|---|"]
    for kind, (count, wall, startup, own) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
        lines.append(f"| {kind} | {count} | {wall:.0f} | {startup:.0f} | {own:.0f} | {wall - startup - own:.0f} |")
    lines.append(f"| **all** | {len(rows)} | {sums[0]:.0f} | {sums[1]:.0f} | {sums[2]:.0f} | "
                 f"{sums[0] - sums[1] - sums[2]:.0f} |")
    lines += ["", "| stage | wall s | start-up s | work s |", "|---|---|---|---|"]
    lines += [f"| {stage} | {wall:.1f} | {startup:.1f} | {own:.1f} |"
              for stage, wall, startup, own in sorted(rows, key=lambda r: -r[1])[:args.top]]
    return lines


DURATION = re.compile(r"^([\d.]+)s (call|setup|teardown)\s+(\S+?)(?:::(\S+))?$")


def tests(args: argparse.Namespace) -> list[str]:
    begin = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "--durations=0", "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True)
    total = time.perf_counter() - begin
    per_test: dict[str, float] = defaultdict(float)
    per_file: dict[str, float] = defaultdict(float)
    for line in proc.stdout.splitlines():
        match = DURATION.match(line.strip())
        if match:
            seconds, _, path, name = match.groups()
            per_test[f"{path}::{name}"] += float(seconds)
            per_file[path] += float(seconds)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "(no output)"
    lines = [f"### the test suite, `python -m pytest -q` ({datetime.date.today()})", "",
             f"Machine: {machine()}. {args.rev}; `bench/timing.py tests`. Whole run: **{total:.0f} s** "
             f"({total / 60:.1f} min): {summary}", "", "| test file | s |", "|---|---|"]
    lines += [f"| {path} | {s:.1f} |" for path, s in sorted(per_file.items(), key=lambda kv: -kv[1])[:args.top]]
    lines += ["", "| slowest tests (setup + call + teardown) | s |", "|---|---|"]
    lines += [f"| {name} | {s:.1f} |" for name, s in sorted(per_test.items(), key=lambda kv: -kv[1])[:args.top]]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("repro", "tests"))
    parser.add_argument("--cache", help="repro: a DVC cache folder for the clone (e.g. .dvc/cache: "
                                         "the run's outputs and run cache then serve this workspace)")
    parser.add_argument("--top", type=int, default=15, help="rows of the per-stage / per-test tables")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    args.rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    lines = repro(args) if args.what == "repro" else tests(args)
    report(lines, append=not args.no_append)


if __name__ == "__main__":
    main()
