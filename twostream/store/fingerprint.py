"""Fingerprints of the code that computes an output: what Python executes (the syntax tree
without docstrings), so a changed comment, docstring or layout keeps the output and a changed
line of code does not.

Two users: the per-video resume recipes of the frames and flow stages (DVC reruns such a stage
when its code changes, but the stage then skips every video whose archive carries the same
recipe, so the code must be in the recipe), and the ``fingerprints`` stage, which writes one file
per stage script listing every project file the script runs with its fingerprint. The other
stages depend on that file instead of on source folders, so DVC reruns a stage when, and only
when, code it runs changed.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from pathlib import Path

PACKAGE = "twostream"


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


def source_fingerprint(source: str) -> str:
    tree = _without_docstrings(ast.parse(source))
    return hashlib.blake2b(ast.dump(tree, include_attributes=False).encode(), digest_size=8).hexdigest()


def code_fingerprint(*modules: str) -> str:
    """One short hash over the named modules' code (read from their files, not imported)."""
    digest = hashlib.blake2b(digest_size=8)
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(name)
        with open(spec.origin, encoding="utf-8") as handle:
            digest.update(f"{name}:{source_fingerprint(handle.read())};".encode())
    return digest.hexdigest()


def module_file(name: str, root: Path) -> Path | None:
    """The project file under ``root`` of module ``name`` (a package's __init__), or None when
    the module is not the project's."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path, root: Path) -> set[str]:
    """Every module an import statement of ``path`` names, lazy ones in functions included,
    with each ``from package import name`` counted as the submodule too where there is one."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts)
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


def project_closure(script: Path, root: Path) -> set[Path]:
    """``script`` and every project file it can run through imports (with parent packages,
    which importing a submodule runs too)."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_modules(path, root):
            parts = name.split(".")
            for k in range(1, len(parts) + 1):
                found = module_file(".".join(parts[:k]), root)
                if found is not None and found not in seen:
                    todo.append(found)
    return seen


def stage_code(script: Path, root: Path) -> dict[str, str]:
    """{file relative to ``root``: fingerprint} for every project file ``script`` runs."""
    return {path.relative_to(root).as_posix(): source_fingerprint(path.read_text(encoding="utf-8"))
            for path in sorted(project_closure(script, root))}
