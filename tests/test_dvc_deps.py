"""Code deps exact both ways: every stage depends on its script's file in fingerprints/, which
lists every project file the script can run (so an edit to any of them reruns the stage) and
nothing else (so an edit elsewhere reruns nothing); the fingerprint ignores comments and
docstrings. Checked on the import walk, on real edits of a copy of the code, and, in
test_pipeline, through `dvc repro` itself."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from twostream.store.fingerprint import project_closure, stage_code


def _stages() -> list[tuple[str, Path, list[str]]]:
    from dvc.repo import Repo

    stages = []
    with Repo(str(REPO)) as repo:
        for stage in repo.index.stages:
            words = shlex.split(stage.cmd)
            script = next(w for w in words if w.endswith(".py"))
            stages.append((stage.addressing, REPO / script, [str(d.def_path) for d in stage.deps]))
    return stages


STAGES = _stages()


@pytest.mark.parametrize("name, script, deps", STAGES, ids=[s[0] for s in STAGES])
def test_each_stage_depends_on_its_scripts_code_file_and_on_no_source_folder(name, script, deps):
    code = [d for d in deps if d.startswith(("twostream", "stages", "fingerprints"))]
    if name == "fingerprints":
        assert sorted(code) == ["stages", "twostream"]
    else:
        assert code == [f"fingerprints/{script.stem}.json"], f"stage {name}: code deps {code}"


def test_the_fingerprint_files_list_each_scripts_whole_import_closure(tmp_path):
    """The stage writes, per script, exactly the files the walk reaches, lazy imports included."""
    subprocess.run([sys.executable, str(REPO / "stages/fingerprints.py"), str(REPO / "stages"),
                    str(tmp_path)], check=True)
    scripts = {script for _, script, _ in STAGES if script.stem != "fingerprints"}
    for script in scripts:
        listed = json.loads((tmp_path / f"{script.stem}.json").read_text())
        closure = project_closure(script, REPO)
        assert set(listed) == {p.relative_to(REPO).as_posix() for p in closure}
    train = json.loads((tmp_path / "train.json").read_text())
    assert "twostream/inputs/gpu_decode.py" in train  # imported inside a function
    assert "twostream/store/flow_jpeg.py" in train and "twostream/config.py" in train
    assert not [f for f in train if f.startswith("twostream/flow/")]  # no spatial stage reads flow code


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ("stages", "twostream"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _codes(root: Path) -> dict[str, dict[str, str]]:
    return {s.stem: stage_code(s, root) for s in sorted((root / "stages").glob("*.py"))}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: the edit's anchor {old!r} is gone; pick another"
    path.write_text(text.replace(old, new, 1))


def test_comment_and_docstring_edits_change_no_stage_code(tmp_path):
    root = _copy(tmp_path)
    before = _codes(root)
    _edit(root / "twostream/config.py", '"""', '"""A reworded docstring. ')
    _edit(root / "twostream/flow/tvl1.py", "\n#", "\n# an added comment line\n#")
    _edit(root / "stages/train.py", "def main(", "# a comment above main\ndef main(")
    assert _codes(root) == before


def test_a_code_edit_changes_exactly_the_stages_that_run_it(tmp_path):
    root = _copy(tmp_path)
    before = _codes(root)
    _edit(root / "twostream/flow/tvl1.py", "\ndef ", "\nUNUSED = 1\n\n\ndef ")
    after = _codes(root)
    assert {s for s in before if after[s] != before[s]} == {"flow"}
    _edit(root / "twostream/inputs/crops.py", "\ndef ", "\nUNUSED = 1\n\n\ndef ")
    changed = {s for s in before if _codes(root)[s] != before[s]}
    assert changed == {"flow", "train", "evaluate"}  # crops: training and test inputs, not the report
    _edit(root / "twostream/config.py", "\ndef ", "\nUNUSED = 1\n\n\ndef ")
    assert {s for s in before if _codes(root)[s] != before[s]} == set(before) - {"fingerprints"}
