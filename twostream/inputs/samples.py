"""Network inputs from the per-video archives: training samples and the test protocol.

Training draws videos uniformly across classes, then one random frame (spatial) or one random
stack of L flow fields (temporal), a random crop anywhere in the frame and a random flip. Every
random choice of a sample comes from its own seed (``(video_index, sample_seed)`` keys from
:class:`BalancedBatches`), so results do not depend on worker count and a resumed run replays
exactly the batches an uninterrupted one would have seen.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from twostream.inputs.crops import Box, crop, equally_spaced, flip_image, protocol_crops, random_box
from twostream.store.flow_jpeg import decode_codes, dequantize
from twostream.inputs.stacking import (bidirectional_indices, build_stack, flip_stack, stack_indices,
                                       stack_starts, subtract_mean_flow)
from twostream.models.normalise import IMAGENET_MEAN, IMAGENET_STD
from twostream.store.zipstore import ArchiveReader, flow_members, frame_member

log = logging.getLogger(__name__)
# Samples are normalised as torchvision's ImageNet models expect; each network converts to its own.
RGB_MEAN = np.array(IMAGENET_MEAN, np.float32).reshape(3, 1, 1)
RGB_STD = np.array(IMAGENET_STD, np.float32).reshape(3, 1, 1)
Key = tuple[int, int]


def rgb_tensor(frame_bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> normalised RGB float32 (3, H, W)."""
    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB).astype(np.float32).transpose(2, 0, 1) / 255.0
    return (rgb - RGB_MEAN) / RGB_STD


Jitter = tuple[np.ndarray, float, float]  # per-channel gain (3,), contrast, brightness


def draw_jitter(strength: float, rng: np.random.Generator) -> Jitter | None:
    """Random per-channel gain, contrast and brightness of relative size ``strength``."""
    if strength <= 0:
        return None
    gain = 1.0 + rng.uniform(-strength, strength, size=3).astype(np.float32)
    contrast = float(1.0 + rng.uniform(-strength, strength))
    brightness = float(rng.uniform(-strength, strength))
    return gain, contrast, brightness


def apply_jitter(image: np.ndarray, jitter: Jitter | None) -> np.ndarray:
    """((x - mean) * contrast + mean) * gain + brightness, the mean per channel of this crop."""
    if jitter is None:
        return image
    gain, contrast, brightness = jitter
    mean = image.mean(axis=(1, 2), keepdims=True)
    return ((image - mean) * np.float32(contrast) + mean) * gain.reshape(3, 1, 1) + np.float32(brightness)


class FieldCache:
    """Decoded flow fields (uint8 codes) kept in memory up to a byte budget, least recently used
    out first. Training draws stacks from the same few fields over and over; decoding their
    JPEGs was half of the temporal loader's time. One per loader process (not shared)."""

    def __init__(self, budget_mb: float) -> None:
        self.budget = int(budget_mb * 2**20)
        self.used = 0
        self.fields: OrderedDict[tuple[str, int, bool], np.ndarray] = OrderedDict()

    def codes(self, reader: ArchiveReader, index: int, backward: bool) -> np.ndarray:
        key = (str(reader.path), index, backward)
        found = self.fields.get(key)
        if found is not None:
            self.fields.move_to_end(key)
            return found
        codes = decode_codes(*(reader.read(m) for m in flow_members(index, backward)))
        if codes.nbytes <= self.budget:
            self.fields[key] = codes
            self.used += codes.nbytes
            while self.used > self.budget:
                self.used -= self.fields.popitem(last=False)[1].nbytes
        return codes


def read_fields(reader: ArchiveReader, indices: Sequence[int], backward: bool = False,
                cache: FieldCache | None = None) -> np.ndarray:
    """Decode flow fields ``indices`` (forward, or backward) -> (len, H, W, 2) float32."""
    if cache is None:
        codes = [decode_codes(*(reader.read(m) for m in flow_members(i, backward))) for i in indices]
    else:
        codes = [cache.codes(reader, i, backward) for i in indices]
    return dequantize(np.stack(codes), reader.meta["bound"])


def _first_start(kind: str, length: int) -> int:
    """A bi-directional stack looks L/2 fields back from tau, so tau starts at L/2."""
    return length // 2 if kind == "bidirectional" else 0


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


