"""What distinguishes the two streams, and a cell of :mod:`twostream.cells` made concrete from
the params: its network spec (a record that travels inside each model file), schedule and
training samples. The evaluate stage rebuilds
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

from twostream.cells import (SPATIAL_SETTINGS, TABLE2_ROWS, Table2Row, spatial_cells, spatial_setting,
                             temporal_cells)
from twostream.config import (ROLES, EvaluateParams, Params, ParamsError, Schedule, SpatialParams,
                              StreamParams, TemporalParams, scaled_schedule)
from twostream.models import Pretrained, build_model
from twostream.inputs.protocol import spatial_test_inputs, temporal_test_inputs
from twostream.inputs.rgb_diff import n_differences
from twostream.inputs.stacking import stack_channels
from twostream.inputs.train_sets import SpatialTrainSet, TemporalTrainSet
from twostream.store.zipstore import ArchiveReader, read_meta

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
    stacking: str = "flow"          # temporal only: flow | trajectory | bidirectional | rgb_diff

    @property
    def in_channels(self) -> int:
        return 3 if self.stream == "spatial" else stack_channels(self.stacking, self.stack_length)

    @property
    def reads_frames(self) -> bool:
        """Whether its inputs come from frames archives (spatial, or RGB differences) rather
        than flow archives."""
        return self.stream == "spatial" or self.stacking == "rgb_diff"

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
    """One network to train: its spec, its schedule, where its ImageNet weights come from, and
    which dataset parts it learns from (``parts[0]`` is the one it is tested on). ``row`` is its
    Table 2 record (:data:`twostream.cells.TABLE2_ROWS`), None for a Table 1 cell."""
    name: str
    spec: StreamSpec
    block: StreamParams
    schedule: Schedule
    weights_key: str
    parts: tuple[str, ...] = ("ucf101",)
    row: Table2Row | None = None
    extra_classes: tuple[str, ...] = ()  # an extra-classes row: table2.extra_classes
    multitask_ratio: float | None = None  # a multi-task row: table2.multitask_ratio (parts[1]'s batch share)

    @property
    def kind(self) -> str:
        """``single`` for a Table 1 cell, else the Table 2 row's name (recorded in model files)."""
        return "single" if self.row is None else self.name

    @property
    def init_from(self) -> str | None:
        """The part whose trained net this one must start from (``--init``), if any."""
        return None if self.row is None else self.row.init_from

    @property
    def weights(self) -> tuple[str, str] | None:
        if self.spec.init == "scratch":
            return None
        return getattr(self.block, "weights"), self.weights_key


def cell(params: Params, stream: Stream, name: str, part: str = "ucf101") -> Cell:
    """The cell ``name`` of ``stream`` trained on dataset part ``part``; unknown names fail
    naming the choices. Table 2's nets belong to the parts their row names."""
    if part not in ROLES:
        raise ParamsError(f"dataset part {part!r}: must be one of {list(ROLES)}")
    if stream == "spatial":
        if name not in spatial_cells(params):
            raise ParamsError(f"spatial cell {name!r}: not in table1a (cells: {spatial_cells(params)})")
        setting_name, dropout = spatial_setting(name)
        setting, s = SPATIAL_SETTINGS[setting_name], params.spatial
        spec = StreamSpec("spatial", s.backbone if setting.init == "scratch" else s.pretrained_backbone,
                          s.width, s.input_size, dropout, setting.init, setting.trainable)
        return Cell(name, spec, s, s.schedule(setting.schedule), "spatial.weights", (part,))
    row = TABLE2_ROWS.get(name)
    if row is not None:
        inputs, parts = params.table2.input, row.parts
    elif name in params.table1b:
        inputs, parts = name, (part,)
    else:
        raise ParamsError(f"temporal cell {name!r}: not in table1b (cells: {temporal_cells(params)}) "
                          f"nor a Table 2 row {list(TABLE2_ROWS)}")
    t, stack = params.temporal, params.table1b[inputs]
    spec = StreamSpec("temporal", t.backbone, t.width, t.input_size, t.dropout, t.init, "all",
                      stack.stack_length, stack.mean_subtraction, stack.stacking)
    fine_tune = t.init != "scratch" or (row is not None and row.init_from is not None)
    multitask = row is not None and row.multitask
    scale = t.schedule_scale * (params.table2.multitask_iterations if multitask else 1.0)
    return Cell(name, spec, t, scaled_schedule("finetune" if fine_tune else "scratch", scale),
                "temporal.weights", parts, row,
                params.table2.extra_classes if row is not None and row.extra_classes else (),
                params.table2.multitask_ratio if multitask else None)


def train_set(spec: StreamSpec, block: StreamParams, archives: list[Path], labels: list[int],
              seed: int) -> Dataset:
    """A cell's training samples; ``block`` is its stream's params (a cell's ``block``)."""
    if spec.stream == "spatial":
        assert isinstance(block, SpatialParams)
        return SpatialTrainSet(archives, labels, input_size=spec.input_size,
                               jitter=block.rgb_jitter, seed=seed, segments=block.segments,
                               crops=block.crops)
    assert isinstance(block, TemporalParams)
    return TemporalTrainSet(archives, labels, input_size=spec.input_size,
                            stack_length=spec.stack_length,
                            mean_subtraction=spec.mean_subtraction, seed=seed,
                            stacking=spec.stacking, cache_mb=block.cache_mb,
                            segments=block.segments, crops=block.crops)


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
        if meta is not None and (n_differences(meta) if spec.reads_frames else meta["n_fields"]) < spec.stack_length:
            short.append(path.stem)
    if short:
        log.warning("%d clips have fewer than L+1=%d frames; their stacks repeat the last field "
                    "(padding), clips with no field get zero stacks: %s", len(short),
                    spec.stack_length + 1, ", ".join(short[:5]))
