"""Train one cell of one stream on one split: assemble the data, the network and the loop.

The saved model file carries everything evaluation needs (the stream spec, class names, the
data's provenance, the weights' source), so later stages never re-read training params.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from twostream.config import as_dict
from twostream.training.distributed import World
from twostream.inputs.gpu_decode import assembler, collate_raw, on_device, raw_dataset
from twostream.inputs.sampler import BalancedBatches
from twostream.datasets.splits import class_names, select
from twostream.store.zipstore import archive_name, read_meta
from twostream.datasets.overlap import ClassListError, extra_classes
from twostream.streams import Cell, StreamSpec, train_set, warn_short_clips
from twostream.training.tasks import (Head, Heads, batch_pools, class_layer_key, rows_of,
                                      without_class_layer)
from twostream.models.model_file import ModelFile
from twostream.training.train import Checkpoint, MetricLogger, Recipe, train_stream
from twostream.errors import UserError

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
        raise UserError(f"no training archives found in {data_dir}; run the stages before this one")
    return paths, labels


def data_provenance(archive: Path) -> dict[str, Any]:
    """What made the inputs (flow backend and bound, or frame size), from one archive's meta."""
    meta = read_meta(archive) or {}
    keep = ("backend", "settings", "bound", "recipe")
    return {k: meta[k] for k in keep if k in meta}


def fingerprint(paths: list[Path], table_csvs: list[Path]) -> str:
    """Cheap identity of the training data: the split tables and every archive's name and size."""
    digest = hashlib.blake2b(digest_size=16)
    for table_csv in table_csvs:
        digest.update(table_csv.read_bytes())
    for path in paths:
        digest.update(f"{path.name}:{path.stat().st_size};".encode())
    return digest.hexdigest()


def training_batches(dataset: Dataset, labels: list[int], batch_size: int, iterations: int,
                     seed: int, start: int, device: torch.device, workers: int,
                     gpu_decode: bool, world: World | None = None,
                     pools: list[tuple[Sequence[int], int]] | None = None
                     ) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """Class-balanced batches from iteration ``start`` (``pools``: datasets mixed in fixed shares):
    decoded by the loader workers, or with ``gpu_decode`` on a CUDA device read as bytes and
    decoded and augmented on the GPU."""
    world = world or World()
    sampler = BalancedBatches(labels, batch_size, iterations, seed, start, world.rank, world.size,
                              pools)
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


@dataclass(frozen=True)
class PartData:
    """One dataset part's data for training: its split table and its archives folder (frames
    for the spatial stream, flow for the temporal one); ``frames_dir``: its frames, for a
    temporal net on RGB differences."""
    table: pd.DataFrame
    table_csv: Path
    data_dir: Path
    frames_dir: Path | None = None

    def archives(self, spec: StreamSpec, part: str) -> Path:
        """The folder whose archives ``spec``'s inputs are made from (``part``: this part's name)."""
        if spec.stream == "temporal" and spec.reads_frames:
            if self.frames_dir is None:
                raise UserError(f"a {spec.stacking} temporal net reads the {part} frames archives: "
                                f"give them with --frames {part} data/{part}/frames")
            return self.frames_dir
        return self.data_dir


@dataclass
class TrainingData:
    """The training videos of one cell and split, labelled in the stacked class-layer rows."""
    paths: list[Path]
    labels: list[int]
    heads: Heads                      # the softmaxes trained (one, or one per part)
    outputs: dict[str, Head]          # what each part's model file keeps of the class layer
    added_classes: list[str] = field(default_factory=list)  # Table 2's extra ucf101 classes


def training_data(cell: Cell, data: dict[str, PartData], split: int) -> TrainingData:
    """Videos, labels and heads of ``cell`` on ``split`` (each part's own split ``split``)."""
    missing = [p for p in cell.parts if p not in data]
    if missing:
        raise UserError(f"cell {cell.name} learns from dataset parts {list(cell.parts)}; "
                         f"no data given for {missing}")
    first = data[cell.parts[0]]
    first_classes = tuple(class_names(first.table))
    paths, labels = available_archives(select(first.table, split, "train"), first.archives(cell.spec, cell.parts[0]))
    own = Head(cell.parts[0], first_classes, 0)
    if cell.row is not None and cell.row.extra_classes:  # one softmax over hmdb51's classes and the added ucf101 ones
        other = data[cell.parts[1]]
        other_classes = class_names(other.table)
        try:
            added = extra_classes(cell.extra_classes, other_classes, first_classes)
        except ClassListError as err:
            raise UserError(str(err)) from None
        log.info("%s: adding %d %s classes that do not overlap %s's: %s", cell.name, len(added),
                 cell.parts[1], cell.parts[0], ", ".join(added))
        rows = select(other.table, split, "train")
        rows = rows[rows["class"].isin(added)].copy()
        rows["label"] = [len(first_classes) + added.index(c) for c in rows["class"]]
        more_paths, more_labels = available_archives(rows, other.archives(cell.spec, cell.parts[1]))
        heads = Heads((Head(cell.parts[0], first_classes + tuple(added), 0),))
        return TrainingData(paths + more_paths, labels + more_labels, heads, {own.part: own}, added)
    if cell.row is not None and cell.row.multitask:  # one head per part, stacked
        other = data[cell.parts[1]]
        second = Head(cell.parts[1], tuple(class_names(other.table)), own.stop)
        more_paths, more_labels = available_archives(select(other.table, split, "train"),
                                                     other.archives(cell.spec, cell.parts[1]))
        heads = Heads((own, second))
        return TrainingData(paths + more_paths, labels + [second.start + x for x in more_labels],
                            heads, {own.part: own, second.part: second})
    return TrainingData(paths, labels, Heads((own,)), {own.part: own})


