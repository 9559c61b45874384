"""Shared fixtures: tiny generated videos and datasets, so every test runs on CPU in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from twostream.config import SyntheticParams

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path | None:
    for base in (REPO.parent / "shared", REPO.parent.parent / "shared", Path("/work/shared")):
        if (base / "data").is_dir():
            return base / "data"
    return None


SHARED_DATA = _shared_data()
REAL = Path(__file__).parent / "data" / "real"  # vendored official split files and real clips


@pytest.fixture(scope="session")
def tiny_synthetic() -> SyntheticParams:
    return SyntheticParams(seed=3, appearances=("Ember", "Moss"), motions=("Slide", "Rise"), groups=3,
                           clips_per_group=1, frames=8, width=64, height=48, camera_motion=0.5,
                           noise=2.0)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory, tiny_synthetic: SyntheticParams) -> Path:
    """A generated dataset in UCF-101 layout: root/UCF-101 and root/ucfTrainTestlist."""
    from twostream.datasets.synthetic import generate

    root = tmp_path_factory.mktemp("synthetic")
    generate(tiny_synthetic, root)
    return root


@pytest.fixture(scope="session")
def tiny_archives(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path):
    """(table, frames_dir, flow_dir) built by the real frames and flow code, one process."""
    from twostream.config import FlowParams, FramesParams
    from twostream.flow.extract import extract_flow
    from twostream.frames.extract import extract_frames
    from twostream.datasets.splits import read_ucf_splits

    out = tmp_path_factory.mktemp("archives")
    table = read_ucf_splits(tiny_dataset / "ucfTrainTestlist")
    extract_frames(table, tiny_dataset, out / "frames", FramesParams(short_side=48, workers=1))
    extract_flow(table, out / "frames", out / "flow", FlowParams(workers=1))
    return table, out / "frames", out / "flow"
