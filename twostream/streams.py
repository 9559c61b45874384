"""What distinguishes the two streams, in one record that travels inside each model file.

The evaluate stage rebuilds inputs and network from this record alone, so it depends on the
model file and the test protocol, never on the training params.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from twostream.config import EvaluateParams, Params, StreamParams
from twostream.models import build_model
from twostream.samples import (SpatialTrainSet, TemporalTrainSet, spatial_test_inputs,
                               temporal_test_inputs)
from twostream.store import ArchiveReader, read_meta

Stream = Literal["spatial", "temporal"]
STREAMS: tuple[Stream, ...] = ("spatial", "temporal")


@dataclass(frozen=True)
class StreamSpec:
    stream: Stream
    arch: str
    width: float
    input_size: int
    dropout: float
    stack_length: int = 1          # temporal only
    mean_subtraction: bool = False  # temporal only
    stacking: str = "flow"         # temporal only: flow | trajectory | bidirectional

    @property
    def in_channels(self) -> int:
        return 3 if self.stream == "spatial" else 2 * self.stack_length

    @property
    def norm2(self) -> bool:
        return self.stream == "spatial"  # the paper removes conv2's LRN from the temporal net

    def build(self, num_classes: int) -> nn.Module:
        return build_model(self.arch, in_channels=self.in_channels, num_classes=num_classes,
                           width=self.width, norm2=self.norm2, dropout=self.dropout,
                           input_size=self.input_size)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stream_params(params: Params, stream: Stream) -> StreamParams:
    return params.spatial if stream == "spatial" else params.temporal


def stream_spec(params: Params, stream: Stream) -> StreamSpec:
    """The spec of ``stream`` under ``params`` (spatial dropout is the top-level ``dropout``)."""
    block = stream_params(params, stream)
    if stream == "spatial":
        return StreamSpec("spatial", block.arch, block.width, block.input_size, params.dropout)
    t = params.temporal
    return StreamSpec("temporal", t.arch, t.width, t.input_size, t.dropout, t.stack_length,
                      t.mean_subtraction, t.stacking)


def train_set(spec: StreamSpec, params: Params, archives: list[Path], labels: list[int],
              seed: int) -> Dataset:
    if spec.stream == "spatial":
        return SpatialTrainSet(archives, labels, input_size=spec.input_size,
                               jitter=params.spatial.rgb_jitter, seed=seed)
    return TemporalTrainSet(archives, labels, input_size=spec.input_size,
                            stack_length=spec.stack_length,
                            mean_subtraction=spec.mean_subtraction, seed=seed,
                            stacking=spec.stacking)


def test_inputs(spec: StreamSpec, reader: ArchiveReader, protocol: EvaluateParams) -> torch.Tensor:
    """All test-protocol inputs of one video, (frames * crops, C, s, s)."""
    if spec.stream == "spatial":
        array = spatial_test_inputs(reader, frames=protocol.frames, crops=protocol.crops,
                                    input_size=spec.input_size)
    else:
        array = temporal_test_inputs(reader, frames=protocol.frames, crops=protocol.crops,
                                     input_size=spec.input_size, stack_length=spec.stack_length,
                                     mean_subtraction=spec.mean_subtraction, stacking=spec.stacking)
    return torch.from_numpy(np.ascontiguousarray(array))


def warn_short_clips(spec: StreamSpec, archives: list[Path], log: Any) -> None:
    """Log (once per stage) how many clips are too short for an L-field stack and get padded."""
    if spec.stream != "temporal":
        return
    short = []
    for path in archives:
        meta = read_meta(path)
        if meta is not None and meta["n_fields"] < spec.stack_length:
            short.append(path.stem)
    if short:
        log.warning("%d clips have fewer than L+1=%d frames; their stacks repeat the last flow "
                    "field (padding), clips with no field get zero stacks: %s", len(short),
                    spec.stack_length + 1, ", ".join(short[:5]))
