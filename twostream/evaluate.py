"""Score videos with the paper's test protocol: softmax averaged over frames x crops."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from twostream.progress import progress
from twostream.store import ArchiveReader

log = logging.getLogger(__name__)


@torch.no_grad()
def score_inputs(model: nn.Module, inputs: torch.Tensor, batch_size: int,
                 device: torch.device) -> np.ndarray:
    """Mean softmax over all inputs of one video -> (classes,)."""
    total = None
    for chunk in torch.split(inputs, batch_size):
        probs = torch.softmax(model(chunk.to(device)).float(), dim=1).sum(0)
        total = probs if total is None else total + probs
    return (total / len(inputs)).cpu().numpy()


def score_videos(model: nn.Module, archives: Sequence[Path],
                 make_inputs: Callable[[ArchiveReader], torch.Tensor], *, num_classes: int,
                 batch_size: int, device: torch.device, desc: str) -> np.ndarray:
    """(videos, classes) scores; a video whose archive is missing or unreadable gets a NaN row,
    which every accuracy counts as wrong (it stays in the denominator)."""
    model.to(device).eval()
    scores = np.full((len(archives), num_classes), np.nan, np.float32)
    for row, path in enumerate(progress(archives, desc=desc, unit="video")):
        try:
            with ArchiveReader(path) as reader:
                scores[row] = score_inputs(model, make_inputs(reader), batch_size, device)
        except (FileNotFoundError, KeyError, ValueError) as err:
            log.warning("%s: cannot score (%s); counted as wrong", path, err)
    return scores


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy; rows with NaN (unscorable videos) count as wrong."""
    if len(labels) == 0:
        return float("nan")
    valid = ~np.isnan(scores).any(axis=1)
    hits = np.zeros(len(labels), bool)
    hits[valid] = scores[valid].argmax(axis=1) == labels[valid]
    return float(hits.mean())
