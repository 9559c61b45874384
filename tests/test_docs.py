"""README and docs/ promise what exists: every relative link resolves, every script and module a
command names is there, every `twostream` subcommand answers `--help`, every `dvc repro` stage
and every `-S` param key is real. A renamed file, stage or param breaks this test, not a
reader's first try."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
INLINE = re.compile(r"`([^`\n]+)`")


def _commands(text: str) -> list[str]:
    """Inline code spans and the lines of fenced blocks, comments cut."""
    found = [m.group(1) for m in INLINE.finditer(re.sub(r"```.*?```", "", text, flags=re.S))]
    for block in re.findall(r"```(?:bash)?\n(.*?)```", text, flags=re.S):
        found += [line.split("  #")[0].strip() for line in block.splitlines()]
    return [c for c in found if c]


def _all_commands() -> list[tuple[str, str]]:
    return [(page.name, c) for page in PAGES for c in _commands(page.read_text())]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_relative_link_resolves(page):
    missing = [target for target in LINK.findall(page.read_text())
               if "://" not in target and not (page.parent / target).exists()]
    assert not missing, f"{page.relative_to(REPO)}: links to missing {missing}"


def test_every_script_and_module_named_in_a_command_exists():
    missing = []
    for page, command in _all_commands():
        words = command.split()
        if words[0] in ("python", "python3", "bash", "torchrun") or words[0].startswith("torchrun"):
            for i, word in enumerate(words):
                if word.endswith((".py", ".sh")) and "<" not in word and not (REPO / word).is_file():
                    missing.append(f"{page}: {word}")
                if word == "-m" and i + 1 < len(words):
                    module = words[i + 1]
                    if importlib.util.find_spec(module) is None:
                        missing.append(f"{page}: module {module}")
    assert not missing, missing


def test_every_twostream_subcommand_named_answers_help():
    subcommands = {c.split()[1] for _, c in _all_commands()
                   if c.startswith("twostream ") and len(c.split()) > 1}
    assert subcommands >= {"predict", "flow"}
    for sub in sorted(subcommands):
        done = subprocess.run([sys.executable, "-m", "twostream.cli", sub, "--help"],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
        assert done.returncode == 0 and "usage" in done.stdout, f"twostream {sub} --help: {done.stderr[-500:]}"


def _param_exists(params: dict, dotted: str) -> bool:
    node = params
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def test_every_dvc_stage_and_param_named_exists():
    from dvc.repo import Repo

    with Repo(str(REPO)) as repo:
        stages = {stage.addressing for stage in repo.index.stages}
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    bad = []
    for page, command in _all_commands():
        if command.startswith("dvc repro "):
            bad += [f"{page}: stage {w}" for w in command.split()[2:]
                    if not w.startswith("-") and "<" not in w and w not in stages]
        for key in re.findall(r"-S '?([a-z_][\w.]*)=", command):
            if not _param_exists(params, key):
                bad.append(f"{page}: param {key}")
    assert not bad, bad
