"""The names of the trained networks (cells) that the tables report, from the params alone.

Light on purpose (no torch): the report and the command line name cells without loading any
network code.
"""

from __future__ import annotations

from twostream.config import Params


def spatial_cell_name(setting: str, dropout: float) -> str:
    """``<setting>-<dropout>``, as DVC names the matrix stage ``train_spatial_ucf101@<setting>-<dropout>``."""
    return f"{setting}-{dropout}"


def fused_spatial_cell(params: Params) -> str:
    """The spatial cell fused with the temporal stream: ``fusion.spatial`` at ``dropout``."""
    return spatial_cell_name(params.fusion.spatial, params.dropout)


def spatial_cells(params: Params) -> list[str]:
    return [spatial_cell_name(s, d) for s in params.table1a.settings for d in params.table1a.dropouts]


def temporal_cells(params: Params) -> list[str]:
    return list(params.table1b)
