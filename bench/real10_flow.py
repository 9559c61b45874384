"""Which flow backend serves the temporal stream best on real footage? One temporal net per backend.

    python bench/real10_flow.py                      # the ucf101-real10 preset, splits 1-3
    python bench/real10_flow.py --splits 1 --work /tmp/real10_flow --no-append

The clips of ``presets/ucf101-real10.yaml`` (frames decoded once), then for each backend
setting: the flow stage, the temporal stream's ``table1b.<cell>`` net trained on every split
asked for, and the test protocol, all by the pipeline's own stage scripts with a params file
that differs from params.yaml + the preset only in the flow settings (forward flow only: the
cell's input needs no backward fields). Prints accuracy per split, their mean and the seconds
of each stage; appends the table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twostream.evaluation.scores import accuracy  # noqa: E402
from twostream.presets import load_preset, with_overrides  # noqa: E402
from twostream.evaluation.scores import load_scores, split_files  # noqa: E402
from results import report  # noqa: E402

# name: flow params over the preset's (OpenCV's default epsilon, the project's, the batched
# torch implementation at the project's, Farneback, and DIS at OpenCV's medium preset).
SETTINGS: dict[str, dict[str, Any]] = {
    "opencv-tvl1 eps 0.01": {"backend": "opencv-tvl1", "tvl1_epsilon": 0.01},
    "opencv-tvl1 eps 0.05": {"backend": "opencv-tvl1", "tvl1_epsilon": 0.05},
    "torch-tvl1 eps 0.05": {"backend": "torch-tvl1", "tvl1_epsilon": 0.05},
    "opencv-farneback": {"backend": "opencv-farneback"},
    "opencv-dis": {"backend": "opencv-dis"},
}


def stage(args: list[str], log: Path) -> float:
    """Run one stage script from the repository root; seconds it took (fails loudly)."""
    start = time.perf_counter()
    with open(log, "a") as handle:
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed (exit {proc.returncode}); see {log}")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", type=Path, default=ROOT / "presets/ucf101-real10.yaml")
    parser.add_argument("--work", type=Path, default=Path("/tmp/twostream-real10-flow"),
                        help="frames, flow, models and scores (outside the repository)")
    parser.add_argument("--splits", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--cell", default="flow10_sub", help="the table1b cell trained")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    preset = load_preset(args.preset, ROOT)
    base = with_overrides(yaml.safe_load((ROOT / "params.yaml").read_text()),
                       {**preset, "run.splits": args.splits, "flow.backward": False})
    base["table1b"] = {args.cell: base["table1b"][args.cell]}  # the others may need backward flow
    base["table2"]["input"] = args.cell
    log = work / "stages.log"
    base_file = work / "params.yaml"
    base_file.write_text(yaml.safe_dump(base, sort_keys=False))
    splits_csv, raw, frames = work / "splits.csv", work / "raw", work / "frames"
    times = {"data": stage(["stages/data.py", "ucf101", str(raw), str(splits_csv),
                            "--params", str(base_file)], log)}
    times["frames"] = stage(["stages/frames.py", str(raw), str(splits_csv), str(frames),
                             "--params", str(base_file)], log)
    rows = []
    for name in args.settings:
        slug = name.replace(" ", "_")
        params_file = work / f"params-{slug}.yaml"
        params_file.write_text(yaml.safe_dump(
            with_overrides(base, {f"flow.{k}": v for k, v in SETTINGS[name].items()}), sort_keys=False))
        flow, models, scores = work / f"flow-{slug}", work / f"models-{slug}", work / f"scores-{slug}"
        common = ["--params", str(params_file)]
        seconds = {"flow": stage(["stages/flow.py", str(frames), str(splits_csv), str(flow), *common], log)}
        seconds["train"] = stage(["stages/train.py", "temporal", args.cell, "--data", "ucf101", str(flow),
                                  str(splits_csv), "--out", "ucf101", str(models), "--live",
                                  str(work / f"live-{slug}"), "--checkpoints", str(work / "checkpoints"),
                                  *common], log)
        seconds["evaluate"] = stage(["stages/evaluate.py", "temporal", str(flow), str(splits_csv),
                                     str(models), str(scores), *common], log)
        per_split = {}
        for split, path in split_files(scores).items():
            result = load_scores(path)
            _, labels, values = result.side("test")
            per_split[split] = 100 * accuracy(values, labels)
        rows.append((name, per_split, seconds))
        print(name, per_split, seconds, flush=True)
    classes = len({line.split(",")[3] for line in splits_csv.read_text().splitlines()[1:]})
    lines = [f"### temporal stream `{args.cell}` on real UCF-101 footage by flow backend "
             f"({datetime.date.today()})", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, no GPU; preset "
             f"`{args.preset.name}` (frames.short_side {preset.get('frames.short_side')}, "
             f"max_frames {preset.get('frames.max_frames')}, input {preset.get('temporal.input_size')}), "
             f"forward flow only; {classes} classes (chance {100 / classes:.0f}%); frames "
             f"{times['frames']:.0f} s", "",
             "| flow | " + " | ".join(f"split {s} (%)" for s in args.splits)
             + " | mean (%) | flow (s) | train (s) | evaluate (s) |",
             "|---|" + "---|" * len(args.splits) + "---|---|---|---|"]
    for name, per_split, seconds in rows:
        accs = [per_split.get(s, float("nan")) for s in args.splits]
        lines.append(f"| {name} | " + " | ".join(f"{a:.1f}" for a in accs)
                     + f" | **{np.mean(accs):.1f}** | {seconds['flow']:.0f} | {seconds['train']:.0f} "
                       f"| {seconds['evaluate']:.0f} |")
    report(lines, append=not args.no_append)


if __name__ == "__main__":
    main()
