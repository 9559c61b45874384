"""Training samples from the per-video archives.

One random frame (spatial) or one random stack of L flow fields (temporal) per sample, a random
crop anywhere in the frame and a random flip. Every random choice of a sample comes from its own
seed (the ``(video_index, sample_seed)`` keys of :class:`~twostream.inputs.sampler.BalancedBatches`),
so results do not depend on worker count and a resumed run replays exactly the batches an
uninterrupted one would have seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from twostream.inputs.crops import Box, crop, flip_image, random_box
from twostream.inputs.fields import FieldCache, read_fields
from twostream.inputs.rgb import Jitter, apply_jitter, draw_jitter, rgb_tensor
from twostream.inputs.sampler import Key
from twostream.inputs.stacking import (bidirectional_indices, build_stack, first_start, flip_stack,
                                       stack_indices, subtract_mean_flow)
from twostream.store.zipstore import ArchiveReader, frame_member


@dataclass(frozen=True)
class SpatialPlan:
    frame: int
    box: Box
    flip: bool
    jitter: Jitter | None


@dataclass(frozen=True)
class TemporalPlan:
    start: int
    box: Box
    flip: bool


class _ArchiveSet(Dataset):
    def __init__(self, archives: Sequence[Path], labels: Sequence[int], input_size: int,
                 seed: int) -> None:
        self.readers = [ArchiveReader(p) for p in archives]
        self.labels = list(labels)
        self.input_size, self.seed = input_size, seed

    def __len__(self) -> int:
        return len(self.readers)

    def sample(self, reader: ArchiveReader, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __getitem__(self, key: Key) -> tuple[torch.Tensor, int]:
        video, sample_seed = key
        rng = np.random.default_rng([self.seed, sample_seed])
        return torch.from_numpy(self.sample(self.readers[video], rng)), self.labels[video]


class SpatialTrainSet(_ArchiveSet):
    """One random RGB frame per video: random crop, flip, colour jitter."""

    def __init__(self, archives: Sequence[Path], labels: Sequence[int], *, input_size: int,
                 jitter: float, seed: int) -> None:
        super().__init__(archives, labels, input_size, seed)
        self.jitter = jitter

    def plan(self, reader: ArchiveReader, rng: np.random.Generator) -> SpatialPlan:
        """Every random choice of one sample, drawn before any pixel is decoded."""
        meta = reader.meta
        frame = int(rng.integers(meta["n_frames"]))
        box = random_box(meta["height"], meta["width"], self.input_size, rng)
        flip = bool(rng.random() < 0.5)
        return SpatialPlan(frame, box, flip, draw_jitter(self.jitter, rng))

    def sample(self, reader: ArchiveReader, rng: np.random.Generator) -> np.ndarray:
        plan = self.plan(reader, rng)
        image = crop(rgb_tensor(reader.image(frame_member(plan.frame))), plan.box)
        if plan.flip:
            image = flip_image(image)
        return np.ascontiguousarray(apply_jitter(image, plan.jitter))


class TemporalTrainSet(_ArchiveSet):
    """One random stack of L flow fields per video: crop, flip (negating d_x), mean subtraction."""

    def __init__(self, archives: Sequence[Path], labels: Sequence[int], *, input_size: int,
                 stack_length: int, mean_subtraction: bool, seed: int, stacking: str = "flow",
                 cache_mb: float = 0) -> None:
        super().__init__(archives, labels, input_size, seed)
        self.stack_length, self.mean_subtraction = stack_length, mean_subtraction
        self.stacking = stacking
        self.cache = FieldCache(cache_mb) if cache_mb > 0 else None

    def plan(self, reader: ArchiveReader, rng: np.random.Generator) -> TemporalPlan | None:
        """Every random choice of one sample (None: a clip with no flow field, a zero stack)."""
        meta = reader.meta
        n_fields = meta["n_fields"]
        if n_fields == 0:
            return None
        first = first_start(self.stacking, self.stack_length)
        start = first + int(rng.integers(max(n_fields - self.stack_length + 1, 1)))
        box = random_box(meta["height"], meta["width"], self.input_size, rng)
        return TemporalPlan(start, box, bool(rng.random() < 0.5))

    def fields(self, plan: TemporalPlan, n_fields: int) -> list[tuple[int, bool]]:
        """(field index, backward) of each stacked field, for stackings that only pick fields."""
        if self.stacking == "flow":
            return [(i, False) for i in stack_indices(plan.start, self.stack_length, n_fields)]
        if self.stacking == "bidirectional":
            forward, backward = bidirectional_indices(plan.start, self.stack_length, n_fields)
            return [(i, False) for i in forward] + [(i, True) for i in backward]
        raise ValueError(f"stacking {self.stacking!r} resamples fields; it has no plain field list")

    def sample(self, reader: ArchiveReader, rng: np.random.Generator) -> np.ndarray:
        size = self.input_size
        plan = self.plan(reader, rng)
        if plan is None:
            return np.zeros((2 * self.stack_length, size, size), np.float32)
        stack = build_stack(lambda idx, back: read_fields(reader, idx, back, self.cache), plan.start,
                            self.stack_length, reader.meta["n_fields"], self.stacking)
        if self.mean_subtraction:
            stack = subtract_mean_flow(stack)
        stack = crop(stack, plan.box)
        if plan.flip:
            stack = flip_stack(stack)
        return np.ascontiguousarray(stack)
