"""Score videos with the paper's test protocol: softmax averaged over frames x crops."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from twostream.progress import progress
from twostream.runtime import autocast
from twostream.store.zipstore import ArchiveReader

log = logging.getLogger(__name__)


@torch.inference_mode()
def score_inputs(model: nn.Module, inputs: torch.Tensor, weights: torch.Tensor, batch_size: int,
                 device: torch.device, channels_last: bool = False, *, amp: bool) -> np.ndarray:
    """Weighted mean softmax over the inputs of one video -> (classes,); ``amp``: bfloat16
    autocast on a CUDA device (the net's own training setting), float32 otherwise."""
    total = None
    for chunk, w in zip(torch.split(inputs, batch_size), torch.split(weights, batch_size)):
        chunk = chunk.to(device, non_blocking=True)
        if channels_last:
            chunk = chunk.contiguous(memory_format=torch.channels_last)
        with autocast(device, amp):
            probs = torch.softmax(model(chunk).float(), dim=1)
        part = (probs * w.to(device)[:, None]).sum(0)
        total = part if total is None else total + part
    return (total / weights.sum()).cpu().numpy()


def for_inference(model: nn.Module, channels: int, size: int, device: torch.device,
                  log: logging.Logger) -> nn.Module:
    """``model`` traced and frozen for CPU inference (BatchNorm folded into the convolutions:
    ~1.4-1.8x on EfficientNet), checked against eager on a random batch; eager if either fails.
    (torch's own trace check, which runs the net twice more and imports torch.distributed, is
    off: the comparison here is the one that matters.)"""
    model.eval()
    if device.type != "cpu":
        return model
    probe = torch.randn(3, channels, size, size).contiguous(memory_format=torch.channels_last)
    model.to(memory_format=torch.channels_last)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frozen = torch.jit.freeze(torch.jit.trace(model, probe, check_trace=False))
            if not torch.allclose(frozen(probe), model(probe), rtol=1e-3, atol=1e-4):
                raise RuntimeError("traced outputs differ from eager")
    except Exception as err:  # tracing is an optimisation; never a reason to fail
        log.warning("scoring with the eager model (tracing failed: %s)", err)
        return model
    return frozen


def score_videos(model: nn.Module, archives: Sequence[Path],
                 make_inputs: Callable[[ArchiveReader], tuple[torch.Tensor, torch.Tensor]], *,
                 num_classes: int, batch_size: int, device: torch.device, desc: str,
                 amp: bool, channels_last: bool = False) -> np.ndarray:
    """(videos, classes) scores; a video whose archive is missing or unreadable gets a NaN row,
    which every accuracy counts as wrong (it stays in the denominator)."""
    if not isinstance(model, torch.jit.ScriptModule):  # (a frozen module is ready as it is)
        model.to(device).eval()
        if channels_last:
            model.to(memory_format=torch.channels_last)
    scores = np.full((len(archives), num_classes), np.nan, np.float32)
    for row, path in enumerate(progress(archives, desc=desc, unit="video")):
        try:
            with ArchiveReader(path) as reader:
                inputs, weights = make_inputs(reader)
                scores[row] = score_inputs(model, inputs, weights, batch_size, device,
                                           channels_last, amp=amp)
        except (FileNotFoundError, KeyError, ValueError) as err:
            log.warning("%s: cannot score (%s); counted as wrong", path, err)
    return scores
