"""dvc.yaml's deps cover every project module a stage's script imports, so editing any of them
reruns the stage (a missing one leaves `dvc repro` "up to date" with stale outputs)."""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = "twostream"


def module_file(name: str) -> Path | None:
    """The project file of module ``name`` (a package's __init__), or None if not ours."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    base = REPO.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Every module an import statement of ``path`` names, lazy ones in functions included,
    with each ``from package import name`` counted as the submodule too where there is one."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(REPO).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def project_closure(script: Path) -> set[Path]:
    """The script and every project file it reaches through imports (with parent packages)."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_modules(path):
            parts = name.split(".")
            for k in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b too
                found = module_file(".".join(parts[:k]))
                if found is not None and found not in seen:
                    todo.append(found)
    return seen


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
def test_stage_deps_cover_every_module_its_script_imports(name, script, deps):
    covered = [REPO / d for d in deps]
    missing = sorted(str(p.relative_to(REPO)) for p in project_closure(script)
                     if not any(p == c or c in p.parents for c in covered))
    assert not missing, f"stage {name}: dvc.yaml deps miss {missing}"


def test_the_import_walk_finds_lazy_and_relative_imports(tmp_path):
    """The walk itself: a function-level import and `from twostream.flow import tvl1` count."""
    closure = project_closure(REPO / "twostream" / "flow" / "backends.py")
    assert REPO / "twostream" / "flow" / "tvl1.py" in closure
    assert REPO / "twostream" / "__init__.py" in closure
