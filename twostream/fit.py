"""Train one cell of one stream on one split: assemble the data, the network and the loop.

The saved model file carries everything evaluation needs (the stream spec, class names, the
data's provenance, the weights' source), so later stages never re-read training params.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from twostream.config import Params, as_dict
from twostream.distributed import World
from twostream.gpu_decode import assembler, collate_raw, on_device, raw_dataset
from twostream.samples import BalancedBatches
from twostream.splits import class_names, select
from twostream.store import archive_name, read_meta
from twostream.streams import Cell, train_set, warn_short_clips
from twostream.train import Checkpoint, MetricLogger, Recipe, train_stream

log = logging.getLogger(__name__)


def available_archives(rows: pd.DataFrame, data_dir: Path) -> tuple[list[Path], list[int]]:
    """Archives (and labels) of ``rows`` that exist; missing ones are logged and left out."""
    paths, labels, missing = [], [], []
    for video_id, label in zip(rows["id"], rows["label"]):
        path = data_dir / archive_name(video_id)
        if path.is_file():
            paths.append(path)
            labels.append(int(label))
        else:
            missing.append(video_id)
    if missing:
        log.warning("%d training videos have no archive in %s (see its failures.json); "
                    "training without them: %s", len(missing), data_dir, ", ".join(missing[:5]))
    if not paths:
        raise SystemExit(f"no training archives found in {data_dir}; run the stages before this one")
    return paths, labels


def data_provenance(archive: Path) -> dict[str, Any]:
    """What made the inputs (flow backend and bound, or frame size), from one archive's meta."""
    meta = read_meta(archive) or {}
    keep = ("backend", "settings", "bound", "recipe")
    return {k: meta[k] for k in keep if k in meta}


def fingerprint(paths: list[Path], table_csv: Path) -> str:
    """Cheap identity of the training data: the split table and every archive's name and size."""
    digest = hashlib.blake2b(table_csv.read_bytes(), digest_size=16)
    for path in paths:
        digest.update(f"{path.name}:{path.stat().st_size};".encode())
    return digest.hexdigest()


def training_batches(dataset: Dataset, labels: list[int], batch_size: int, iterations: int,
                     seed: int, start: int, device: torch.device, workers: int,
                     gpu_decode: bool, world: World | None = None
                     ) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """Class-balanced batches from iteration ``start``: decoded by the loader workers, or with
    ``gpu_decode`` on a CUDA device read as bytes and decoded and augmented on the GPU."""
    world = world or World()
    sampler = BalancedBatches(labels, batch_size, iterations, seed, start, world.rank, world.size)
    # Its own generator: the DataLoader must not draw from the global RNG that dropout uses.
    options: dict[str, Any] = dict(batch_sampler=sampler, num_workers=workers,
                                   persistent_workers=workers > 0,
                                   generator=torch.Generator().manual_seed(seed))
    raw = raw_dataset(dataset) if device.type == "cuda" and gpu_decode else None
    if raw is not None:  # workers read bytes; the GPU decodes and augments
        return on_device(DataLoader(raw, collate_fn=collate_raw, **options), assembler(dataset), device)
    return DataLoader(dataset, pin_memory=device.type == "cuda", **options)


def decodes_on_gpu(dataset: Dataset, device: torch.device, gpu_decode: bool) -> bool:
    return device.type == "cuda" and gpu_decode and raw_dataset(dataset) is not None


def fit_split(cell: Cell, params: Params, table: pd.DataFrame, table_csv: Path, split: int,
              data_dir: Path, checkpoint_dir: Path, device: torch.device,
              live: MetricLogger | None, world: World | None = None) -> dict[str, Any]:
    """Train ``cell`` on the training side of ``split``; return the model file's payload."""
    world = world or World()
    block, spec, schedule = cell.block, cell.spec, cell.schedule
    seed = params.run.seed * 10 + split
    rows = select(table, split, "train")
    paths, labels = available_archives(rows, data_dir)
    warn_short_clips(spec, paths, log)
    classes = class_names(table)
    torch.manual_seed(seed)
    model, pretrained = spec.build(len(classes), cell.weights)
    torch.manual_seed(seed * 1000 + world.rank)  # dropout masks differ per rank, as they should
    dataset = train_set(spec, params, paths, labels, seed)
    recipe = {"spec": spec.to_dict(), "params": as_dict(block), "schedule": as_dict(schedule),
              "split": split, "seed": seed, "data": fingerprint(paths, table_csv),
              "weights": pretrained.source if pretrained else None}
    checkpoint = Checkpoint(checkpoint_dir / f"split{split}.pt", recipe,
                            every=max(1, schedule.iterations // 10), world=world)

    def batches(start: int) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        return training_batches(dataset, labels, block.batch_size, schedule.iterations, seed,
                                start, device, block.workers, block.gpu_decode, world)

    if world.main and decodes_on_gpu(dataset, device, block.gpu_decode):
        log.info("decoding training JPEGs on %s (gpu_decode)", device)
    if world.main:
        log.info("%s %s split %d: %d videos, %d classes, %d iterations (lr/10 at %s), %s%s on %s",
                 spec.stream, cell.name, split, len(paths), len(classes), schedule.iterations,
                 list(schedule.lr_steps), spec.arch,
                 f" from {pretrained.source}" if pretrained else " from scratch", device)
    train_stream(model, batches, Recipe(block, schedule, spec.trainable == "last"), device=device,
                 checkpoint=checkpoint, live=live, world=world)
    return {"state_dict": model.cpu().state_dict(), "spec": spec.to_dict(), "cell": cell.name,
            "classes": classes, "split": split, "params": as_dict(block),
            "schedule": as_dict(schedule), "seed": seed, "world_size": world.size,
            "weights": pretrained.source if pretrained else "none (trained from scratch)",
            "train_videos": len(paths), "data": data_provenance(paths[0]), "device": device.type}
