"""Network inputs from the per-video archives: training samples and the test protocol.

Training draws videos uniformly across classes, then one random frame (spatial) or one random
stack of L flow fields (temporal), a random crop anywhere in the frame and a random flip. Every
random choice of a sample comes from its own seed (``(video_index, sample_seed)`` keys from
:class:`BalancedBatches`), so results do not depend on worker count and a resumed run replays
exactly the batches an uninterrupted one would have seen.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from twostream.crops import crop, equally_spaced, flip_image, random_box, protocol_crops
from twostream.flow.quantize import decode_field
from twostream.flow.stacking import build_stack, flip_stack, stack_starts, subtract_mean_flow
from twostream.store import ArchiveReader, flow_members, frame_member

log = logging.getLogger(__name__)
RGB_MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
RGB_STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)
Key = tuple[int, int]


def rgb_tensor(frame_bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> normalised RGB float32 (3, H, W)."""
    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB).astype(np.float32).transpose(2, 0, 1) / 255.0
    return (rgb - RGB_MEAN) / RGB_STD


def rgb_jitter(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Random brightness, contrast and per-channel gain of relative size ``strength``."""
    if strength <= 0:
        return image
    gain = 1.0 + rng.uniform(-strength, strength, size=(3, 1, 1)).astype(np.float32)
    contrast = np.float32(1.0 + rng.uniform(-strength, strength))
    brightness = np.float32(rng.uniform(-strength, strength))
    mean = image.mean(axis=(1, 2), keepdims=True)
    return ((image - mean) * contrast + mean) * gain + brightness


def read_fields(reader: ArchiveReader, indices: Sequence[int], backward: bool = False) -> np.ndarray:
    """Decode flow fields ``indices`` (forward, or backward) -> (len, H, W, 2) float32."""
    bound = reader.meta["bound"]
    return np.stack([decode_field(*(reader.read(m) for m in flow_members(i, backward)), bound)
                     for i in indices])


def _first_start(kind: str, length: int) -> int:
    """A bi-directional stack looks L/2 fields back from tau, so tau starts at L/2."""
    return length // 2 if kind == "bidirectional" else 0


class BalancedBatches(Sampler[list[Key]]):
    """Batches of videos drawn uniformly across classes (the paper's sampling), per-batch seeded."""

    def __init__(self, labels: Sequence[int], batch_size: int, iterations: int, seed: int,
                 start: int = 0) -> None:
        self.labels = np.asarray(labels)
        self.classes = np.unique(self.labels)
        self.members = [np.flatnonzero(self.labels == c) for c in self.classes]
        self.batch_size, self.iterations, self.seed, self.start = batch_size, iterations, seed, start

    def __len__(self) -> int:
        return self.iterations - self.start

    def __iter__(self) -> Iterator[list[Key]]:
        for batch in range(self.start, self.iterations):
            rng = np.random.default_rng([self.seed, batch])
            picks = rng.integers(len(self.classes), size=self.batch_size)
            videos = [int(self.members[c][rng.integers(len(self.members[c]))]) for c in picks]
            yield [(v, batch * self.batch_size + k) for k, v in enumerate(videos)]


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

    def sample(self, reader: ArchiveReader, rng: np.random.Generator) -> np.ndarray:
        frame = rgb_tensor(reader.image(frame_member(int(rng.integers(reader.meta["n_frames"])))))
        image = crop(frame, random_box(frame.shape[1], frame.shape[2], self.input_size, rng))
        if rng.random() < 0.5:
            image = flip_image(image)
        return np.ascontiguousarray(rgb_jitter(image, self.jitter, rng))


class TemporalTrainSet(_ArchiveSet):
    """One random stack of L flow fields per video: crop, flip (negating d_x), mean subtraction."""

    def __init__(self, archives: Sequence[Path], labels: Sequence[int], *, input_size: int,
                 stack_length: int, mean_subtraction: bool, seed: int, stacking: str = "flow") -> None:
        super().__init__(archives, labels, input_size, seed)
        self.stack_length, self.mean_subtraction = stack_length, mean_subtraction
        self.stacking = stacking

    def sample(self, reader: ArchiveReader, rng: np.random.Generator) -> np.ndarray:
        n_fields, size = reader.meta["n_fields"], self.input_size
        if n_fields == 0:
            return np.zeros((2 * self.stack_length, size, size), np.float32)
        first = _first_start(self.stacking, self.stack_length)
        start = first + int(rng.integers(max(n_fields - self.stack_length + 1, 1)))
        stack = build_stack(lambda idx, back: read_fields(reader, idx, back), start,
                            self.stack_length, n_fields, self.stacking)
        if self.mean_subtraction:
            stack = subtract_mean_flow(stack)
        stack = crop(stack, random_box(stack.shape[1], stack.shape[2], size, rng))
        if rng.random() < 0.5:
            stack = flip_stack(stack)
        return np.ascontiguousarray(stack)


def spatial_test_inputs(reader: ArchiveReader, *, frames: int, crops: int,
                        input_size: int) -> np.ndarray:
    """(frames * crops, 3, s, s): equally spaced frames, each as corner/centre crops and flips."""
    chosen = equally_spaced(reader.meta["n_frames"], frames)
    decoded = {i: rgb_tensor(reader.image(frame_member(i))) for i in set(chosen)}
    return np.concatenate([protocol_crops(decoded[i], input_size, crops, flip_image) for i in chosen])


def temporal_test_inputs(reader: ArchiveReader, *, frames: int, crops: int, input_size: int,
                         stack_length: int, mean_subtraction: bool, stacking: str = "flow") -> np.ndarray:
    """(frames * crops, 2L, s, s): equally spaced flow stacks, each cropped and flipped."""
    n_fields = reader.meta["n_fields"]
    if n_fields == 0:
        return np.zeros((frames * crops, 2 * stack_length, input_size, input_size), np.float32)
    decoded = {False: read_fields(reader, range(n_fields))}
    if stacking == "bidirectional":
        decoded[True] = read_fields(reader, range(n_fields), backward=True)
    first = _first_start(stacking, stack_length)
    batches = []
    for start in stack_starts(n_fields, stack_length, frames):
        stack = build_stack(lambda idx, back: decoded[back][list(idx)], first + start, stack_length,
                            n_fields, stacking)
        if mean_subtraction:
            stack = subtract_mean_flow(stack)
        batches.append(protocol_crops(stack, input_size, crops, flip_stack))
    return np.concatenate(batches)
