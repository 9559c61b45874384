"""What one network learns from: which datasets, which of their classes, and which heads.

Every net has one class layer. Multi-task training (the paper's Table 2) stacks one head per
dataset in it: rows ``[start, stop)`` are that dataset's softmax, and each head's loss is taken
only over its own dataset's samples, the total loss being their sum. Stacked rows are exactly
separate linear heads (each row has its own weights), and keep every backbone, DDP and the
scoring code unchanged: each dataset's model file holds the trunk and its own rows only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class Head:
    """Rows ``[start, start + len(classes))`` of the class layer: one softmax over ``classes``."""
    part: str
    classes: tuple[str, ...]
    start: int

    @property
    def stop(self) -> int:
        return self.start + len(self.classes)


@dataclass(frozen=True)
class Heads:
    """The class layer's heads, in row order. Labels live in the stacked row space. A net with
    one head trains on plain cross-entropy (``train_stream``'s ``heads=None``); its Heads give
    the same loss."""
    heads: tuple[Head, ...]

    @property
    def num_classes(self) -> int:
        return self.heads[-1].stop

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Sum over heads of the cross-entropy of its own samples on its own rows."""
        total = logits.new_zeros(())
        for head in self.heads:
            mine = (labels >= head.start) & (labels < head.stop)
            if mine.any():
                total = total + F.cross_entropy(logits[mine, head.start:head.stop],
                                                labels[mine] - head.start)
        return total

    def predict(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Each sample's argmax within its own head, in the stacked row space."""
        out = torch.empty_like(labels)
        for head in self.heads:
            mine = (labels >= head.start) & (labels < head.stop)
            out[mine] = logits[mine, head.start:head.stop].argmax(1) + head.start
        return out


def class_layer_key(model: nn.Module) -> str:
    """The state_dict prefix of the class layer (the last Linear), e.g. ``classifier.6``."""
    name = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    return name


def rows_of(state: dict[str, torch.Tensor], key: str, start: int, stop: int
            ) -> dict[str, torch.Tensor]:
    """``state`` with the class layer ``key`` cut to rows ``[start, stop)``: one head's model."""
    out = dict(state)
    for suffix in ("weight", "bias"):
        out[f"{key}.{suffix}"] = state[f"{key}.{suffix}"][start:stop].clone()
    return out


def without_class_layer(state: dict[str, torch.Tensor], key: str) -> dict[str, torch.Tensor]:
    """``state`` minus the class layer: a trunk to fine-tune on other classes."""
    return {k: v for k, v in state.items() if not k.startswith(f"{key}.")}


def batch_pools(heads: Heads, ratio: dict[str, float], batch_size: int
                ) -> list[tuple[Sequence[int], int]]:
    """How many samples of each batch every head's dataset gives (its ``ratio`` share, at least
    one each), drawn uniformly across that head's classes."""
    counts = [max(1, round(ratio[h.part] * batch_size)) for h in heads.heads]
    counts[0] = batch_size - sum(counts[1:])
    if counts[0] < 1:
        raise ValueError(f"batch_size={batch_size} is too small to mix {len(counts)} datasets")
    return [(range(h.start, h.stop), n) for h, n in zip(heads.heads, counts)]
