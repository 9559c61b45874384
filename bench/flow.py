"""Benchmark every available flow backend side by side on the same frame pairs.

    python bench/flow.py                       # 320x240, 16 pairs, every backend available here
    python bench/flow.py --pairs 64 --backends torch-tvl1 opencv-tvl1
    python bench/flow.py --stage               # also the whole stage: frames archive -> flow archive
    python bench/flow.py --threads 1 --rounds 3 --backends opencv-tvl1 torch-tvl1+compile  # per core

Each backend runs in its own subprocess (so peak memory is its own) on the same known-flow
pairs (twostream.flow.groundtruth; by default real frames warped by known fields, with sensor
noise and a brightness change; `--source objects` an object moving over a still real scene,
with the error at its motion boundary; `--source texture` the generated texture): pairs per second (after one warm-up call), the
process's CPU time per pair (with --threads 1 the per-core cost; it leaves out time the process
waited, though on the development VM it matched wall time, the slowdowns there being slower cores,
not waits), mean endpoint error against the
true flow, peak RSS and, on CUDA, peak GPU memory; and the packing: JPEG bytes
per field (x + y, bound 20, quality 90) against float32, and the mean round-trip error. Prints a table and appends
it to bench/RESULTS.md with the machine it ran on. ``torch-tvl1+compile`` is torch-tvl1 with the
iteration fused by torch.compile (its one-off compile time is reported separately).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from results import report

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = ("opencv-tvl1", "opencv-farneback", "opencv-dis", "torch-tvl1", "torch-tvl1+compile",
              "opencv-cuda-brox", "opencv-cuda-tvl1")


@functools.lru_cache(maxsize=1)
def flow_params():
    """params.yaml's flow block (read once): the benchmark measures the settings the pipeline
    runs with."""
    from twostream.config import load_params

    return load_params(ROOT / "params.yaml").flow


def photo_frames(count: int, width: int, height: int) -> list[np.ndarray]:
    """One grey frame from each of ``count`` real clips (the real-footage clips in ../shared,
    else the vendored ones), resized to width x height where they differ."""
    import cv2

    roots = [ROOT.parent / "shared" / "data" / "ucf101-real10", ROOT / "tests" / "data" / "real"]
    clips = next((sorted(p for p in root.rglob("*") if p.suffix in (".avi", ".mp4"))
                  for root in roots if root.is_dir()), [])
    step = max(1, len(clips) // max(count, 1))
    frames = []
    for clip in clips[::step]:
        capture = cv2.VideoCapture(str(clip))
        capture.set(cv2.CAP_PROP_POS_FRAMES, 20)
        ok, frame = capture.read()
        if ok:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            if frame.shape != (height, width):
                frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            frames.append(frame)
        if len(frames) == count:
            break
    if not frames:
        raise SystemExit(f"no readable clips under {roots[0]} or {roots[1]}")
    return frames


def _pairs(count: int, width: int, height: int, source: str
           ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Frame pairs with known flow: real photographs (a few px of each motion, sensor noise,
    a 3% brightness change) or the generated texture."""
    from twostream.flow.groundtruth import MOTIONS, known_flow_pair, photo_flow_pair

    if source == "objects":
        from twostream.flow.groundtruth import photo_object_pair

        frames = photo_frames(count, width, height)
        return [photo_object_pair(frames[i % len(frames)], magnitude=3.0, seed=i) for i in range(count)]
    if source == "photos":
        frames = photo_frames(max(1, count // len(MOTIONS)), width, height)
        return [photo_flow_pair(frames[(i // len(MOTIONS)) % len(frames)], MOTIONS[i % len(MOTIONS)],
                                magnitude=3.0, seed=i) for i in range(count)]
    return [known_flow_pair(height, width, MOTIONS[i % len(MOTIONS)], magnitude=4.0, seed=i)
            for i in range(count)]


def run_one(name: str, count: int, width: int, height: int, batch: int, source: str,
            epsilon: float, scale_step: float) -> dict[str, object]:
    """Measure one backend in this process."""
    import torch

    from twostream.flow.backends import make_backend
    from twostream.flow.groundtruth import boundary_error, endpoint_error

    pairs = _pairs(count, width, height, source)
    compile_s = None
    backend = make_backend(name.replace("+compile", ""), compile=name.endswith("+compile"),
                           epsilon=epsilon, scale_step=scale_step)

    def flow_all() -> list[np.ndarray]:
        fields = []
        for i in range(0, count, batch):
            chunk = pairs[i:i + batch]
            fields += backend.many([p[0] for p in chunk], [p[1] for p in chunk])
        return fields

    first = pairs[:batch]
    if name.endswith("+compile"):
        start = time.perf_counter()
        backend.many([p[0] for p in first], [p[1] for p in first])
        compile_s = time.perf_counter() - start
        # The warm-up is every batch once: as pairs converge the batch shrinks to shapes (a
        # batch of one is its own graph) the first call may not have reached; compiling those
        # in the timed part made torch-tvl1 at 128x96 look 0.77x OpenCV where it runs 2x.
        flow_all()
    else:  # warm-up on a full batch: allocator, thread pools, kernels
        backend.many([p[0] for p in first], [p[1] for p in first])
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start, cpu_start = time.perf_counter(), time.process_time()
    fields = flow_all()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    from twostream.store.flow_jpeg import decode_field, encode_field

    packed = [encode_field(f, 20.0, 90) for f in fields]
    packed_bytes = float(np.mean([len(x) + len(y) for x, y in packed]))
    round_trip = float(np.mean([np.abs(np.clip(f, -20, 20) - decode_field(x, y, 20.0)).mean()
                                for f, (x, y) in zip(fields, packed)]))
    return {
        "packed_kb": packed_bytes / 1024, "float_kb": fields[0].size * 4 / 1024,
        "round_trip_px": round_trip,
        "backend": name, "device": backend.settings.get("device", "cpu"), "pairs": count,
        "epsilon": backend.settings.get("epsilon"),
        "pairs_per_s": count / seconds, "ms_per_pair": 1000 * seconds / count,
        "cpu_ms_per_pair": 1000 * cpu_seconds / count,
        "epe": float(np.mean([endpoint_error(f, p[2]) for f, p in zip(fields, pairs)])),
        "boundary_epe": (float(np.mean([boundary_error(f, p[2]) for f, p in zip(fields, pairs)]))
                         if source == "objects" else None),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
        "compile_s": compile_s,
    }


def run_stage(name: str, count: int, width: int, height: int, batch: int) -> dict[str, object]:
    """The whole flow stage (read JPEG frames, flow, quantise, JPEG, write) on ``count`` pairs."""
    import tempfile

    import pandas as pd

    from twostream.flow.extract import extract_flow
    from twostream.store.zipstore import archive_name, encode_jpeg, frame_member, write_archive

    import cv2

    from twostream.flow.groundtruth import texture

    frames_per_video = 17
    videos = max(1, count // (frames_per_video - 1))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ids = [f"Bench/v_Bench_g01_c{i:02d}" for i in range(videos)]
        for v, video_id in enumerate(ids):
            # One continuous shot: a texture panning 2 px/frame with a slow sinusoidal wobble.
            margin = 2 * frames_per_video + 16
            big = texture(height + 2 * margin, width + 2 * margin, np.random.default_rng(v))
            ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
            frames = [np.clip(cv2.remap(big, xs + margin - 2.0 * k + np.sin(ys / 20 + k) * 0.5,
                                        ys + margin - 1.0 * k, cv2.INTER_CUBIC), 0, 255).astype(np.uint8)
                      for k in range(frames_per_video)]
            members = {frame_member(i): encode_jpeg(np.repeat(f[..., None], 3, axis=2), 90)
                       for i, f in enumerate(frames)}
            write_archive(root / "frames" / archive_name(video_id), members,
                          {"recipe": {}, "n_frames": frames_per_video, "height": height, "width": width})
        table = pd.DataFrame({"id": ids})
        params = dataclasses.replace(flow_params(), backend=name.replace("+compile", ""), workers=1,
                                     batch_pairs=batch, compile=name.endswith("+compile"),
                                     backward=False)
        # Warm up (and compile) on one video, then time all of them from scratch.
        extract_flow(table.head(1), root / "frames", root / "warm", params)
        start = time.perf_counter()
        extract_flow(table, root / "frames", root / "flow", params)
        seconds = time.perf_counter() - start
    n = videos * (frames_per_video - 1)
    return {"backend": name, "pairs": n, "pairs_per_s": n / seconds, "ms_per_pair": 1000 * seconds / n}


def median_run(runs: list[dict[str, object]]) -> dict[str, object]:
    """One backend's rounds as one row: the round of median speed, with every round's ms/pair."""
    ordered = sorted(runs, key=lambda r: r["ms_per_pair"])
    return {**ordered[(len(ordered) - 1) // 2], "rounds_ms": [r["ms_per_pair"] for r in runs]}


def available(name: str) -> str | None:
    """None if the backend can run here, else why not."""
    from twostream.flow.backends import make_backend

    try:
        make_backend(name.replace("+compile", ""), compile=False, epsilon=flow_params().tvl1_epsilon,
                     scale_step=flow_params().tvl1_scale_step)
    except (RuntimeError, ValueError) as err:
        return str(err)
    return None


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {gpu}; "
            f"torch {torch.__version__}, threads {torch.get_num_threads()}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--size", default="320x240", help="WIDTHxHEIGHT")
    parser.add_argument("--batch", type=int, default=16, help="pairs per call (batched backends)")
    parser.add_argument("--backends", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--source", choices=("photos", "objects", "texture"), default="photos",
                        help="photos: real frames warped by smooth known fields; objects: an object "
                             "moving over a still real scene (a motion boundary, occlusion); texture: generated")
    parser.add_argument("--epsilon", type=float, default=None,
                        help="TV-L1 stopping threshold (default: params.yaml's flow.tvl1_epsilon)")
    parser.add_argument("--scale-step", type=float, default=None,
                        help="TV-L1 pyramid step (default: params.yaml's flow.tvl1_scale_step)")
    parser.add_argument("--stage", action="store_true",
                        help="also time the whole flow stage (frames archive in, flow archive out)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0,
                        help="threads per backend (1: per-core speed); 0 = the libraries' default")
    parser.add_argument("--rounds", type=int, default=1,
                        help="time every backend this many times, the backends interleaved, and report "
                             "the median (a shared machine's speed drifts between minutes)")
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    epsilon = flow_params().tvl1_epsilon if args.epsilon is None else args.epsilon
    scale_step = flow_params().tvl1_scale_step if args.scale_step is None else args.scale_step
    if args.worker:
        if args.threads:
            import cv2
            import torch

            cv2.setNumThreads(args.threads)
            torch.set_num_threads(args.threads)
        if args.worker.startswith("stage:"):
            print(json.dumps(run_stage(args.worker[6:], args.pairs, width, height, args.batch)))
        else:
            print(json.dumps(run_one(args.worker, args.pairs, width, height, args.batch,
                                     args.source, epsilon, scale_step)))
        return

    skipped, runs = [], {}  # runs: each runnable backend's rounds
    for name in args.backends:
        why = available(name)
        if why:
            skipped.append(f"{name}: {why}")
        else:
            runs[name] = []
    for _ in range(max(1, args.rounds)):
        for name in list(runs):
            proc = subprocess.run([sys.executable, __file__, "--worker", name, "--pairs", str(args.pairs),
                                   "--size", args.size, "--batch", str(args.batch), "--source",
                                   args.source, "--epsilon", str(epsilon), "--scale-step", str(scale_step),
                                   "--threads", str(args.threads)],
                                  capture_output=True, text=True, cwd=ROOT,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            if proc.returncode:  # a failed backend is not run again
                skipped.append(f"{name}: failed: {proc.stderr.strip().splitlines()[-1:]}")
                del runs[name]
                continue
            runs[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    rows = [median_run(r) for r in runs.values() if r]

    stage_rows = []
    if args.stage:
        for name in [r["backend"] for r in rows]:
            proc = subprocess.run([sys.executable, __file__, "--worker", f"stage:{name}", "--pairs",
                                   str(args.pairs), "--size", args.size, "--batch", str(args.batch)],
                                  capture_output=True, text=True, cwd=ROOT,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            if proc.returncode == 0:
                stage_rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            else:
                skipped.append(f"stage {name}: failed: {proc.stderr.strip().splitlines()[-1:]}")

    reference = next((r for r in rows if r["backend"] == "opencv-tvl1"), None)
    source = {"photos": "real frames warped by known fields, sensor noise 2, gain 1.03 + 2",
              "objects": "an object moving 3 px over a still real scene, noise 2, gain 1.03 + 2; "
                         "boundary: EPE within 4 px of the motion boundary",
              "texture": "generated texture"}[args.source]
    rounds = (f", median of {args.rounds} interleaved rounds (ms/pair of each in brackets)"
              if args.rounds > 1 else "")
    lines = [f"### flow backends, {width}x{height}, {args.pairs} pairs ({source}), batch {args.batch}, "
             f"TV-L1 epsilon {epsilon}, pyramid step {scale_step}{rounds} ({datetime.date.today().isoformat()})",
             "", f"Machine: {machine()}" + (f"; each backend on {args.threads} thread(s)" if args.threads else ""), "",
             "| backend | device | pairs/s | ms/pair | vs opencv-tvl1 | CPU ms/pair (vs opencv-tvl1) | EPE (px) | "
             "peak RSS (MB) | peak GPU (MB) | compile (s) | JPEG KB/field (float32) | JPEG round trip (px) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        speedup = f"{reference['ms_per_pair'] / r['ms_per_pair']:.2f}x" if reference else "-"
        gpu = f"{r['peak_gpu_mb']:.0f}" if r["peak_gpu_mb"] is not None else "-"
        comp = f"{r['compile_s']:.0f}" if r["compile_s"] is not None else "-"
        epe = f"{r['epe']:.3f}" + (f" (boundary {r['boundary_epe']:.3f})" if r.get("boundary_epe") else "")
        each = (" (" + ", ".join(f"{ms:.0f}" for ms in r["rounds_ms"]) + ")") if args.rounds > 1 else ""
        cpu = (f"{r['cpu_ms_per_pair']:.0f}"
               + (f" ({reference['cpu_ms_per_pair'] / r['cpu_ms_per_pair']:.2f}x)" if reference else ""))
        lines.append(f"| {r['backend']} | {r['device']} | {r['pairs_per_s']:.1f} | {r['ms_per_pair']:.0f}{each} | "
                     f"{speedup} | {cpu} | {epe} | {r['peak_rss_mb']:.0f} | {gpu} | {comp} | "
                     f"{r['packed_kb']:.1f} ({r['float_kb']:.0f}) | {r['round_trip_px']:.3f} |")
    if stage_rows:
        lines += ["", "Whole flow stage, one worker process (read JPEG frames, flow, quantise, JPEG, "
                  "write archive):", "", "| backend | pairs | pairs/s | ms/pair |", "|---|---|---|---|"]
        lines += [f"| {r['backend']} | {r['pairs']} | {r['pairs_per_s']:.1f} | {r['ms_per_pair']:.0f} |"
                  for r in stage_rows]
    if skipped:
        lines += [""] + [f"- not run: {s}" for s in skipped]
    report(lines, append=not args.no_append)


if __name__ == "__main__":
    main()
