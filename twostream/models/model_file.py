"""A trained net on disk (models/<part>/<stream>/<net>/split<k>.pt): what the train stage saves
and what evaluation, Table 2's fine-tuning and ``twostream predict`` read, saved and loaded here
only, so its keys cannot drift between the writer and the readers."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from twostream.errors import UserError


class ModelFileError(UserError, ValueError):
    """A file given as a model is missing, not a model of this pipeline, or of the other stream."""


@dataclass(frozen=True)
class ModelFile:
    """One part's classifier of a trained cell, and how it was trained."""
    state_dict: dict[str, torch.Tensor]
    spec: dict[str, Any]          # StreamSpec.to_dict(): rebuilds the net and its test inputs
    cell: str
    part: str
    classes: list[str]
    split: int
    params: dict[str, Any]        # the stream's params block it trained with
    schedule: dict[str, Any]
    seed: int
    weights: str                  # where the starting weights came from
    data: dict[str, Any]          # the recipe of the frames / flow it read (predict redoes it)
    trained_with: dict[str, Any]  # kind, parts, heads, added classes, batch pools
    train_videos: int
    world_size: int
    device: str

    @property
    def stream(self) -> str:
        return str(self.spec.get("stream"))

    def save(self, path: Path) -> None:
        """Written whole or not at all (a temporary file, then renamed)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(dataclasses.asdict(self), tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, stream: str | None = None) -> "ModelFile":
        """``path``'s model, checked: a missing or foreign file, or one of the other stream
        (``stream``: the one it must be), fails naming it and what to give instead."""
        if not path.is_file():
            raise ModelFileError(f"{path}: no model file; train it first (`dvc repro`) or give "
                                 f"another with --spatial / --temporal")
        try:
            saved = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:  # noqa: BLE001 - pickle and zip fail in many ways on a wrong file
            raise ModelFileError(f"{path}: not a model file of this pipeline "
                                 f"(models/<part>/<stream>/<net>/split<k>.pt): {type(err).__name__}") from None
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [k for k in names if not isinstance(saved, dict) or k not in saved]
        if missing:
            raise ModelFileError(f"{path}: not a model file of this pipeline's version (it lacks "
                                 f"{missing}); retrain it with `dvc repro`")
        model = cls(**{k: saved[k] for k in names})
        if stream is not None and model.stream != stream:
            raise ModelFileError(f"{path}: a {model.stream} model given as --{stream}; give it as "
                                 f"--{model.stream}")
        return model
