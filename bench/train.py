"""Which bounds training, the input pipeline or the network? Samples/s of each alone and together.

    python bench/train.py                        # uses data/ of the last `dvc repro`, params.yaml sizes
    python bench/train.py --batches 20 --workers 8 --cells scratch-0.5 finetune-0.5 flow10_sub

For each Table 1 cell asked for (default: a from-scratch and a pre-trained spatial cell and the
fused temporal cell): the loader alone (decode, crop, flip, jitter / stack; class-balanced
batches), the model alone (forward + backward + SGD step on a fixed batch, on the GPU when there
is one), and both (the real loop). Layout (channels_last), bf16 autocast and GPU JPEG decoding
follow the stream's params. Prints a table and appends it to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twostream.config import load_params  # noqa: E402
from twostream.training.fit import available_archives, decodes_on_gpu, training_batches  # noqa: E402
from twostream.models import WeightsError  # noqa: E402
from twostream.models.backbones import freeze_all_but_class_layer  # noqa: E402
from twostream.runtime import autocast, pick_device  # noqa: E402
from twostream.training.sgd import MomentumSGD  # noqa: E402
from twostream.datasets.splits import load_table, select  # noqa: E402
from twostream.cells import spatial_cells  # noqa: E402
from twostream.streams import cell, train_set  # noqa: E402
from results import report  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(stream: str, name: str, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    params = load_params(args.params)
    chosen = cell(params, stream, name)
    block, spec = chosen.block, chosen.spec
    table = load_table(args.splits)
    rows = select(table, 1, "train")
    paths, labels = available_archives(rows, args.frames if stream == "spatial" else args.flow)
    dataset = train_set(spec, block, paths, labels, seed=0)
    batch = args.batch or block.batch_size

    def loader(n: int):
        return training_batches(dataset, labels, batch, n, 0, 0, device, args.workers, block.gpu_decode)

    try:
        model, _ = spec.build(int(table["label"].max()) + 1, chosen.weights)
    except WeightsError:  # the speed does not depend on the weights' values
        model, _ = spec.build(int(table["label"].max()) + 1)
    model.to(device)
    if block.channels_last:
        model = model.to(memory_format=torch.channels_last)
    trainable = (freeze_all_but_class_layer(model) if spec.trainable == "last"
                 else list(model.parameters()))
    optimizer = MomentumSGD(trainable, lr=1e-3, momentum=0.9, weight_decay=0.0005)  # the pipeline's
    criterion = torch.nn.CrossEntropyLoss()
    model.train()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if block.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, block.amp):
            loss = criterion(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    out: dict[str, Any] = {}
    for _ in loader(1):  # warm-up: worker start, first decode
        pass
    _sync(device)
    start = time.perf_counter()
    for x, _ in loader(args.batches):
        pass
    _sync(device)
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
    out["net"] = f"{spec.arch}{' (last layer)' if spec.trainable == 'last' else ''}"
    out["decode"] = "GPU" if decodes_on_gpu(dataset, device, block.gpu_decode) else "CPU"
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--splits", type=Path, default=ROOT / "data" / "ucf101" / "splits.csv")
    parser.add_argument("--frames", type=Path, default=ROOT / "data" / "ucf101" / "frames")
    parser.add_argument("--flow", type=Path, default=ROOT / "data" / "ucf101" / "flow")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch", type=int, default=0, help="0 = the stream's batch_size param")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--cells", nargs="*", default=["scratch-0.5", "finetune-0.5", "flow10_sub"],
                        help="Table 1 cells: <setting>-<dropout> (spatial) or table1b names")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    if not args.splits.is_file():
        raise SystemExit(f"{args.splits}: run `dvc repro` first (the benchmark reads its data/)")
    device = pick_device()
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else "no GPU"
    lines = [f"### training throughput ({datetime.date.today().isoformat()})", "",
             f"Machine: {torch.get_num_threads()} threads, {gpu}, device {device.type}; "
             f"workers {args.workers}, {args.batches} batches; layout, amp and decoding from "
             f"params.yaml", "",
             "| cell | network | input | batch | decode | loader alone (samples/s) | model alone "
             "| both | bound |",
             "|---|---|---|---|---|---|---|---|---|"]
    params = load_params(args.params)
    for name in args.cells:
        stream = "spatial" if name in spatial_cells(params) else "temporal"
        r = measure(stream, name, args, device)
        bound = "loader" if r["loader"] < r["model"] else "model"
        lines.append(f"| {stream} {name} | {r['net']} | {r['input']} | {r['batch']} | {r['decode']} | "
                     f"{r['loader']:.0f} | {r['model']:.0f} | {r['both']:.0f} | {bound} |")
    report(lines, append=not args.no_append)


if __name__ == "__main__":
    main()
