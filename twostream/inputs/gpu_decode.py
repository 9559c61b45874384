"""Training batches decoded on the GPU: loader workers only read JPEG bytes and draw the random
choices; the GPU decodes (``torchvision.io.decode_jpeg`` on CUDA, nvJPEG) and crops, flips,
normalises and jitters the whole batch.

On a fast GPU the CPU-side decode of 2L flow JPEGs per temporal sample bounds training; this
moves it. The random choices are the datasets' own ``plan`` draws, so a sample is the one the
CPU path makes (up to JPEG decoder rounding). The same code runs with ``device="cpu"``, which is
how the tests check it. Trajectory stacking resamples fields along trajectories and stays on the
CPU path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from twostream.store.flow_jpeg import ZERO_CODE, code_step
from twostream.inputs.crops import scale_displacements
from twostream.inputs.rgb import RGB_MEAN, RGB_STD
from twostream.inputs.sampler import Key
from twostream.inputs.train_sets import SpatialTrainSet, TemporalTrainSet
from twostream.store.zipstore import ArchiveReader, flow_members, frame_member

log = logging.getLogger(__name__)

# One raw sample: its JPEG byte tensors, its plan as numbers, its label.
RawSample = tuple[list[torch.Tensor], torch.Tensor, int]


class RawBatch(NamedTuple):
    """A batch as few tensors: every JPEG of the batch in one byte tensor. A loader worker hands
    each tensor to the main process through a file descriptor, so a temporal batch of 256 x 2L
    separate JPEG tensors would pass thousands of them per batch and run out."""

    data: torch.Tensor      # uint8: the batch's JPEGs end to end
    sizes: torch.Tensor     # int64: each JPEG's length in bytes
    counts: torch.Tensor    # int64: each sample's number of JPEGs
    numbers: torch.Tensor   # float64 (B, k): each sample's plan
    labels: torch.Tensor    # int64 (B,)

    def flat_jpegs(self) -> list[torch.Tensor]:
        """Every JPEG of the batch in sample order, as views into ``data``."""
        return list(torch.split(self.data, self.sizes.tolist())) if len(self.sizes) else []

    def jpegs(self) -> list[list[torch.Tensor]]:
        """Each sample's JPEGs, as views into ``data``."""
        flat, out, at = self.flat_jpegs(), [], 0
        for count in self.counts.tolist():
            out.append(flat[at:at + count])
            at += count
        return out