class BalancedBatches(Sampler[list[Key]]):
    """Batches of videos drawn uniformly across classes (the paper's sampling), per-batch seeded.

    ``pools`` mixes datasets (multi-task training): each pool is a set of classes and how many
    samples of every batch it gives, uniformly across its own classes; default one pool of all.
    Under data parallelism each of ``world`` ranks takes every ``world``-th sample of each
    global batch, so the ranks together see exactly the batches one process would.
    """

    def __init__(self, labels: Sequence[int], batch_size: int, iterations: int, seed: int,
                 start: int = 0, rank: int = 0, world: int = 1,
                 pools: Sequence[tuple[Sequence[int], int]] | None = None) -> None:
        if batch_size % world:
            raise ValueError(f"batch_size={batch_size} does not split evenly over {world} ranks")
        self.labels = np.asarray(labels)
        present = np.unique(self.labels)
        pools = pools or [(present, batch_size)]
        if sum(n for _, n in pools) != batch_size:
            raise ValueError(f"pools give {sum(n for _, n in pools)} samples, batch_size={batch_size}")
        self.pools = []
        for classes, count in pools:
            classes = [c for c in classes if c in set(present)]
            if count and not classes:
                raise ValueError("a pool of the batch has no training videos")
            self.pools.append(([np.flatnonzero(self.labels == c) for c in classes], count))
        self.batch_size, self.iterations, self.seed, self.start = batch_size, iterations, seed, start
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return self.iterations - self.start

    def __iter__(self) -> Iterator[list[Key]]:
        for batch in range(self.start, self.iterations):
            rng = np.random.default_rng([self.seed, batch])
            videos = []
            for members, count in self.pools:
                picks = rng.integers(len(members), size=count)
                videos += [int(members[c][rng.integers(len(members[c]))]) for c in picks]
            keys = [(v, batch * self.batch_size + k) for k, v in enumerate(videos)]
            yield keys[self.rank::self.world]


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
        first = _first_start(self.stacking, self.stack_length)
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


def _distinct(positions: Sequence[int]) -> tuple[list[int], np.ndarray]:
    """Distinct positions in order and how often each occurs."""
    values, counts = np.unique(np.asarray(positions), return_counts=True)
    return [int(v) for v in values], counts


def spatial_test_inputs(reader: ArchiveReader, *, frames: int, crops: int,
                        input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Equally spaced frames, each as corner/centre crops and flips: the distinct inputs
    (n, 3, s, s) and each one's multiplicity among the ``frames * crops`` protocol inputs."""
    chosen, counts = _distinct(equally_spaced(reader.meta["n_frames"], frames))
    inputs = [protocol_crops(rgb_tensor(reader.image(frame_member(i))), input_size, crops, flip_image)
              for i in chosen]
    return np.concatenate(inputs), np.repeat(counts, len(inputs[0])).astype(np.float32)


def temporal_test_inputs(reader: ArchiveReader, *, frames: int, crops: int, input_size: int,
                         stack_length: int, mean_subtraction: bool, stacking: str = "flow"
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Equally spaced flow stacks, each cropped and flipped: the distinct inputs (n, 2L, s, s)
    and each one's multiplicity among the ``frames * crops`` protocol inputs."""
    n_fields = reader.meta["n_fields"]
    if n_fields == 0:
        zeros = np.zeros((crops, 2 * stack_length, input_size, input_size), np.float32)
        return zeros, np.full(crops, float(frames), np.float32)
    decoded = {False: read_fields(reader, range(n_fields))}
    if stacking == "bidirectional":
        decoded[True] = read_fields(reader, range(n_fields), backward=True)
    first = _first_start(stacking, stack_length)
    starts, counts = _distinct(stack_starts(n_fields, stack_length, frames))
    batches = []
    for start in starts:
        stack = build_stack(lambda idx, back: decoded[back][list(idx)], first + start, stack_length,
                            n_fields, stacking)
        if mean_subtraction:
            stack = subtract_mean_flow(stack)
        batches.append(protocol_crops(stack, input_size, crops, flip_stack))
    return np.concatenate(batches), np.repeat(counts, len(batches[0])).astype(np.float32)
