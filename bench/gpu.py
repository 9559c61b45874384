"""Everything the GPU should be measured on, in one process, inside a time budget.

    bash bench/gpu.sh                       # on a GPU machine: the whole table, under 8 minutes
    python bench/gpu.py --quick --no-append # anywhere (CPU too): tiny sizes, every code path

1. torch-tvl1 on real frames warped by known fields at 320x240 (photo_flow_pair on the vendored
   UCF-101/HMDB-51 clips): pairs/s and endpoint error for batches of 16-256 pairs, compiled and
   eager, at OpenCV's TV-L1 defaults (epsilon 0.01, pyramid step 0.8: OpenCV's accuracy) and at
   params.yaml's settings. The goal: 1,000 pairs/s at OpenCV's accuracy on one H100/H200.
2. The pipeline's own stages on generated clips at the paper's sizes (frames 256 px short side):
   data, frames, and the flow stage with torch-tvl1 on the GPU, end to end (pairs/s).
3. Training throughput per stream at the paper's size (224 crops, CNN-M width 1.0, batch 256,
   bf16 autocast): the loader alone, the model alone and both, with GPU JPEG decoding on and
   off; whichever is slower bounds it (bench/train.py's measurement).
4. Scoring (25 frames x 10 crops): videos/s per stream, and the share spent building inputs.

Each section is skipped, with the reason in the table, if it fails or the budget is spent, so
one call always returns a table. Prints it, writes it to --out, appends it to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from results import report  # noqa: E402


class Budget:
    """Seconds left of the run; a section that would start after the end is skipped."""

    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], min_seconds: float, max_calls: int) -> float:
    """Seconds per call of ``fn`` (already warm), over at least ``min_seconds`` or ``max_calls``."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds or calls >= max_calls:
            return elapsed / calls


def flow_kernel(args: argparse.Namespace, budget: Budget, lines: list[str]) -> None:
    """Section 1: torch-tvl1 pairs/s and endpoint error by batch size."""
    import torch

    from flow import _pairs
    from twostream.config import load_params
    from twostream.flow import tvl1
    from twostream.flow.groundtruth import endpoint_error
    from twostream.flow.tvl1 import TVL1Settings, tvl1_flow

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    width, height = args.size
    distinct = _pairs(args.distinct, width, height, "photos")
    pipeline = load_params(ROOT / "params.yaml").flow
    settings = [("OpenCV's defaults", TVL1Settings()),
                ("params.yaml", TVL1Settings(epsilon=pipeline.tvl1_epsilon, scale_step=pipeline.tvl1_scale_step))]
    lines += ["#### torch-tvl1 at %dx%d on %s (%d distinct real-frame pairs, tiled to the batch)"
              % (width, height, device.type, len(distinct)), "",
              "| settings | mode | batch | pairs/s | ms/batch | endpoint error (px) | first call (s) | peak GPU (GB) |",
              "|---|---|---|---|---|---|---|---|"]
    modes = [("compiled", True), ("eager", False)]
    for label, chosen in settings:
        for mode, compiled in modes:
            kernels = tvl1.compiled_kernels() if compiled else tvl1.EAGER
            for batch in args.batches if compiled else args.batches[::2]:
                if budget.left() < args.reserve:
                    lines.append(f"| {label} | {mode} | {batch} | skipped: budget spent | | | | |")
                    continue
                chosen_pairs = [distinct[i % len(distinct)] for i in range(batch)]
                a = torch.from_numpy(np.stack([p[0] for p in chosen_pairs])).to(device)
                b = torch.from_numpy(np.stack([p[1] for p in chosen_pairs])).to(device)
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                start = time.perf_counter()
                flow = tvl1_flow(a, b, chosen, kernels=kernels)
                sync()
                first = time.perf_counter() - start
                per_call = timed(lambda: tvl1_flow(a, b, chosen, kernels=kernels), args.min_seconds, 5)
                fields = flow.permute(0, 2, 3, 1).cpu().numpy()
                epe = np.mean([endpoint_error(fields[i], chosen_pairs[i][2])
                               for i in range(min(batch, len(distinct)))])
                peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
                lines.append(f"| {label} | {mode} | {batch} | **{batch / per_call:.0f}** | "
                             f"{1000 * per_call:.0f} | {epe:.3f} | {first:.1f} | {peak:.1f} |")
                print(lines[-1], flush=True)
    lines.append("")


def stage(args: list[str], log: Path) -> float:
    """Run one of the pipeline's stage scripts; seconds it took (fails with its log's tail)."""
    start = time.perf_counter()
    with open(log, "a") as handle:
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                  [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])})
    if proc.returncode:
        tail = log.read_text().splitlines()[-15:]
        raise RuntimeError(f"{args[0]} failed (exit {proc.returncode}): " + " / ".join(tail))
    return time.perf_counter() - start


