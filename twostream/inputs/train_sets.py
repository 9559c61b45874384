"""Training samples from the per-video archives.

One random frame (spatial) or one random stack of L flow fields (temporal) per sample (per
segment, with TSN's segments), a random crop and a random flip. Every random choice of a sample comes from its own
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

from twostream.config import CROP_SCHEMES
from twostream.inputs.crops import (Region, corner_scale_region, crop_resized, flip_image,
                                    random_box, square_region)
from twostream.inputs.decoded_cache import DecodedCache
from twostream.inputs.fields import read_fields
from twostream.inputs.rgb import Jitter, apply_jitter, draw_jitter, rgb_tensor
from twostream.inputs.sampler import Key
from twostream.inputs.segments import segment_positions
from twostream.inputs.rgb_diff import n_differences, read_differences
from twostream.inputs.stacking import (bidirectional_indices, build_stack, first_start, flip_stack,
                                       stack_channels, stack_indices, subtract_mean_flow)
from twostream.store.zipstore import ArchiveReader, frame_member


@dataclass(frozen=True)
class SpatialPlan:
    frames: tuple[int, ...]  # one per segment
    region: Region
    flip: bool
    jitter: Jitter | None


@dataclass(frozen=True)
class TemporalPlan:
    starts: tuple[int, ...]  # one stack start per segment
    region: Region
    flip: bool


class _ArchiveSet(Dataset):
    """Samples of one video each, drawn from its own seed. ``segments`` K > 1 (TSN) gives each
    sample K snippets, one per segment of the video, under one crop and flip: (K, C, s, s); the
    paper's K = 1 gives (C, s, s). ``crops``: ``random`` (the paper: an s x s crop anywhere) or
    ``corners_scales`` (TSN: corner or centre crops of jittered size, resized to s)."""

    def __init__(self, archives: Sequence[Path], labels: Sequence[int], input_size: int,
                 seed: int, segments: int = 1, crops: str = "random") -> None:
        if crops not in CROP_SCHEMES:
            raise ValueError(f"crops={crops!r}: must be one of {list(CROP_SCHEMES)}")
        self.readers = [ArchiveReader(p) for p in archives]
        self.labels = list(labels)
        self.input_size, self.seed, self.segments, self.crops = input_size, seed, segments, crops

    def __len__(self) -> int:
        return len(self.readers)

    def region(self, meta: dict, rng: np.random.Generator) -> Region:
        if self.crops == "corners_scales":
            return corner_scale_region(meta["height"], meta["width"], rng)
        return square_region(random_box(meta["height"], meta["width"], self.input_size, rng))

    def sample(self, reader: ArchiveReader, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __getitem__(self, key: Key) -> tuple[torch.Tensor, int]:
        video, sample_seed = key
        rng = np.random.default_rng([self.seed, sample_seed])
        return torch.from_numpy(self.sample(self.readers[video], rng)), self.labels[video]

    def _shaped(self, snippets: list[np.ndarray]) -> np.ndarray:
        return np.ascontiguousarray(snippets[0] if self.segments == 1 else np.stack(snippets))


class SpatialTrainSet(_ArchiveSet):
    """One random RGB frame per video (per segment): crop, flip, colour jitter."""

    def __init__(self, archives: Sequence[Path], labels: Sequence[int], *, input_size: int,
                 jitter: float, seed: int, segments: int = 1, crops: str = "random") -> None:
        super().__init__(archives, labels, input_size, seed, segments, crops)
        self.jitter = jitter

    def plan(self, reader: ArchiveReader, rng: np.random.Generator) -> SpatialPlan:
        """Every random choice of one sample, drawn before any pixel is decoded."""
        meta = reader.meta
        frames = tuple(segment_positions(meta["n_frames"], self.segments, rng))
        region = self.region(meta, rng)
        flip = bool(rng.random() < 0.5)
        return SpatialPlan(frames, region, flip, draw_jitter(self.jitter, rng))

    def sample(self, reader: ArchiveReader, rng: np.random.Generator) -> np.ndarray:
        plan = self.plan(reader, rng)
        snippets = []
        for frame in plan.frames:
            image = crop_resized(rgb_tensor(reader.image(frame_member(frame))), plan.region,
                                 self.input_size)
            if plan.flip:
                image = flip_image(image)
            snippets.append(apply_jitter(image, plan.jitter))
        return self._shaped(snippets)


class TemporalTrainSet(_ArchiveSet):
    """One random stack of L flow fields per video (per segment): crop, flip (negating d_x),
    mean subtraction. With ``stacking="rgb_diff"`` the archives are frames archives and the
    stack is L RGB differences."""

    def __init__(self, archives: Sequence[Path], labels: Sequence[int], *, input_size: int,
                 stack_length: int, mean_subtraction: bool, seed: int, stacking: str = "flow",
                 cache_mb: float = 0, segments: int = 1, crops: str = "random") -> None:
        super().__init__(archives, labels, input_size, seed, segments, crops)
        self.stack_length, self.mean_subtraction = stack_length, mean_subtraction
        self.stacking = stacking
        self.cache = DecodedCache(cache_mb) if cache_mb > 0 else None  # flow fields or frames

    @property
    def reads_frames(self) -> bool:
        """RGB differences are read from frames archives, every other stacking from flow."""
        return self.stacking == "rgb_diff"

    def n_fields(self, meta: dict) -> int:
        return n_differences(meta) if self.reads_frames else meta["n_fields"]

    def plan(self, reader: ArchiveReader, rng: np.random.Generator) -> TemporalPlan | None:
        """Every random choice of one sample (None: a clip with no flow field, a zero stack)."""
        meta = reader.meta
        n_fields = self.n_fields(meta)
        if n_fields == 0:
            return None
        first = first_start(self.stacking, self.stack_length)
        starts = segment_positions(max(n_fields - self.stack_length + 1, 1), self.segments, rng)
        region = self.region(meta, rng)
        return TemporalPlan(tuple(first + s for s in starts), region, bool(rng.random() < 0.5))

    def fields(self, start: int, n_fields: int) -> list[tuple[int, bool]]:
        """(field index, backward) of each field of the stack at ``start``, for stackings that
        only pick fields."""
        if self.stacking == "flow":
            return [(i, False) for i in stack_indices(start, self.stack_length, n_fields)]
        if self.stacking == "bidirectional":
            forward, backward = bidirectional_indices(start, self.stack_length, n_fields)
            return [(i, False) for i in forward] + [(i, True) for i in backward]
        raise ValueError(f"stacking {self.stacking!r} resamples fields; it has no plain field list")

    def sample(self, reader: ArchiveReader, rng: np.random.Generator) -> np.ndarray:
        size = self.input_size
        plan = self.plan(reader, rng)
        if plan is None:
            zeros = np.zeros((stack_channels(self.stacking, self.stack_length), size, size), np.float32)
            return self._shaped([zeros] * self.segments)
        if self.reads_frames:
            read = lambda idx, back: read_differences(reader, idx, self.cache)  # noqa: E731
        else:
            read = lambda idx, back: read_fields(reader, idx, back, self.cache)  # noqa: E731
        flip = flip_image if self.reads_frames else flip_stack  # a mirrored difference keeps its sign
        snippets = []
        for start in plan.starts:
            stack = build_stack(read, start, self.stack_length, self.n_fields(reader.meta), self.stacking)
            if self.mean_subtraction:
                stack = subtract_mean_flow(stack)
            stack = crop_resized(stack, plan.region, size, flow=not self.reads_frames)
            if plan.flip:
                stack = flip(stack)
            snippets.append(stack)
        return self._shaped(snippets)
