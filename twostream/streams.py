"""What distinguishes the two streams and the cells of Table 1, in records that travel inside
each model file.

A *cell* is one trained network: a Table 1a spatial setting at one dropout
(``last_layer-0.5``), or a Table 1b temporal input (``flow10_sub``). The evaluate stage rebuilds
inputs and network from the saved :class:`StreamSpec` alone, so it depends on the model file and
the test protocol, never on the training params (nor on a weights file).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from twostream.config import EvaluateParams, Params, ParamsError, Schedule, StreamParams
from twostream.models import Pretrained, build_model
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
    init: str = "scratch"           # scratch | imagenet | cross_modality
    trainable: str = "all"          # all | last (Table 1a's "train only the last layer")
    stack_length: int = 1           # temporal only
    mean_subtraction: bool = False  # temporal only
    stacking: str = "flow"          # temporal only: flow | trajectory | bidirectional

    @property
    def in_channels(self) -> int:
        return 3 if self.stream == "spatial" else 2 * self.stack_length

    @property
    def norm2(self) -> bool:
        return self.stream == "spatial"  # the paper removes conv2's LRN from the temporal net

    def build(self, num_classes: int, weights: tuple[str, str] | None = None
              ) -> tuple[nn.Module, Pretrained | None]:
        """The network; ``weights=(path, param key)`` loads ImageNet weights (training only)."""
        return build_model(self.arch, in_channels=self.in_channels, num_classes=num_classes,
                           width=self.width, norm2=self.norm2, dropout=self.dropout,
                           input_size=self.input_size, rgb=self.stream == "spatial",
                           imagenet=weights if self.init != "scratch" else None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Cell:
    """One network to train: its spec, its schedule and where its ImageNet weights come from."""
    name: str
    spec: StreamSpec
    block: StreamParams
    schedule: Schedule
    weights_key: str

    @property
    def weights(self) -> tuple[str, str] | None:
        if self.spec.init == "scratch":
            return None
        return getattr(self.block, "weights"), self.weights_key


def spatial_cell_name(setting: str, dropout: float) -> str:
    """``<setting>-<dropout>``, as DVC names the matrix stage ``train_spatial@<setting>-<dropout>``."""
    return f"{setting}-{dropout}"


def spatial_cells(params: Params) -> list[str]:
    return [spatial_cell_name(s, d) for s in params.table1a.settings for d in params.table1a.dropouts]


def temporal_cells(params: Params) -> list[str]:
    return list(params.table1b)


def cell(params: Params, stream: Stream, name: str) -> Cell:
    """The cell ``name`` of ``stream`` under ``params``; unknown names fail naming the choices."""
    if stream == "spatial":
        if name not in spatial_cells(params):
            raise ParamsError(f"spatial cell {name!r}: not in table1a (cells: {spatial_cells(params)})")
        setting, dropout = name.rsplit("-", 1)
        s = params.spatial
        scratch = setting == "scratch"
        spec = StreamSpec("spatial", s.backbone if scratch else s.pretrained_backbone, s.width,
                          s.input_size, float(dropout), "scratch" if scratch else "imagenet",
                          "last" if setting == "last_layer" else "all")
        return Cell(name, spec, s, s.schedule("scratch" if scratch else "finetune"), "spatial.weights")
    if name not in params.table1b:
        raise ParamsError(f"temporal cell {name!r}: not in table1b (cells: {temporal_cells(params)})")
    t, inputs = params.temporal, params.table1b[name]
    spec = StreamSpec("temporal", t.backbone, t.width, t.input_size, t.dropout, t.init, "all",
                      inputs.stack_length, inputs.mean_subtraction, inputs.stacking)
    return Cell(name, spec, t, t.schedule("scratch" if t.init == "scratch" else "finetune"),
                "temporal.weights")


def train_set(spec: StreamSpec, params: Params, archives: list[Path], labels: list[int],
              seed: int) -> Dataset:
    if spec.stream == "spatial":
        return SpatialTrainSet(archives, labels, input_size=spec.input_size,
                               jitter=params.spatial.rgb_jitter, seed=seed)
    return TemporalTrainSet(archives, labels, input_size=spec.input_size,
                            stack_length=spec.stack_length,
                            mean_subtraction=spec.mean_subtraction, seed=seed,
                            stacking=spec.stacking)


def test_inputs(spec: StreamSpec, reader: ArchiveReader, protocol: EvaluateParams
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct test-protocol inputs of one video, (n, C, s, s), and how often each occurs.

    A clip shorter than ``protocol.frames`` repeats frames (and stacks); scoring each distinct
    input once and weighting it by its count gives the same mean over all frames x crops.
    """
    if spec.stream == "spatial":
        array, counts = spatial_test_inputs(reader, frames=protocol.frames, crops=protocol.crops,
                                            input_size=spec.input_size)
    else:
        array, counts = temporal_test_inputs(
            reader, frames=protocol.frames, crops=protocol.crops, input_size=spec.input_size,
            stack_length=spec.stack_length, mean_subtraction=spec.mean_subtraction,
            stacking=spec.stacking)
    return torch.from_numpy(np.ascontiguousarray(array)), torch.from_numpy(counts)


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