def paper_sized_params(args: argparse.Namespace, work: Path, gpu_decode: bool) -> Path:
    """params.yaml with the paper's frame size, crop, width and batch, torch-tvl1 for flow."""
    from twostream.presets import with_overrides

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    short = 64 if args.quick else 256
    values = {
        "datasets.ucf101": "synthetic", "synthetic.width": round(short * 4 / 3), "synthetic.height": short,
        "synthetic.frames": 12 if args.quick else 24, "synthetic.groups": 3, "synthetic.clips_per_group": 1,
        "frames.short_side": short, "flow.backend": "torch-tvl1", "flow.backward": False,
        "flow.batch_pairs": args.flow_batch, "flow.workers": 1,
        "spatial.input_size": 56 if args.quick else 224, "temporal.input_size": 56 if args.quick else 224,
        "temporal.width": 0.25 if args.quick else 1.0,
        "spatial.batch_size": 16 if args.quick else 256, "temporal.batch_size": 16 if args.quick else 256,
        "spatial.amp": True, "temporal.amp": True, "spatial.gpu_decode": gpu_decode,
        "temporal.gpu_decode": gpu_decode, "evaluate.frames": 25, "evaluate.crops": 10,
    }
    out = with_overrides(raw, values)
    out["table1b"] = {"flow10_sub": out["table1b"]["flow10_sub"]}  # the others need backward flow
    out["table2"]["input"] = "flow10_sub"
    path = work / f"params-gpu_decode-{gpu_decode}.yaml"
    path.write_text(yaml.safe_dump(out, sort_keys=False))
    return path


def pipeline_data(args: argparse.Namespace, work: Path, lines: list[str]) -> dict[str, Path]:
    """Section 2: generated clips through the data, frames and flow stages (flow on the GPU)."""
    import pandas as pd

    params = paper_sized_params(args, work, True)
    log = work / "stages.log"
    paths = {"raw": work / "raw", "splits": work / "splits.csv", "frames": work / "frames",
             "flow": work / "flow"}
    common = ["--params", str(params)]
    seconds = {"data": stage(["stages/data.py", "ucf101", str(paths["raw"]), str(paths["splits"]), *common], log)}
    seconds["frames"] = stage(["stages/frames.py", str(paths["raw"]), str(paths["splits"]), str(paths["frames"]),
                               *common], log)
    seconds["flow"] = stage(["stages/flow.py", str(paths["frames"]), str(paths["splits"]), str(paths["flow"]),
                             *common], log)
    table = pd.read_csv(paths["splits"])
    raw = yaml.safe_load(params.read_text())
    pairs = len(table) * (raw["synthetic"]["frames"] - 1)
    lines += [f"#### the pipeline's stages on {len(table)} generated clips at "
              f"{raw['synthetic']['width']}x{raw['synthetic']['height']} ({pairs} frame pairs)", "",
              "| stage | seconds | note |", "|---|---|---|",
              f"| data | {seconds['data']:.1f} | |", f"| frames | {seconds['frames']:.1f} | |",
              f"| flow (torch-tvl1, batch {args.flow_batch}, compiled, forward only) | {seconds['flow']:.1f} | "
              f"**{pairs / seconds['flow']:.0f} pairs/s** end to end, compile and process start included |", ""]
    print("\n".join(lines[-8:]), flush=True)
    return paths


