"""Which bounds training, the input pipeline or the network? Samples/s of each alone and together.

    python bench/train.py                        # uses data/ of the last `dvc repro`, params.yaml sizes
    python bench/train.py --batches 20 --workers 2 --amp

For each stream: the loader alone (decode, crop, flip, jitter / stack; class-balanced batches), the
model alone (forward + backward + SGD step on a fixed batch, on the GPU when there is one), and
both (the real loop). Prints a table and appends it to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twostream.config import load_params  # noqa: E402
from twostream.fit import available_archives  # noqa: E402
from twostream.runtime import pick_device  # noqa: E402
from twostream.samples import BalancedBatches  # noqa: E402
from twostream.splits import load_table, select  # noqa: E402
from twostream.streams import STREAMS, stream_params, stream_spec, train_set  # noqa: E402
from results import report  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(stream: str, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    params = load_params(args.params)
    block, spec = stream_params(params, stream), stream_spec(params, stream)
    table = load_table(args.splits)
    rows = select(table, 1, "train")
    paths, labels = available_archives(rows, args.frames if stream == "spatial" else args.flow)
    dataset = train_set(spec, params, paths, labels, seed=0)
    batch = args.batch or block.batch_size

    def loader(n: int) -> DataLoader:
        return DataLoader(dataset, batch_sampler=BalancedBatches(labels, batch, n, 0),
                          num_workers=args.workers, pin_memory=device.type == "cuda")

    model = spec.build(int(table["label"].max()) + 1).to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    criterion = torch.nn.CrossEntropyLoss()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if args.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp):
            loss = criterion(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    out = {}
    for _ in loader(1):  # warm-up: worker start, first decode
        pass
    start = time.perf_counter()
    for _ in loader(args.batches):
        pass
    out["loader"] = args.batches * batch / (time.perf_counter() - start)

    x, y = next(iter(loader(1)))
    step(x, y)
    _sync(device)
    start = time.perf_counter()
    for _ in range(args.batches):
        step(x, y)
    _sync(device)
    out["model"] = args.batches * batch / (time.perf_counter() - start)

    start = time.perf_counter()
    for x, y in loader(args.batches):
        step(x, y)
    _sync(device)
    out["both"] = args.batches * batch / (time.perf_counter() - start)
    out["batch"], out["input"] = batch, f"{spec.in_channels}x{spec.input_size}x{spec.input_size}"
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--splits", type=Path, default=ROOT / "data" / "splits.csv")
    parser.add_argument("--frames", type=Path, default=ROOT / "data" / "frames")
    parser.add_argument("--flow", type=Path, default=ROOT / "data" / "flow")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch", type=int, default=0, help="0 = the stream's batch_size param")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    if not args.splits.is_file():
        raise SystemExit(f"{args.splits}: run `dvc repro` first (the benchmark reads its data/)")
    device = pick_device()
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else "no GPU"
    lines = [f"### training throughput ({datetime.date.today().isoformat()})", "",
             f"Machine: {torch.get_num_threads()} threads, {gpu}, device {device.type}; "
             f"workers {args.workers}, amp {args.amp}, channels_last {args.channels_last}, "
             f"{args.batches} batches", "",
             "| stream | input | batch | loader alone (samples/s) | model alone | both | bound |",
             "|---|---|---|---|---|---|---|"]
    for stream in STREAMS:
        r = measure(stream, args, device)
        bound = "loader" if r["loader"] < r["model"] else "model"
        lines.append(f"| {stream} | {r['input']} | {r['batch']} | {r['loader']:.0f} | {r['model']:.0f} | "
                     f"{r['both']:.0f} | {bound} |")
    report(lines, append=not args.no_append)


if __name__ == "__main__":
    main()