def start_from(model: nn.Module, model_file: Path) -> str:
    """Load a trained net's trunk (every layer but the class layer) into ``model``: Table 2's
    "fine-tuned from UCF-101". Returns where the weights came from."""
    if not model_file.is_file():
        raise UserError(f"{model_file}: the net to fine-tune from is missing; run its train stage")
    saved = ModelFile.load(model_file)
    key = class_layer_key(model)
    trunk = without_class_layer(saved.state_dict, key)
    result = model.load_state_dict(trunk, strict=False)
    unexpected = [k for k in result.missing_keys if not k.startswith(f"{key}.")]
    if unexpected or result.unexpected_keys:
        raise UserError(f"{model_file}: not the same network as this cell's "
                         f"({len(unexpected) + len(result.unexpected_keys)} layers differ)")
    return f"fine-tuned from {model_file} ({saved.cell}, {len(saved.classes)} classes)"


def split_seed(run_seed: int, split: int) -> int:
    """The seed of one split's training run: ``run.seed`` and the split, so splits differ."""
    return run_seed * 10 + split


def fit_split(cell: Cell, run_seed: int, data: dict[str, PartData], split: int,
              checkpoint_dir: Path, device: torch.device, live: MetricLogger | None,
              world: World | None = None, init: Path | None = None) -> dict[str, ModelFile]:
    """Train ``cell`` on the training side of ``split``; return each part's model file.

    ``run_seed``: ``run.seed``. ``init``: a trained net whose trunk this one starts from
    (Table 2's fine-tuned row).
    """
    if (cell.init_from is not None) != (init is not None):
        raise UserError(f"cell {cell.name}: " + (
            f"fine-tunes a trained {cell.init_from} net: name it with "
            f"--init models/{cell.init_from}/{cell.spec.stream}/<cell>" if init is None else
            "starts from its own initialisation; --init is only for a row that fine-tunes "
            "(finetuned)"))
    world = world or World()
    block, spec, schedule = cell.block, cell.spec, cell.schedule
    seed = split_seed(run_seed, split)
    videos = training_data(cell, data, split)
    warn_short_clips(spec, videos.paths, log)
    torch.manual_seed(seed)
    model, pretrained = spec.build(videos.heads.num_classes, cell.weights)
    source = pretrained.source if pretrained else None
    if init is not None:
        source = start_from(model, init)
    torch.manual_seed(seed * 1000 + world.rank)  # dropout masks differ per rank, as they should
    dataset = train_set(spec, block, videos.paths, videos.labels, seed)
    ratio = cell.multitask_ratio
    pools = (batch_pools(videos.heads, {cell.parts[1]: ratio, cell.parts[0]: 1 - ratio},
                         block.batch_size) if len(videos.heads.heads) > 1 and ratio is not None
             else None)
    recipe = {"spec": spec.to_dict(), "params": as_dict(block), "schedule": as_dict(schedule),
              "split": split, "seed": seed, "kind": cell.kind, "parts": list(cell.parts),
              "heads": [h.classes for h in videos.heads.heads], "pools": str(pools),
              "data": fingerprint(videos.paths, [d.table_csv for d in data.values()]),
              "weights": source}
    checkpoint = Checkpoint(checkpoint_dir / f"split{split}.pt", recipe,
                            every=max(1, schedule.iterations // 10), world=world)

    def batches(start: int) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        return training_batches(dataset, videos.labels, block.batch_size, schedule.iterations, seed,
                                start, device, block.workers, block.gpu_decode, world, pools)

    if world.main and decodes_on_gpu(dataset, device, block.gpu_decode):
        log.info("decoding training JPEGs on %s (gpu_decode)", device)
    elif world.main and device.type == "cuda" and block.gpu_decode:
        log.info("gpu_decode: trajectory and RGB-difference stacks are built by the CPU loader")
    if world.main:
        log.info("%s %s split %d: %d videos of %s, heads %s, %d iterations (lr/10 at %s), %s%s on %s",
                 spec.stream, cell.name, split, len(videos.paths), "+".join(cell.parts),
                 {h.part: len(h.classes) for h in videos.heads.heads}, schedule.iterations,
                 list(schedule.lr_steps), spec.arch, f" {source}" if source else " from scratch",
                 device)
    train_stream(model, batches, Recipe(block, schedule, spec.trainable == "last"), device=device,
                 checkpoint=checkpoint, live=live, world=world,
                 heads=videos.heads if len(videos.heads.heads) > 1 else None)
    state = model.cpu().state_dict()
    key = class_layer_key(model)
    payloads = {}
    for part, head in videos.outputs.items():
        payloads[part] = ModelFile(
            state_dict=rows_of(state, key, head.start, head.stop), spec=spec.to_dict(),
            cell=cell.name, part=part, classes=list(head.classes), split=split,
            params=as_dict(block), schedule=as_dict(schedule), seed=seed,
            weights=source or "none (trained from scratch)", data=data_provenance(videos.paths[0]),
            trained_with={"kind": cell.kind, "parts": list(cell.parts),
                          "heads": {h.part: len(h.classes) for h in videos.heads.heads},
                          "added_classes": videos.added_classes,
                          "batch_pools": [n for _, n in pools] if pools else None},
            train_videos=len(videos.paths), world_size=world.size, device=device.type)
    return payloads