def training(args: argparse.Namespace, work: Path, paths: dict[str, Path], budget: Budget,
             lines: list[str]) -> None:
    """Section 3: samples/s per stream, GPU decoding on and off (bench/train.py's measure)."""
    from train import measure

    from twostream.runtime import pick_device

    device = pick_device()
    lines += ["#### training at the paper's size (samples/s; bf16 autocast, channels-last)", "",
              "| stream | cell | network | input | batch | JPEG decode | loader alone | model alone | both | bound by |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for gpu_decode in (True, False):
        params = paper_sized_params(args, work, gpu_decode)
        for stream, name in (("spatial", "scratch-0.5"), ("temporal", "flow10_sub")):
            if budget.left() < args.reserve:
                lines.append(f"| {stream} | {name} | | | | gpu_decode {gpu_decode} | skipped: budget spent | | | |")
                continue
            ns = argparse.Namespace(params=params, splits=paths["splits"], frames=paths["frames"],
                                    flow=paths["flow"], batches=args.train_batches, batch=0,
                                    workers=args.workers)
            try:
                r = measure(stream, name, ns, device)
            except Exception as err:  # noqa: BLE001 - one failed cell must not cost the table
                lines.append(f"| {stream} | {name} | | | | gpu_decode {gpu_decode} | failed: "
                             f"{type(err).__name__}: {str(err).splitlines()[0][:120]} | | | |")
                continue
            bound = "loader" if r["loader"] < r["model"] else "model"
            lines.append(f"| {stream} | {name} | {r['net']} | {r['input']} | {r['batch']} | {r['decode']} | "
                         f"{r['loader']:.0f} | {r['model']:.0f} | **{r['both']:.0f}** | {bound} |")
            lines[-1] = lines[-1].replace(f"| {r['decode']} |", f"| {r['decode']} (gpu_decode {gpu_decode}) |")
            print(lines[-1], flush=True)
    lines.append("")


def scoring(args: argparse.Namespace, work: Path, paths: dict[str, Path], budget: Budget,
            lines: list[str]) -> None:
    """Section 4: the test protocol's videos/s per stream with an untrained net of the paper's size."""
    from twostream.config import load_params
    from twostream.evaluation.scoring import score_videos
    from twostream.runtime import pick_device
    from twostream.store.zipstore import ArchiveReader, archive_name
    from twostream.streams import cell, test_inputs
    import pandas as pd

    device = pick_device()
    params = load_params(paper_sized_params(args, work, True))
    protocol = params.evaluate
    table = pd.read_csv(paths["splits"])
    lines += [f"#### scoring ({protocol.frames} frames x {protocol.crops} crops, batch {protocol.batch_size})", "",
              "| stream | network | videos | videos/s | inputs built (share of the time) |", "|---|---|---|---|---|"]
    for stream, name, folder in (("spatial", "scratch-0.5", "frames"), ("temporal", "flow10_sub", "flow")):
        if budget.left() < args.reserve:
            lines.append(f"| {stream} | skipped: budget spent | | | |")
            continue
        spec = cell(params, stream, name).spec
        model, _ = spec.build(int(table["label"].max()) + 1)
        archives = [paths[folder] / archive_name(v) for v in table["id"]]

        def inputs(reader: ArchiveReader) -> Any:
            return test_inputs(spec, reader, protocol)

        run = lambda: score_videos(model, archives, inputs, num_classes=int(table["label"].max()) + 1,  # noqa: E731
                                   batch_size=protocol.batch_size, device=device, desc=f"score {stream}",
                                   amp=device.type == "cuda", channels_last=True)
        run()  # warm-up (cuDNN autotuning, allocator)
        sync()
        start = time.perf_counter()
        run()
        sync()
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        for path in archives:
            with ArchiveReader(path) as reader:
                inputs(reader)
        built = time.perf_counter() - start
        lines.append(f"| {stream} | {spec.arch} {spec.in_channels}x{spec.input_size}x{spec.input_size} | "
                     f"{len(archives)} | **{len(archives) / seconds:.1f}** | {built:.1f} s ({100 * built / seconds:.0f}%) |")
        print(lines[-1], flush=True)
    lines.append("")


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{gpu}; {os.cpu_count()} CPU cores ({platform.machine()}); torch {torch.__version__}, "
            f"CUDA {torch.version.cuda}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=450, help="seconds for the whole run")
    parser.add_argument("--reserve", type=float, default=20, help="seconds kept back at the end")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check every code path anywhere")
    parser.add_argument("--out", type=Path, help="also write the table here")
    parser.add_argument("--workers", type=int, default=min(12, os.cpu_count() or 1),
                        help="DataLoader processes for the training section")
    parser.add_argument("--sections", nargs="+", default=["flow", "pipeline stages", "training", "scoring"],
                        help="which to run (training and scoring need the pipeline stages' data)")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    args.size = (80, 60) if args.quick else (320, 240)
    args.batches = [2, 4] if args.quick else [16, 32, 64, 128, 256]
    args.distinct = 4 if args.quick else 32
    args.min_seconds = 0.0 if args.quick else 1.5
    args.flow_batch = 4 if args.quick else 64
    args.train_batches = 2 if args.quick else 10
    if args.quick:
        args.workers = 0
    budget = Budget(args.budget)
    lines = [f"### GPU readiness, bench/gpu.py{' --quick' if args.quick else ''} "
             f"({datetime.date.today().isoformat()})", "", f"Device: {machine()}", ""]
    sections = [("flow", lambda: flow_kernel(args, budget, lines))]
    with tempfile.TemporaryDirectory(prefix="twostream-gpu-") as tmp:
        work = Path(tmp)
        paths: dict[str, Path] = {}

        def data() -> None:
            paths.update(pipeline_data(args, work, lines))

        sections += [("pipeline stages", data),
                     ("training", lambda: training(args, work, paths, budget, lines) if paths else None),
                     ("scoring", lambda: scoring(args, work, paths, budget, lines) if paths else None)]
        for name, run in sections:
            if name not in args.sections:
                continue
            if budget.left() < args.reserve:
                lines += [f"{name}: skipped, the {args.budget:.0f} s budget is spent", ""]
                continue
            start = time.perf_counter()
            try:
                run()
            except Exception as err:  # noqa: BLE001 - report and go on to the next section
                traceback.print_exc()
                lines += [f"{name}: failed after {time.perf_counter() - start:.0f} s: {type(err).__name__}: "
                          f"{str(err).splitlines()[0][:300] if str(err) else ''}", ""]
    lines.append(f"Total {args.budget - budget.left():.0f} s.")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu.md").write_text("\n".join(lines) + "\n")
    report(lines, append=not args.no_append)


if __name__ == "__main__":
    main()
