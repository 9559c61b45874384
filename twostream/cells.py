"""The cells of the paper's Tables 1 and 2, declared once: what each trains, from what, on which
dataset parts, and the row label the report prints.

A *cell* is one trained network: a Table 1a spatial setting at one dropout (``last_layer-0.5``),
a Table 1b temporal input (``flow10_sub``, a ``table1b`` key in params.yaml) or a Table 2
temporal net (``alone``, ``finetuned``, ``extra_classes``, ``multitask``). Params validation,
training (:func:`twostream.streams.cell`), the report and the command line read these records;
dvc.yaml's train stages are checked against them by the tests.

Light on purpose (no torch, no params parsing): the report and the command line name cells
without loading any network code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twostream.config import Params


@dataclass(frozen=True)
class SpatialSetting:
    """A Table 1a row: where the spatial net starts, which layers learn, which paper schedule."""
    label: str
    init: str        # scratch | imagenet
    trainable: str   # all | last
    schedule: str    # scratch | finetune (config.PAPER_SCHEDULES)


SPATIAL_SETTINGS: dict[str, SpatialSetting] = {
    "scratch": SpatialSetting("From scratch", "scratch", "all", "scratch"),
    "finetune": SpatialSetting("Pre-trained + fine-tuning", "imagenet", "all", "finetune"),
    "last_layer": SpatialSetting("Pre-trained + last layer", "imagenet", "last", "finetune"),
}


@dataclass(frozen=True)
class Table2Row:
    """A Table 2 temporal net on ``table2.input``'s stacks.

    ``parts[0]`` is the dataset part it is tested on. ``extra_classes`` adds the classes of
    ``parts[1]`` that do not overlap ``parts[0]``'s; ``multitask`` gives each part its own head
    (and a model file per part); ``init_from`` names the part whose trained net of the same input
    it starts from (``--init``), on the fine-tuning schedule.
    """
    label: str
    parts: tuple[str, ...]
    extra_classes: bool = False
    multitask: bool = False
    init_from: str | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        """The parts it writes a model file for (and is tested on): each head's part."""
        return self.parts if self.multitask else self.parts[:1]


TABLE2_ROWS: dict[str, Table2Row] = {
    "alone": Table2Row("Training on HMDB-51 without additional data", ("hmdb51",)),
    "finetuned": Table2Row("Fine-tuning a ConvNet, pre-trained on UCF-101", ("hmdb51",),
                           init_from="ucf101"),
    "extra_classes": Table2Row("Training on HMDB-51 with the non-overlapping UCF-101 classes added",
                               ("hmdb51", "ucf101"), extra_classes=True),
    "multitask": Table2Row("Multi-task learning on UCF-101 and HMDB-51", ("ucf101", "hmdb51"),
                           multitask=True),
}
MULTITASK = "multitask"  # the one Table 2 net with a head (and a model file) per part


def spatial_cell_name(setting: str, dropout: float) -> str:
    """``<setting>-<dropout>``, as DVC names the matrix stage ``train_spatial_ucf101@<setting>-<dropout>``."""
    return f"{setting}-{dropout}"


def spatial_setting(name: str) -> tuple[str, float]:
    """``last_layer-0.5`` -> (``last_layer``, 0.5); the inverse of :func:`spatial_cell_name`."""
    setting, _, dropout = name.rpartition("-")
    if setting not in SPATIAL_SETTINGS:
        raise ValueError(f"spatial cell {name!r}: not <setting>-<dropout> with a setting of "
                         f"{list(SPATIAL_SETTINGS)}")
    return setting, float(dropout)


def fused_spatial_cell(params: Params) -> str:
    """The spatial cell fused with the temporal stream: ``fusion.spatial`` at ``dropout``."""
    return spatial_cell_name(params.fusion.spatial, params.dropout)


def spatial_cells(params: Params) -> list[str]:
    return [spatial_cell_name(s, d) for s in params.table1a.settings for d in params.table1a.dropouts]


def temporal_cells(params: Params) -> list[str]:
    return list(params.table1b)