def _bytes(data: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


class _RawSet(Dataset):
    """A training set's samples as bytes and plans: the same keys, seeds and random draws."""

    def __init__(self, data: SpatialTrainSet | TemporalTrainSet) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def planned(self, key: Key) -> tuple[ArchiveReader, Any, int]:
        """(the video's reader, the sample's plan, its label) for ``key``."""
        video, sample_seed = key
        reader = self.data.readers[video]
        plan = self.data.plan(reader, np.random.default_rng([self.data.seed, sample_seed]))
        return reader, plan, self.data.labels[video]


class RawSpatial(_RawSet):
    """JPEG of each planned frame (one per segment) + [top, left, flip, gain x3, contrast,
    brightness, jitter?, crop height, crop width]."""

    def __getitem__(self, key: Key) -> RawSample:
        reader, plan, label = self.planned(key)
        gain, contrast, brightness = plan.jitter if plan.jitter is not None else (np.ones(3), 1.0, 0.0)
        top, left, height, width = plan.region
        numbers = torch.tensor([top, left, plan.flip, *gain, contrast, brightness,
                                plan.jitter is not None, height, width], dtype=torch.float64)
        return [_bytes(reader.read(frame_member(f))) for f in plan.frames], numbers, label


class RawTemporal(_RawSet):
    """x and y JPEGs of each planned field, stack after stack (one per segment) + [top, left,
    flip, bound, crop height, crop width]; no JPEGs for a clip with no field (zero stacks)."""

    def __init__(self, data: TemporalTrainSet) -> None:
        if data.stacking == "trajectory":
            raise ValueError("trajectory stacking resamples fields on the CPU; no GPU decode")
        super().__init__(data)

    def __getitem__(self, key: Key) -> RawSample:
        reader, plan, label = self.planned(key)
        if plan is None:
            return [], torch.tensor([0, 0, 0, 0, 0, 0], dtype=torch.float64), label
        jpegs = [_bytes(reader.read(member)) for start in plan.starts
                 for index, backward in self.data.fields(start, reader.meta["n_fields"])
                 for member in flow_members(index, backward)]
        top, left, height, width = plan.region
        numbers = torch.tensor([top, left, plan.flip, reader.meta["bound"], height, width],
                               dtype=torch.float64)
        return jpegs, numbers, label


def collate_raw(samples: Sequence[RawSample]) -> RawBatch:
    jpegs = [j for s in samples for j in s[0]]
    data = torch.cat(jpegs) if jpegs else torch.empty(0, dtype=torch.uint8)
    return RawBatch(data, torch.tensor([len(j) for j in jpegs], dtype=torch.int64),
                    torch.tensor([len(s[0]) for s in samples], dtype=torch.int64),
                    torch.stack([s[1] for s in samples]), torch.tensor([s[2] for s in samples]))


def _decode(jpegs: list[torch.Tensor], device: torch.device, mode: str) -> list[torch.Tensor]:
    from torchvision.io import ImageReadMode, decode_jpeg

    if not jpegs:
        return []
    return decode_jpeg(jpegs, mode=getattr(ImageReadMode, mode), device=device)


def _resized(x: torch.Tensor, size: int) -> torch.Tensor:
    """(C, h, w) -> (C, size, size), bilinear with half-pixel centres as OpenCV's INTER_LINEAR."""
    if x.shape[-2:] == (size, size):
        return x
    return torch.nn.functional.interpolate(x[None], size=(size, size), mode="bilinear",
                                           align_corners=False)[0]


def _segments(snippets: list[torch.Tensor], segments: int) -> torch.Tensor:
    return snippets[0] if segments == 1 else torch.stack(snippets)


def spatial_batch(raw: RawBatch, size: int, device: torch.device, segments: int = 1) -> torch.Tensor:
    """(B, 3, size, size), or (B, K, 3, size, size) with K segments: normalised RGB, as
    :meth:`SpatialTrainSet.sample` makes it."""
    flat = _decode(raw.flat_jpegs(), device, "RGB")
    mean = torch.as_tensor(RGB_MEAN, device=device)
    std = torch.as_tensor(RGB_STD, device=device)
    out, at = [], 0
    for count, n in zip(raw.counts.tolist(), raw.numbers.tolist()):
        top, left, flip, height, width = int(n[0]), int(n[1]), bool(n[2]), int(n[9]), int(n[10])
        snippets = []
        for image in flat[at:at + count]:
            x = (image[:, top:top + height, left:left + width].float() / 255.0 - mean) / std
            x = _resized(x, size)
            if flip:
                x = x.flip(-1)
            if n[8]:
                gain = torch.tensor(n[3:6], dtype=torch.float32, device=device).view(3, 1, 1)
                centre = x.mean(dim=(1, 2), keepdim=True)
                x = ((x - centre) * n[6] + centre) * gain + n[7]
            snippets.append(x)
        at += count
        out.append(_segments(snippets, segments))
    return torch.stack(out)


def temporal_batch(raw: RawBatch, size: int, stack_length: int, mean_subtraction: bool,
                   device: torch.device, segments: int = 1) -> torch.Tensor:
    """(B, 2L, size, size), or (B, K, 2L, size, size) with K segments: flow stacks, as
    :meth:`TemporalTrainSet.sample` makes them."""
    flat = _decode(raw.flat_jpegs(), device, "GRAY")
    out, at = [], 0
    for count, n in zip(raw.counts.tolist(), raw.numbers.tolist()):
        if not count:
            zeros = torch.zeros(2 * stack_length, size, size, device=device)
            out.append(_segments([zeros] * segments, segments))
            continue
        per_stack = count // segments
        top, left, height, width = int(n[0]), int(n[1]), int(n[4]), int(n[5])
        snippets = []
        for first in range(at, at + count, per_stack):
            codes = torch.cat(flat[first:first + per_stack])  # (2L, H, W): dx0, dy0, dx1, ...
            stack = (codes.float() - ZERO_CODE) * code_step(n[3])
            if mean_subtraction:
                stack = stack - stack.mean(dim=(1, 2), keepdim=True)
            stack = stack[:, top:top + height, left:left + width]
            if (height, width) != (size, size):  # displacements scale with the zoom
                stack = scale_displacements(_resized(stack, size), height, width, size)
            if n[2]:
                stack = stack.flip(-1)
                stack[0::2] = -stack[0::2]
            snippets.append(stack)
        at += count
        out.append(_segments(snippets, segments))
    return torch.stack(out)


def on_device(loader: Iterable[RawBatch], assemble, device: torch.device
              ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(inputs on ``device``, labels) from raw batches."""
    for raw in loader:
        yield assemble(raw, device), raw.labels


def raw_dataset(data: Dataset) -> Dataset | None:
    """The GPU-decoding twin of a training set, or None when its samples need the CPU path
    (trajectory stacks, RGB differences)."""
    if isinstance(data, SpatialTrainSet):
        return RawSpatial(data)
    if isinstance(data, TemporalTrainSet) and data.stacking not in ("trajectory", "rgb_diff"):
        return RawTemporal(data)
    return None


def assembler(data: Dataset):
    """The batch builder matching :func:`raw_dataset` of ``data``."""
    if isinstance(data, SpatialTrainSet):
        return lambda raw, device: spatial_batch(raw, data.input_size, device, data.segments)
    return lambda raw, device: temporal_batch(raw, data.input_size, data.stack_length,
                                              data.mean_subtraction, device, data.segments)
