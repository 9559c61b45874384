"""A fingerprint of the code that computes an output, for the per-video resume recipes.

DVC reruns a stage when its code changes, but the frames and flow stages then skip every video
whose archive carries the same recipe: without the code in the recipe, a changed algorithm would
keep the old archives. The fingerprint hashes what Python executes (the syntax tree without
docstrings), so a changed comment, docstring or layout keeps the archives, a changed line redoes
them.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util


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
