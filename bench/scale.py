"""How the cost grows with the work: every stage timed at 144, 1,440 and 13,320 generated clips.

    python bench/scale.py                              # the three sizes, then the projection
    python bench/scale.py --sizes 144 1440 --no-append

Each size is a generated dataset of 24 classes (every appearance x motion of the synthetic
generator) in UCF-101's file formats and split files: 144 = 24 x 3 groups x 2 clips, 1,440 =
24 x 12 x 5, 13,320 (UCF-101's count) = 24 x 15 x 37; 12 frames of 64x48 per clip, so the
frame and flow costs are tiny and what is left is what grows with the number of videos (file
handling, indexes, metadata, process pools, the SVM). Each stage is the pipeline's own stage
script, run as `dvc repro` runs it, with a params file that differs from params.yaml only in
those sizes, a fixed 20 training iterations, 5 x 10 test inputs per video and opencv-dis flow:
seconds, seconds per video, and peak memory (the stage's process and its workers).

Then the projection of the full UCF-101 split 1 at the paper's sizes (frames at 256 px short
side, 224 crops, CNN-M-2048 at width 1.0, 80K iterations of 256, 25 x 10 test inputs) from
per-unit costs measured here on real 320x240 footage: the seconds per frame, per flow pair, per
training sample and per test input, times UCF-101's units (13,320 clips of 7.21 s at 25 fps).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import resource
import runpy
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from results import report  # noqa: E402

# size -> (groups, clips per group) with all 24 classes
SHAPES = {144: (3, 2), 1440: (12, 5), 13320: (15, 37)}
# UCF-101 (Soomro et al. 2012): 13,320 clips, mean length 7.21 s at 25 fps; split 1: 9,537 train.
UCF = {"clips": 13320, "frames_per_clip": 7.21 * 25, "train": 9537, "test": 3783}


def params_for(size: int, work: Path) -> Path:
    from twostream.presets import with_overrides

    groups, clips = SHAPES[size]
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    values = {"datasets.ucf101": "synthetic", "synthetic.appearances": ["Ember", "Moss", "Azure", "Amber"],
              "synthetic.motions": ["Slide", "Rise", "Spin", "Grow", "Fall", "Shake"],
              "synthetic.groups": groups, "synthetic.clips_per_group": clips, "synthetic.frames": 12,
              "synthetic.width": 64, "synthetic.height": 48, "frames.short_side": 48,
              "flow.backend": "opencv-dis", "flow.backward": False,
              "spatial.input_size": 48, "temporal.input_size": 48,
              "evaluate.frames": 5, "evaluate.crops": 10}
    out = with_overrides(raw, values)
    for block in ("spatial", "temporal"):  # a fixed 20 iterations whatever the schedule says
        out[block]["schedule_scale"] = 20 / 80000
    out["table1b"] = {"flow10_sub": out["table1b"]["flow10_sub"]}
    out["table2"]["input"] = "flow10_sub"
    out["fusion"]["spatial"], out["fusion"]["temporal"] = "scratch", "flow10_sub"
    # One C, not params.yaml's five by 5-fold cross-validation: on the scores of nets trained 20
    # iterations (near-uniform softmax) Crammer-Singer does not converge at large C and one fit
    # at C = 100 took 47 s on 1,080 videos, so the sweep would take hours at 13,320 clips.
    out["fusion"]["svm_c"] = [1.0]
    path = work / "params.yaml"
    path.write_text(yaml.safe_dump(out, sort_keys=False))
    return path


def run_stage(script: list[str], log: Path) -> tuple[float, float]:
    """(seconds, peak MB of the stage and its workers): the stage runs in a child that reports
    its own and its reaped children's peak resident memory."""
    report_file = log.with_suffix(".rss")
    start = time.perf_counter()
    with open(log, "a") as handle:
        proc = subprocess.run([sys.executable, __file__, "--child", str(report_file), *script], cwd=ROOT,
                              stdout=handle, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1"})
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{' '.join(script)} failed (exit {proc.returncode}); see {log}")
    return seconds, float(report_file.read_text())


def child(report_file: str, script: list[str]) -> None:
    sys.argv = script
    try:
        runpy.run_path(script[0], run_name="__main__")
    finally:
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        Path(report_file).write_text(f"{peak:.1f}")


def one_size(size: int, root: Path) -> dict[str, Any]:
    work = root / str(size)
    work.mkdir(parents=True, exist_ok=True)
    params = params_for(size, work)
    p = ["--params", str(params)]
    raw, splits, frames, flow = work / "raw", work / "splits.csv", work / "frames", work / "flow"
    models, scores = work / "models", work / "scores"
    log = work / "stages.log"
    steps = {
        "data": ["stages/data.py", "ucf101", str(raw), str(splits), *p],
        "frames": ["stages/frames.py", str(raw), str(splits), str(frames), *p],
        "flow": ["stages/flow.py", str(frames), str(splits), str(flow), *p],
        "train spatial": ["stages/train.py", "spatial", "scratch-0.5", "--data", "ucf101", str(frames), str(splits),
                          "--out", "ucf101", str(models / "spatial"), "--live", str(work / "live-s"), *p],
        "train temporal": ["stages/train.py", "temporal", "flow10_sub", "--data", "ucf101", str(flow), str(splits),
                           "--out", "ucf101", str(models / "temporal"), "--live", str(work / "live-t"), *p],
        "evaluate spatial (test)": ["stages/evaluate.py", "spatial", str(frames), str(splits), str(models / "spatial"),
                                    str(scores / "spatial"), "--sides", "test", *p],
        "evaluate temporal (test)": ["stages/evaluate.py", "temporal", str(flow), str(splits),
                                     str(models / "temporal"), str(scores / "temporal"), "--sides", "test", *p],
        "evaluate spatial (train)": ["stages/evaluate.py", "spatial", str(frames), str(splits),
                                     str(models / "spatial"), str(scores / "train/spatial"), "--sides", "train", *p],
        "evaluate temporal (train)": ["stages/evaluate.py", "temporal", str(flow), str(splits),
                                      str(models / "temporal"), str(scores / "train/temporal"), "--sides", "train", *p],
        "fuse (average + SVM)": ["stages/fuse.py", str(scores / "spatial"), str(scores / "temporal"), str(scores / "train"),
                                 str(scores / "fused"), "--svm", str(models / "svm"), *p],
    }
    out: dict[str, Any] = {"size": size, "stages": {}}
    for name, script in steps.items():
        seconds, peak = run_stage(script, log)
        out["stages"][name] = {"seconds": seconds, "peak_mb": peak}
        print(f"{size:>6} clips  {name:<28} {seconds:8.1f} s  {1000 * seconds / size:7.2f} ms/clip  "
              f"{peak:7.0f} MB", flush=True)
    import pandas as pd

    table = pd.read_csv(splits)
    out["clips"] = len(table)
    out["test"] = int((table["split1"] == "test").sum())
    out["train"] = int((table["split1"] == "train").sum())
    return out


def unit_costs() -> dict[str, float]:
    """Seconds per unit at the paper's sizes on real 320x240 footage, on one process here."""
    import cv2
    import torch

    from twostream.flow.backends import make_backend, to_gray
    from twostream.frames.video import VideoReader, resize_short_side
    from twostream.store.zipstore import encode_jpeg
    from twostream.config import load_params
    from twostream.streams import cell

    roots = [ROOT.parent / "shared" / "data" / "ucf101-real10", ROOT / "tests" / "data" / "real" / "ucf101"]
    clip = next(p for root in roots if root.is_dir() for p in sorted(root.rglob("*")) if p.suffix in (".avi", ".mp4"))
    frames = []
    start = time.perf_counter()
    with VideoReader(clip) as video:
        for _, frame in zip(range(40), video.frames()):
            raw_size = frame.shape[:2]
            frame = resize_short_side(frame, 256)
            encode_jpeg(frame, 90)
            frames.append(frame)
    costs = {"frame (decode, resize to 256, JPEG)": (time.perf_counter() - start) / len(frames)}
    gray = [to_gray(f) for f in frames]
    flow = load_params(ROOT / "params.yaml").flow
    cv2.setNumThreads(1)  # flow runs one process per core, each single-threaded
    for name in ("opencv-dis", "opencv-tvl1"):
        backend = make_backend(name, compile=False, epsilon=flow.tvl1_epsilon, scale_step=flow.tvl1_scale_step)
        backend.compute(gray[0], gray[1])
        n = 8 if name == "opencv-dis" else 3
        start = time.perf_counter()
        for i in range(n):
            backend.compute(gray[i], gray[i + 1])
        label = f"flow pair, {name}" + (f" (epsilon {flow.tvl1_epsilon})" if "tvl1" in name else "")
        costs[label] = (time.perf_counter() - start) / n
    params = load_params(ROOT / "params.yaml")
    for stream, name in (("spatial", "scratch-0.5"), ("temporal", "flow10_sub")):
        spec = cell(params, stream, name).spec
        spec = dataclasses.replace(spec, input_size=224, width=1.0)
        model, _ = spec.build(101)
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        x = torch.randn(4, spec.in_channels, 224, 224)
        y = torch.randint(0, 101, (4,))
        for k in range(2):
            if k == 1:
                start = time.perf_counter()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        costs[f"training sample, {stream} CNN-M-2048 224"] = (time.perf_counter() - start) / 4
        model.eval()
        with torch.inference_mode():
            model(x)
            start = time.perf_counter()
            model(torch.randn(10, spec.in_channels, 224, 224))
        costs[f"test input, {stream} CNN-M-2048 224"] = (time.perf_counter() - start) / 10
    costs["clip"] = f"{clip.name} ({raw_size[1]}x{raw_size[0]})"
    return costs


def projection(costs: dict[str, Any], cores: int) -> list[str]:
    """Hours for UCF-101 split 1 here: frames and flow over one process per core, training and
    scoring in one process using every core (as the stages run them)."""
    frames = UCF["clips"] * UCF["frames_per_clip"]
    pairs = UCF["clips"] * (UCF["frames_per_clip"] - 1)
    samples = 80000 * 256
    rows = [("frames (decode, resize to 256, JPEG)", frames, costs["frame (decode, resize to 256, JPEG)"], cores)]
    rows += [(k.replace("flow pair, ", "flow, "), pairs, v, cores) for k, v in costs.items() if k.startswith("flow")]
    for stream in ("spatial", "temporal"):
        rows.append((f"train {stream} from scratch (80K iterations x 256)", samples,
                     costs[f"training sample, {stream} CNN-M-2048 224"], 1))
        rows.append((f"score {stream}, 25 x 10 inputs for each of the {UCF['clips']:,} clips (test, and train "
                     f"for the SVM)", UCF["clips"] * 250, costs[f"test input, {stream} CNN-M-2048 224"], 1))
    lines = ["| step | units | seconds per unit | how it runs here | projected hours here |", "|---|---|---|---|---|"]
    for name, units, per_unit, processes in rows:
        how = f"{processes} processes, 1 thread each" if processes > 1 else f"1 process, {cores} threads"
        lines.append(f"| {name} | {units:,.0f} | {per_unit:.4f} | {how} | {units * per_unit / processes / 3600:,.1f} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--work", type=Path, help="keep the data here (default: a temp folder)")
    parser.add_argument("--no-projection", action="store_true")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="twostream-scale-") as tmp:
        root = args.work or Path(tmp)
        for size in args.sizes:
            results.append(one_size(size, root))
    stages = list(results[0]["stages"])
    lines = [f"### how the cost grows with the work, bench/scale.py ({datetime.date.today().isoformat()})", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, no GPU. Generated clips of 12 frames at "
             f"64x48, 24 classes, opencv-dis flow, 20 training iterations, 5 x 10 test inputs; each stage "
             f"is the pipeline's stage script.", "",
             "| stage | " + " | ".join(f"{r['clips']:,} clips: s (ms/clip, peak MB)" for r in results)
             + " | ms/clip, largest / smallest |", "|---|" + "---|" * len(results) + "---|"]
    for name in stages:
        cells = [f"{r['stages'][name]['seconds']:.1f} ({1000 * r['stages'][name]['seconds'] / r['clips']:.2f}, "
                 f"{r['stages'][name]['peak_mb']:.0f})" for r in results]
        per = [r["stages"][name]["seconds"] / r["clips"] for r in results]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {per[-1] / per[0]:.2f} |")
    total = [sum(s["seconds"] for s in r["stages"].values()) for r in results]
    lines.append("| total | " + " | ".join(f"{t:.1f} ({1000 * t / r['clips']:.2f})" for t, r in zip(total, results))
                 + f" | {total[-1] / results[-1]['clips'] / (total[0] / results[0]['clips']):.2f} |")
    if not args.no_projection:
        costs = unit_costs()
        lines += ["", "Projection of UCF-101 split 1 at the paper's sizes on this machine, from per-unit "
                  f"costs measured here on {costs['clip']} ({UCF['clips']:,} clips x "
                  f"{UCF['frames_per_clip']:.0f} frames, UCF-101's mean):", ""]
        lines += projection(costs, os.cpu_count() or 1)
    report(lines, append=not args.no_append)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
