"""Every stage entry point: a user's mistake is one line naming it, exit code 2, no traceback."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from twostream.errors import run_entry_point

from conftest import REPO

ARGS = {  # each stage's arguments, as dvc.yaml gives them (the paths need not exist: params fail first)
    "data": ["ucf101", "raw", "splits.csv"],
    "frames": ["raw", "splits.csv", "frames"],
    "flow": ["frames", "splits.csv", "flow"],
    "train": ["spatial", "last_layer-0.5", "--data", "ucf101", "frames", "splits.csv",
              "--out", "ucf101", "models", "--live", "live"],
    "evaluate": ["spatial", "frames", "splits.csv", "models", "scores"],
    "svm_scores": ["spatial", "last_layer-0.5", "--part", "ucf101", "--model", "models",
                   "--data", "ucf101", "frames", "splits.csv", "--out", "scores"],
    "fuse": ["s", "t", "train", "fused"],
    "report": ["scores", "tables.json", "summary.json", "tables.md", "plots"],
}


def _stage(name: str):
    spec = importlib.util.spec_from_file_location(f"stage_{name}", REPO / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("stage", sorted(ARGS))
@pytest.mark.parametrize("params, message", [
    ("dropuot: 0.9\n", "unknown key(s) dropuot"),
    ("flow: {bound: .inf}\n", "flow.bound=inf: expected a finite number"),
    ("evaluate: {frames: 3\n", "not valid YAML"),
])
def test_a_bad_param_is_one_line_and_exit_code_2(stage, params, message, tmp_path, capsys,
                                                 monkeypatch):
    path = tmp_path / "params.yaml"
    path.write_text(params)
    monkeypatch.setattr(sys, "argv", [f"stages/{stage}.py"])
    module = _stage(stage)
    with pytest.raises(SystemExit) as exit_:
        run_entry_point(lambda: module.main([*ARGS[stage], "--params", str(path)]))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err, err
    assert err.startswith(f"{stage}: {path}") and err.count("\n") == 1


def test_the_real_script_prints_no_traceback(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("dropuot: 0.9\n")
    result = subprocess.run([sys.executable, str(REPO / "stages" / "frames.py"), "raw", "s.csv",
                             "frames", "--params", str(path)], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown key(s) dropuot" in result.stderr


def test_outputs_a_stage_cleans_itself_are_not_deleted_by_dvc_first():
    """DVC deletes a stage's non-persistent outs before its command runs: data/<part>/raw must
    persist, so that the stage can refuse a folder.root inside it before anything is removed."""
    import yaml

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    outs = stages["data"]["do"]["outs"]
    raw = next(o for o in outs if isinstance(o, dict) and "data/${key}/raw" in o)
    assert raw["data/${key}/raw"]["persist"] is True


@pytest.mark.parametrize("stage, unused", [
    ("report", ["torch", "sklearn"]), ("fuse", ["torch", "sklearn"]), ("svm_scores", ["sklearn"]),
    ("evaluate", ["sklearn", "dvclive"]), ("data", ["torch"]), ("frames", ["torch"]), ("flow", ["torch"]),
])
def test_a_stage_script_loads_no_library_it_does_not_need_to(stage, unused):
    """Each is a second or so of every run of the stage: scikit-learn is loaded where an SVM is
    fitted or folds are cut, torch where a net or the flow solver runs."""
    probe = ("import importlib.util, sys\n"
             f"spec = importlib.util.spec_from_file_location('stage', {str(REPO / 'stages' / f'{stage}.py')!r})\n"
             "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
             f"print(sorted(m for m in {unused!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
