"""Named sets of param overrides (``presets/*.yaml``) for ``dvc exp run -S``.

A preset is a flat mapping of params.yaml keys to values, readable as it stands, so a user
sees exactly what a preset changes; :func:`preset_flags` turns it into ``-S key=value`` flags.
A relative ``*.root`` path is resolved against the repository, so the stages (which run in
it) and a copy of it under ``dvc exp run --temp`` read the same folder.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from twostream.errors import UserError


class PresetError(UserError, ValueError):
    """A preset file that cannot be read; the message names the file and the fix."""


def load_preset(path: Path, repo: Path) -> dict[str, Any]:
    """The preset's ``key: value`` pairs, ``*.root`` paths made absolute against ``repo``."""
    try:
        values = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise PresetError(f"{path}: preset not found (see presets/)") from None
    except yaml.YAMLError as err:
        raise PresetError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(values, dict) or not all(isinstance(k, str) and not isinstance(v, dict)
                                              for k, v in values.items()):
        raise PresetError(f"{path}: a preset is a flat mapping of params keys, e.g. "
                          f"'frames.short_side: 128'")
    out = {}
    for key, value in values.items():
        if key.endswith(".root") and isinstance(value, str) and value and not Path(value).is_absolute():
            value = str((repo / value).resolve())
        out[key] = value
    return out


def as_flag_value(value: Any) -> str:
    """A value as ``dvc exp run -S`` parses it (YAML flow style: lists, booleans, numbers)."""
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...")


def preset_flags(values: dict[str, Any]) -> list[str]:
    """``-S key=value`` for each pair, in the preset's order."""
    flags: list[str] = []
    for key, value in values.items():
        flags += ["-S", f"{key}={as_flag_value(value)}"]
    return flags


def with_overrides(params: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of a params.yaml mapping with each ``block.key`` of ``values`` set, as
    ``dvc exp run -S`` would write it (a key whose block is missing fails by name)."""
    out = copy.deepcopy(params)
    for key, value in values.items():
        node = out
        *path, last = key.split(".")
        for depth, part in enumerate(path):
            if not isinstance(node.get(part), dict):
                raise PresetError(f"{key}: params.yaml has no block "
                                  f"'{'.'.join(path[:depth + 1])}' (see params.yaml)")
            node = node[part]
        node[last] = value
    return out
