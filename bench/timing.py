"""Where the time goes: the default `dvc repro` from scratch by stage and by kind of work, and
the test suite's slowest tests.

    python bench/timing.py repro                  # dvc repro in a fresh clone of HEAD
    python bench/timing.py compare --base REV     # REV's and HEAD's, one after the other
    python bench/timing.py tests                  # the README's test command with --durations

`repro` runs the pipeline as a newcomer does, in a `git clone` of the last commit with its own
empty DVC cache and an empty torch.compile cache, with ``TWOSTREAM_TIMING`` set, so every stage process records when it started,
when its imports were done and when it ended. Each stage's wall time (from DVC starting it to
DVC starting the next) then splits into process start-up and imports, the stage's own work,
and DVC's own time (hashing outputs, writing dvc.lock, starting the process). `compare` does
that for two commits one after the other and sets their times and tables' cells side by side
(a speed change must leave every cell as it was, or say why). `tests` runs
`python -m pytest -q --durations=0` (also with an empty torch.compile cache, as CI's) and sums
the time by test file. Both print a table and
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


def timed_repro(rev: str, work: Path) -> dict:
    """`dvc repro` in a fresh clone of ``rev`` under ``work``, as a newcomer runs it: empty DVC
    cache, no run cache, and an empty torch.compile cache (a first run on a machine compiles
    torch-tvl1's kernels). Each stage's wall, start-up and own seconds, the total, and the run's
    metrics/summary.json."""
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "-q", rev], cwd=clone, check=True)
    timing = work / "timing.jsonl"
    per_stage, total = run_timed(["dvc", "repro"], work / "repro.log", cwd=clone,
                                 env={TIMING_ENV: str(timing), "PYTHONPATH": str(clone),
                                      "TORCHINDUCTOR_CACHE_DIR": str(work / "inductor")})
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
    summary = json.loads((clone / "metrics/summary.json").read_text())
    return {"rev": rev, "rows": rows, "total": total, "summary": summary, "clone": clone}


def by_kind(run: dict, top: int) -> list[str]:
    """The run's table by kind of work, then its slowest ``top`` stages."""
    rows, total = run["rows"], run["total"]
    kinds: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for stage, wall, startup, own in rows:
        entry = kinds[KINDS.get(script_of(stage), script_of(stage))]
        entry[0] += 1
        entry[1] += wall
        entry[2] += startup
        entry[3] += own
    sums = [sum(r[i] for r in rows) for i in (1, 2, 3)]
    lines = [f"### the default `dvc repro` from scratch, by kind of work ({datetime.date.today()})", "",
             f"Machine: {machine()}. A fresh clone of {run['rev']} with an empty DVC cache and an empty "
             f"torch.compile cache; `bench/timing.py`. Whole run: **{total:.0f} s** ({total / 60:.1f} min), "
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
              for stage, wall, startup, own in sorted(rows, key=lambda r: -r[1])[:top]]
    return lines


def cells(summary: dict, prefix: str = "") -> dict[str, float]:
    """metrics/summary.json flattened to {"table4.ucf101.spatial": 61.2, ...}."""
    flat: dict[str, float] = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            flat.update(cells(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def repro(args: argparse.Namespace) -> list[str]:
    run = timed_repro(args.rev, Path(tempfile.mkdtemp(prefix="twostream-timing-")))
    return by_kind(run, args.top)


def compare(args: argparse.Namespace) -> list[str]:
    """``--base`` and ``--rev`` from scratch one after the other on this machine: the two
    totals, their ratio, each kind of work side by side, and the tables' cells compared."""
    work = Path(tempfile.mkdtemp(prefix="twostream-timing-"))
    base = timed_repro(args.base, work / "base")
    new = timed_repro(args.rev, work / "new")
    old_cells, new_cells = cells(base["summary"]), cells(new["summary"])
    shared = sorted(set(old_cells) & set(new_cells))
    differ = [k for k in shared if old_cells[k] != new_cells[k]]
    lines = [f"### the default `dvc repro` from scratch: {args.base} and {args.rev} side by side "
             f"({datetime.date.today()})", "",
             f"Machine: {machine()}. Each a fresh clone with an empty DVC cache and an empty "
             f"torch.compile cache, one after the other; `bench/timing.py compare`.", "",
             "| | stages | whole run s | min |", "|---|---|---|---|",
             f"| {args.base} | {len(base['rows'])} | {base['total']:.0f} | {base['total'] / 60:.1f} |",
             f"| {args.rev} | {len(new['rows'])} | {new['total']:.0f} | {new['total'] / 60:.1f} |",
             f"| ratio | | {base['total'] / new['total']:.2f}x | |", "",
             f"Tables' cells (metrics/summary.json): {len(shared)} in both, {len(shared) - len(differ)} "
             f"identical, {len(differ)} differ"
             + (": " + ", ".join(f"{k} {old_cells[k]} -> {new_cells[k]}" for k in differ) if differ else "")
             + (f"; only in one: {sorted(set(old_cells) ^ set(new_cells))}" if set(old_cells) ^ set(new_cells)
                else "") + ".", ""]
    walls: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for index, run in enumerate((base, new)):
        for stage, wall, _, _ in run["rows"]:
            walls[KINDS.get(script_of(stage), script_of(stage))][index] += wall
    lines += [f"| kind of work | {args.base} s | {args.rev} s |", "|---|---|---|"]
    lines += [f"| {kind} | {a:.0f} | {b:.0f} |" for kind, (a, b) in sorted(walls.items(), key=lambda kv: -kv[1][0])]
    return lines + [""] + by_kind(new, args.top) + [""] + by_kind(base, args.top)


DURATION = re.compile(r"^([\d.]+)s (call|setup|teardown)\s+(\S+?)(?:::(\S+))?$")


def tests(args: argparse.Namespace) -> list[str]:
    begin = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "--durations=0", "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TORCHINDUCTOR_CACHE_DIR": tempfile.mkdtemp(prefix="twostream-inductor-")})
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
             f"Machine: {machine()}. {args.rev}, an empty torch.compile cache; `bench/timing.py tests`. Whole run: **{total:.0f} s** "
             f"({total / 60:.1f} min): {summary}", "", "| test file | s |", "|---|---|"]
    lines += [f"| {path} | {s:.1f} |" for path, s in sorted(per_file.items(), key=lambda kv: -kv[1])[:args.top]]
    lines += ["", "| slowest tests (setup + call + teardown) | s |", "|---|---|"]
    lines += [f"| {name} | {s:.1f} |" for name, s in sorted(per_test.items(), key=lambda kv: -kv[1])[:args.top]]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("repro", "compare", "tests"))
    parser.add_argument("--rev", default="HEAD", help="repro, compare: the commit to run (default: HEAD)")
    parser.add_argument("--base", help="compare: the commit to run beside --rev")
    parser.add_argument("--top", type=int, default=15, help="rows of the per-stage / per-test tables")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    if args.what == "compare" and not args.base:
        parser.error("compare needs --base REV")
    short = lambda rev: subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True,  # noqa: E731
                                       text=True, check=True).stdout.strip()
    args.rev = short(args.rev)
    args.base = short(args.base) if args.base else None
    lines = {"repro": repro, "compare": compare, "tests": tests}[args.what](args)
    report(lines, append=not args.no_append)


if __name__ == "__main__":
    main()
