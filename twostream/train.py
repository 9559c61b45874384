"""The training loop: SGD with momentum, a step schedule in iterations, checkpoints, dvclive.

Checkpoints hold the model, the optimiser, the torch RNG state and the iteration; with the
per-sample seeds of :mod:`twostream.samples` a run killed and resumed ends where an
uninterrupted run with the same seed ends. A checkpoint is only resumed when its ``recipe``
(params, data fingerprint, split) equals the current one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from twostream.config import StreamParams

log = logging.getLogger(__name__)


class MetricLogger(Protocol):
    """What the loop needs of a dvclive ``Live`` (a protocol, so tests can pass a list)."""

    def log_metric(self, name: str, val: float) -> None: ...
    def next_step(self) -> None: ...


def lr_at(iteration: int, base_lr: float, steps: Iterable[int]) -> float:
    """Step schedule: divide by 10 at each step (paper: 1e-2 -> 1e-3 at 50K -> 1e-4 at 70K)."""
    return base_lr * 0.1 ** sum(iteration >= s for s in steps)


@dataclass
class Checkpoint:
    path: Path
    recipe: dict[str, Any]
    every: int

    def load(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, torch.Tensor | None]:
        """Restore model and optimiser if a matching checkpoint exists.

        Returns the iteration to start at and the saved torch RNG state, which the caller
        restores only after creating its batch iterator (a DataLoader draws from the global
        RNG when it starts; restoring first would shift every later dropout mask).
        """
        if not self.path.is_file():
            return 0, None
        state = torch.load(self.path, map_location="cpu", weights_only=False)
        if state.get("recipe") != self.recipe:
            log.info("%s: made by other params or data; starting afresh", self.path)
            return 0, None
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        log.info("resuming from %s at iteration %d", self.path, state["iteration"])
        return int(state["iteration"]), state["rng"]

    def save(self, model: nn.Module, optimizer: torch.optim.Optimizer, iteration: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "rng": torch.get_rng_state(), "iteration": iteration, "recipe": self.recipe}, tmp)
        os.replace(tmp, self.path)


def train_stream(model: nn.Module, make_batches: Callable[[int], Iterable[tuple[torch.Tensor, torch.Tensor]]],
                 params: StreamParams, *, device: torch.device, checkpoint: Checkpoint,
                 live: MetricLogger | None = None, log_every: int = 10) -> nn.Module:
    """Train ``model`` for ``params.iterations`` SGD steps on batches from ``make_batches(start)``."""
    model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=params.lr, momentum=params.momentum,
                                weight_decay=params.weight_decay)
    start, rng_state = checkpoint.load(model, optimizer)
    batches = iter(make_batches(start))
    if rng_state is not None:
        torch.set_rng_state(rng_state)
    criterion = nn.CrossEntropyLoss()
    loss_sum, correct, seen = 0.0, 0, 0
    iteration = start
    for iteration, (inputs, labels) in enumerate(batches, start + 1):
        lr = lr_at(iteration - 1, params.lr, params.lr_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        inputs, labels = inputs.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        logits = model(inputs)
        loss = criterion(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(labels)
        correct += int((logits.argmax(1) == labels).sum())
        seen += len(labels)
        if iteration % log_every == 0 or iteration == params.iterations:
            if live is not None:
                live.log_metric("loss", loss_sum / seen)
                live.log_metric("accuracy", correct / seen)
                live.log_metric("lr", lr)
                live.next_step()
            log.info("iter %d/%d  loss %.4f  acc %.3f  lr %.0e", iteration, params.iterations,
                     loss_sum / seen, correct / seen, lr)
            loss_sum, correct, seen = 0.0, 0, 0
        if iteration % checkpoint.every == 0 or iteration == params.iterations:
            checkpoint.save(model, optimizer, iteration)
    return model
