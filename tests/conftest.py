"""Shared fixtures: tiny generated videos and datasets, so every test runs on CPU in seconds."""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from twostream.config import Params, SyntheticParams, parse_block

REPO = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def _repo_raw() -> dict[str, Any]:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def _merged(base: Any, changes: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(changes, Mapping):
        return {**base, **{k: _merged(base.get(k), v) for k, v in changes.items()}}
    return copy.deepcopy(changes)


def repo_params(changes: Mapping[str, Any] | None = None) -> Params:
    """The repository's params.yaml (the one source of every value) with ``changes`` merged in
    key by key, parsed and validated as a stage would."""
    return parse_block(Params, _merged(_repo_raw(), changes or {}))


def repo_block(name: str, **changes: Any) -> Any:
    """One block of the repository's params.yaml with some of its keys changed."""
    return dataclasses.replace(getattr(repo_params(), name), **changes)


def _shared_data() -> Path | None:
    for base in (REPO.parent / "shared", REPO.parent.parent / "shared", Path("/work/shared")):
        if (base / "data").is_dir():
            return base / "data"
    return None


SHARED_DATA = _shared_data()
REAL = Path(__file__).parent / "data" / "real"  # vendored official split files and real clips


@pytest.fixture(scope="session")
def tiny_synthetic() -> SyntheticParams:
    return repo_block("synthetic", seed=3, appearances=("Ember", "Moss"), motions=("Slide", "Rise"), groups=3,
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
    from twostream.flow.extract import extract_flow
    from twostream.frames.extract import extract_frames
    from twostream.datasets.splits import read_ucf_splits

    out = tmp_path_factory.mktemp("archives")
    table = read_ucf_splits(tiny_dataset / "ucfTrainTestlist")
    extract_frames(table, tiny_dataset, out / "frames", repo_block("frames", short_side=48, workers=1))
    extract_flow(table, out / "frames", out / "flow", repo_block("flow", workers=1))
    return table, out / "frames", out / "flow"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``run_first`` tests first, ``run_last`` tests last: the end-to-end runs on real footage
    start in the background with the first pipeline test and go on beside the rest of the
    suite (tests/test_pipeline.py), which waits for them only at its end."""
    first = [item for item in items if item.get_closest_marker("run_first")]
    last = [item for item in items if item.get_closest_marker("run_last")]
    items[:] = first + [item for item in items if item not in first and item not in last] + last
