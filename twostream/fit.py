"""Train one stream on one split: assemble the data, the network and the loop.

The saved model file carries everything evaluation needs (the stream spec, class names, the
data's provenance), so later stages never re-read training params.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch.utils.data import DataLoader

from twostream.config import Params, as_dict
from twostream.samples import BalancedBatches
from twostream.splits import class_names, select
from twostream.store import archive_name, read_meta
from twostream.streams import Stream, stream_params, stream_spec, train_set, warn_short_clips
from twostream.train import Checkpoint, MetricLogger, train_stream

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


def fit_split(stream: Stream, params: Params, table: pd.DataFrame, table_csv: Path, split: int,
              data_dir: Path, checkpoint_dir: Path, device: torch.device,
              live: MetricLogger | None) -> dict[str, Any]:
    """Train ``stream`` on the training side of ``split``; return the model file's payload."""
    block = stream_params(params, stream)
    spec = stream_spec(params, stream)
    seed = params.run.seed * 10 + split
    rows = select(table, split, "train")
    paths, labels = available_archives(rows, data_dir)
    warn_short_clips(spec, paths, log)
    classes = class_names(table)
    torch.manual_seed(seed)
    model = spec.build(len(classes))
    dataset = train_set(spec, params, paths, labels, seed)
    recipe = {"spec": spec.to_dict(), "params": as_dict(block), "split": split, "seed": seed,
              "data": fingerprint(paths, table_csv)}
    checkpoint = Checkpoint(checkpoint_dir / f"split{split}.pt", recipe,
                            every=max(1, block.iterations // 10))

    def batches(start: int) -> DataLoader:
        sampler = BalancedBatches(labels, block.batch_size, block.iterations, seed, start)
        # Its own generator: the DataLoader must not draw from the global RNG that dropout uses.
        return DataLoader(dataset, batch_sampler=sampler, num_workers=block.workers,
                          pin_memory=device.type == "cuda", persistent_workers=block.workers > 0,
                          generator=torch.Generator().manual_seed(seed))

    log.info("%s split %d: %d videos, %d classes, %s on %s", stream, split, len(paths),
             len(classes), spec, device)
    train_stream(model, batches, block, device=device, checkpoint=checkpoint, live=live)
    return {"state_dict": model.cpu().state_dict(), "spec": spec.to_dict(), "classes": classes,
            "split": split, "params": as_dict(block), "seed": seed,
            "train_videos": len(paths), "data": data_provenance(paths[0]), "device": device.type}
