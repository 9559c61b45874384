"""The whole pipeline on real UCF-101 footage: `dvc exp run` with a preset, timed stage by stage.

    python bench/real10.py                          # presets/ucf101-real10.yaml, split 1
    python bench/real10.py --splits 1 2 3           # and the mean over the three splits
    python bench/real10.py --preset presets/ucf101-real10.yaml presets/tsn.yaml   # TSN's recipe
    python bench/real10.py --dry-run                # print the dvc command only

Runs ``dvc exp run`` in the workspace with the preset's values as ``-S`` flags (see
``presets/ucf101-real10.yaml``: every key is a params.yaml key), so the results are an ordinary
DVC experiment (`dvc exp show`, `dvc exp apply`). Prints, and appends to bench/RESULTS.md,
each ucf101-part cell's test accuracy per split and mean, both fusions, and the seconds spent in
each kind of stage (from the time each stage started).
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
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twostream.evaluation.scores import accuracy  # noqa: E402
from twostream.presets import as_flag_value, load_preset, preset_flags  # noqa: E402
from twostream.evaluation.scores import load_scores, split_files  # noqa: E402
from results import report  # noqa: E402

STAGE = re.compile(r"Running stage '([\w@.-]+)'")


def run_timed(command: list[str], log: Path, cwd: Path = ROOT,
              env: dict[str, str] | None = None) -> tuple[dict[str, float], float]:
    """Run ``command`` in ``cwd`` echoing its output to ``log``; each stage's seconds (from its
    start to the next stage's start) and the total."""
    starts: list[tuple[str, float]] = []
    begin = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env={**os.environ, "DVC_NO_ANALYTICS": "1", **(env or {})})
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            match = STAGE.search(line)
            if match:
                starts.append((match.group(1), time.perf_counter()))
                print(f"[{time.perf_counter() - begin:7.0f} s] {match.group(1)}", flush=True)
        code = proc.wait()
    total = time.perf_counter() - begin
    if code:
        raise SystemExit(f"{' '.join(command[:3])} ... failed (exit {code}); see {log}")
    ends = [t for _, t in starts[1:]] + [begin + total]
    return {name: end - start for (name, start), end in zip(starts, ends)}, total


def kind(stage: str) -> str:
    """A stage's family for the time table: its name before '@', with the part kept for the
    per-dataset stages (data, frames, flow)."""
    name = stage.partition("@")[0]
    return stage if name in ("data", "frames", "flow") else name


def cell_accuracies(scores_root: Path) -> dict[str, dict[int, float]]:
    """Test accuracy (%) per split of every scored ucf101 cell: spatial/<cell>, temporal/<cell>."""
    out: dict[str, dict[int, float]] = {}
    for stream in ("spatial", "temporal"):
        for folder in sorted((scores_root / stream).glob("*")):
            per_split = {}
            for split, path in split_files(folder).items():
                _, labels, values = load_scores(path).side("test")
                per_split[split] = 100 * accuracy(values, labels)
            if per_split:
                out[f"{stream} {folder.name}"] = per_split
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", type=Path, nargs="+", default=[ROOT / "presets/ucf101-real10.yaml"],
                        help="presets applied in order, a later one's keys winning (e.g. "
                             "presets/ucf101-real10.yaml presets/tsn.yaml)")
    parser.add_argument("--root", help="the clips' folder (default: the preset's folder.root)")
    parser.add_argument("--splits", type=int, nargs="+", default=[1])
    parser.add_argument("--name", default=None, help="experiment name (default real10-splits<...>)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="more -S overrides, after the preset's")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    values = {}
    for preset in args.preset:
        values |= load_preset(preset, ROOT)
    if args.root:
        values["folder.root"] = str(Path(args.root).resolve())
    values["run.splits"] = args.splits
    name = args.name or "real10-splits" + "".join(map(str, args.splits))
    command = ["dvc", "exp", "run", "-n", name, *preset_flags(values)]
    for extra in args.set:
        command += ["-S", extra]
    print(" ".join(command), flush=True)
    if args.dry_run:
        return
    log = ROOT / "tmp" / f"{name}.log"
    log.parent.mkdir(exist_ok=True)
    per_stage, total = run_timed(command, log)
    by_kind: dict[str, list[float]] = defaultdict(list)
    for stage, seconds in per_stage.items():
        by_kind[kind(stage)].append(seconds)
    (ROOT / "tmp" / f"{name}.stages.json").write_text(json.dumps(per_stage, indent=1))

    summary = json.loads((ROOT / "metrics/summary.json").read_text())
    cells = cell_accuracies(ROOT / "metrics/scores/ucf101")
    fused = {m: {int(k.removeprefix("split")): v["ucf101"][m] for k, v in summary.items()
                 if k.startswith("split") and "ucf101" in v}
             for m in ("spatial", "temporal", "fusion_average", "fusion_svm")}
    splits = args.splits
    header = "| net | " + " | ".join(f"split {s}" for s in splits) + " | mean |"
    lines = [f"### the pipeline on real UCF-101 footage, `{' + '.join(p.name for p in args.preset)}`, splits "
             f"{', '.join(map(str, splits))} ({datetime.date.today()})", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, no GPU. `{' '.join(command)}`"
             .replace(str(ROOT.parent), ".."), "",
             f"Whole run: {total / 60:.1f} min, {len(per_stage)} stages. Test accuracy (%), "
             f"the ucf101 part (hmdb51: synthetic_hmdb):", "", header,
             "|---|" + "---|" * (len(splits) + 1)]

    def row(label: str, per_split: dict[int, float]) -> str:
        accs = [per_split.get(s) for s in splits]
        shown = ["-" if a is None else f"{a:.1f}" for a in accs]
        mean = np.mean([a for a in accs if a is not None]) if any(a is not None for a in accs) else None
        return f"| {label} | " + " | ".join(shown) + f" | **{'-' if mean is None else f'{mean:.1f}'}** |"

    lines += [row(label, per_split) for label, per_split in cells.items()]
    lines += [row(f"Table 4 {m.replace('_', ' ')}", fused[m]) for m in fused]
    lines += ["", "| stages | count | seconds |", "|---|---|---|"]
    lines += [f"| {k} | {len(v)} | {sum(v):.0f} |" for k, v in by_kind.items()]
    report(lines, append=not args.no_append)
    print(f"preset values: {json.dumps({k: as_flag_value(v) for k, v in values.items()})}")


if __name__ == "__main__":
    main()
