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

from builders import edit_source
from conftest import REPO
from twostream.cells import TABLE2_ROWS
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


def test_comment_and_docstring_edits_change_no_stage_code(tmp_path):
    root = _copy(tmp_path)
    before = _codes(root)
    edit_source(root / "twostream/config.py", '"""', '"""A reworded docstring. ')
    edit_source(root / "twostream/flow/tvl1.py", "\n#", "\n# an added comment line\n#")
    edit_source(root / "stages/train.py", "def main(", "# a comment above main\ndef main(")
    assert _codes(root) == before


def test_a_code_edit_changes_exactly_the_stages_that_run_it(tmp_path):
    root = _copy(tmp_path)
    before = _codes(root)
    edit_source(root / "twostream/flow/tvl1.py", "\ndef ", "\nUNUSED = 1\n\n\ndef ")
    after = _codes(root)
    assert {s for s in before if after[s] != before[s]} == {"flow"}
    edit_source(root / "twostream/inputs/crops.py", "\ndef ", "\nUNUSED = 1\n\n\ndef ")
    after = _codes(root)
    changed = {s for s in before if after[s] != before[s]}
    assert changed == {"flow", "train", "evaluate", "svm_scores"}  # crops: training and test inputs, not the report
    edit_source(root / "twostream/config.py", "\ndef ", "\nUNUSED = 1\n\n\ndef ")
    after = _codes(root)
    assert {s for s in before if after[s] != before[s]} == set(before) - {"fingerprints"}


def _stage_commands() -> dict[str, tuple[list[str], list[str]]]:
    """Each stage's command words and deps, by name."""
    from dvc.repo import Repo

    with Repo(str(REPO)) as repo:
        return {s.addressing: (shlex.split(s.cmd), [str(d.def_path) for d in s.deps])
                for s in repo.index.stages}


def _train_stage(row: str) -> str:
    return "train_temporal_multitask" if TABLE2_ROWS[row].multitask else f"train_temporal_hmdb51_{row}"


def _options(words: list[str], flag: str, width: int) -> list[list[str]]:
    return [words[i + 1:i + 1 + width] for i, w in enumerate(words) if w == flag]


@pytest.mark.parametrize("row", list(TABLE2_ROWS))
def test_each_table2_stage_reads_and_writes_what_its_row_declares(row):
    """dvc.yaml's Table 2 stages follow twostream.cells: each part of the row given as --data and
    a dep, --init (and the net it names as a dep) exactly where the row fine-tunes, a model file
    per output part, and an evaluate stage on each output part."""
    declared = TABLE2_ROWS[row]
    stages = _stage_commands()
    words, deps = stages[_train_stage(row)]
    assert words[2:4] == ["temporal", row]
    assert [p for p, *_ in _options(words, "--data", 3)] == list(declared.parts)
    for part in declared.parts:
        assert {f"data/{part}/flow", f"data/{part}/splits.csv"} <= set(deps)
    other = {"ucf101", "hmdb51"} - set(declared.parts)
    assert not [d for d in deps if any(d.startswith(f"data/{p}/") for p in other)]
    init = _options(words, "--init", 1)
    if declared.init_from is None:
        assert init == [] and not [d for d in deps if d.startswith("models/")]
    else:
        (net,), = init
        assert net.startswith(f"models/{declared.init_from}/temporal/") and net in deps
    assert [p for p, _ in _options(words, "--out", 2)] == list(declared.outputs)
    for part in declared.outputs:
        evaluated = [name for name, (w, d) in stages.items() if name.startswith("evaluate_temporal")
                     and f"models/{part}/temporal/{row}" in d and f"data/{part}/flow" in w]
        assert evaluated, f"no evaluate stage scores {row} on the {part} part"
