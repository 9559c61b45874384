"""The training loop: SGD with momentum, the paper's step schedule, checkpoints, dvclive.

Checkpoints hold the model, the optimiser, each rank's torch RNG state and the iteration; with
the per-sample seeds of :mod:`twostream.inputs.train_sets` a run killed and resumed ends where an
uninterrupted run with the same seed ends. A checkpoint is only resumed when its ``recipe``
(params, data fingerprint, split) equals the current one.

On a GPU the loop runs in bfloat16 autocast with channels-last tensors; under torchrun the
model is wrapped in DistributedDataParallel (see :mod:`twostream.training.distributed`).
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from twostream.config import Schedule, StreamParams
from twostream.training.distributed import World
from twostream.models.backbones import (batchnorm_layers, freeze_all_but_class_layer,
                                        freeze_batchnorm_but_first, hold_batchnorm,
                                        learning_batchnorm, recompute_batchnorm)
from twostream.training.consensus import forward_videos, snippets_flat
from twostream.runtime import autocast
from twostream.training.sgd import MomentumSGD
from twostream.training.tasks import Heads

log = logging.getLogger(__name__)


class MetricLogger(Protocol):
    """What the loop needs of :class:`twostream.training.curves.TrainingCurves` (a protocol, so tests
    can pass a list)."""

    def restart_at(self, iteration: int) -> None: ...
    def log(self, iteration: int, metrics: dict[str, float]) -> None: ...


def lr_at(iteration: int, base_lr: float, steps: Iterable[int]) -> float:
    """Step schedule: divide by 10 at each step (paper: 1e-2 -> 1e-3 at 50K -> 1e-4 at 70K)."""
    return base_lr * 0.1 ** sum(iteration >= s for s in steps)


@dataclass
class Checkpoint:
    path: Path
    recipe: dict[str, Any]
    every: int
    world: World = field(default_factory=World)

    def load(self, model: nn.Module, optimizer: MomentumSGD) -> tuple[int, torch.Tensor | None]:
        """Restore model and optimiser if a matching checkpoint exists.

        Returns the iteration to start at and this rank's saved torch RNG state, which the
        caller restores only after creating its batch iterator (a DataLoader draws from the
        global RNG when it starts; restoring first would shift every later dropout mask).
        """
        if not self.path.is_file():
            return 0, None
        state = torch.load(self.path, map_location="cpu", weights_only=False)
        if state.get("recipe") != self.recipe or len(state.get("rng", [])) != self.world.size:
            log.info("%s: made by other params, data or world size; starting afresh", self.path)
            return 0, None
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        log.info("resuming from %s at iteration %d", self.path, state["iteration"])
        return int(state["iteration"]), state["rng"][self.world.rank]

    def save(self, model: nn.Module, optimizer: MomentumSGD, iteration: int) -> None:
        rng = self.world.gather(torch.get_rng_state())
        if not self.world.main:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "rng": rng, "iteration": iteration, "recipe": self.recipe}, tmp)
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class Recipe:
    """How to train: the optimiser settings, the schedule and which layers learn."""
    block: StreamParams
    schedule: Schedule
    last_layer_only: bool = False


def train_stream(model: nn.Module, make_batches: Callable[[int], Iterable[tuple[torch.Tensor, torch.Tensor]]],
                 recipe: Recipe, *, device: torch.device, checkpoint: Checkpoint,
                 live: MetricLogger | None = None, log_every: int = 10,
                 world: World | None = None, heads: Heads | None = None) -> nn.Module:
    """Train ``model`` for ``recipe.schedule.iterations`` SGD steps on ``make_batches(start)``.

    ``heads``: the class layer's per-dataset heads under multi-task training (each head's loss
    over its own samples, summed); by default one softmax over every class. A net with BatchNorm
    whose layers learned then gets exact statistics from the first
    ``block.bn_recompute_batches`` training batches (see :func:`recompute_batchnorm`; each rank
    its own under torchrun, the main rank's are saved).

    ``block.segments`` K > 1 (TSN): each batch is (B, K, C, H, W) and each video's loss is taken
    on the mean of its K snippets' class scores. ``block.partial_bn`` (TSN): every BatchNorm
    layer but the first keeps its statistics, scale and shift.

    Returns the bare model (not its DDP wrapper) in training mode on ``device``.
    """
    world = world or World()
    block, schedule = recipe.block, recipe.schedule
    fast_layout = block.channels_last
    model.to(device)
    if fast_layout:
        model.to(memory_format=torch.channels_last)
    partial_bn = block.partial_bn and not recipe.last_layer_only
    if partial_bn:
        freeze_batchnorm_but_first(model)
    trainable = (freeze_all_but_class_layer(model) if recipe.last_layer_only
                 else [p for p in model.parameters() if p.requires_grad])
    optimizer = MomentumSGD(trainable, lr=block.lr, momentum=block.momentum,
                            weight_decay=block.weight_decay)
    start, rng_state = checkpoint.load(model, optimizer)
    if live is not None and world.main:
        live.restart_at(start)  # a resumed run continues its curve; a fresh one starts it
    net: nn.Module = model
    if world.active:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    net.train()
    if recipe.last_layer_only or partial_bn:
        hold_batchnorm(model, but_first=partial_bn)
    batches = iter(make_batches(start))
    if rng_state is not None:
        torch.set_rng_state(rng_state)
    criterion = heads.loss if heads is not None else nn.CrossEntropyLoss()
    loss_sum, correct, seen = 0.0, 0, 0
    for iteration, (inputs, labels) in enumerate(batches, start + 1):
        lr = lr_at(iteration - 1, block.lr, schedule.lr_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        inputs, labels = inputs.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        with autocast(device, block.amp):
            logits = forward_videos(net, inputs, fast_layout)  # K snippets: consensus before the loss
            loss = criterion(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(labels)
        predicted = heads.predict(logits, labels) if heads is not None else logits.argmax(1)
        correct += int((predicted == labels).sum())
        seen += len(labels)
        if iteration % log_every == 0 or iteration == schedule.iterations:
            loss_sum, correct, seen = world.sum([loss_sum, correct, seen])
            if live is not None and world.main:
                live.log(iteration, {"loss": loss_sum / seen, "accuracy": correct / seen, "lr": lr})
            if world.main:
                log.info("iter %d/%d  loss %.4f  acc %.3f  lr %.0e", iteration, schedule.iterations,
                         loss_sum / seen, correct / seen, lr)
            loss_sum, correct, seen = 0.0, 0, 0
        if iteration % checkpoint.every == 0 or iteration == schedule.iterations:
            checkpoint.save(model, optimizer, iteration)
    if not recipe.last_layer_only and block.bn_recompute_batches and batchnorm_layers(model):
        # After the checkpoint: a run killed here resumes at the end and recomputes again.
        inputs = (snippets_flat(x.to(device, non_blocking=True))[0] for x, _ in
                  itertools.islice(make_batches(0), block.bn_recompute_batches))
        if fast_layout:
            inputs = (x.contiguous(memory_format=torch.channels_last) for x in inputs)
        with autocast(device, block.amp):
            used = recompute_batchnorm(model, inputs, learning_batchnorm(model, partial_bn))
        if world.main:
            log.info("BatchNorm statistics recomputed on %d training batches", used)
    if fast_layout:
        model.to(memory_format=torch.contiguous_format)
    return model
