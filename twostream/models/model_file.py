"""A trained net on disk (models/<part>/<stream>/<net>/split<k>.pt): what the train stage saves
and what evaluation, Table 2's fine-tuning and ``twostream predict`` read, saved and loaded here
only, so its keys cannot drift between the writer and the readers.

Model files are what users share, so loading one runs no code from it (``torch.load`` with
``weights_only``: tensors and plain values only) and checks a checksum of its weights and
metadata written at save time: a damaged or truncated file fails naming it, instead of scoring
with altered weights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import re
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
        """Written whole or not at all (a temporary file, then renamed), with its checksum."""
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = dataclasses.asdict(self)
        payload[CHECKSUM] = checksum(payload)
        tmp = path.with_suffix(".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, stream: str | None = None) -> "ModelFile":
        """``path``'s model, checked: a missing or foreign file, or one of the other stream
        (``stream``: the one it must be), fails naming it and what to give instead."""
        if not path.is_file():
            raise ModelFileError(f"{path}: no model file; train it first (`dvc repro`) or give "
                                 f"another with --spatial / --temporal")
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - zip and pickle fail in many ways on a wrong file
            raise ModelFileError(f"{path}: {_why_not_loaded(path, err)}") from None
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [k for k in [*names, CHECKSUM] if not isinstance(saved, dict) or k not in saved]
        if missing:
            raise ModelFileError(f"{path}: not a model file of this pipeline's version (it lacks "
                                 f"{missing}); retrain it with `dvc repro`")
        if checksum(saved) != saved[CHECKSUM]:
            raise ModelFileError(f"{path}: damaged: its weights or metadata do not match the "
                                 f"checksum written with them; retrain it with `dvc repro` or copy "
                                 f"it again")
        model = cls(**{k: saved[k] for k in names})
        if stream is not None and model.stream != stream:
            raise ModelFileError(f"{path}: a {model.stream} model given as --{stream}; give it as "
                                 f"--{model.stream}")
        return model


CHECKSUM = "checksum"


def checksum(payload: dict[str, Any]) -> str:
    """BLAKE2b of every weight (name, dtype, shape, bytes) and of the metadata as JSON."""
    digest = hashlib.blake2b(digest_size=20)
    for name, tensor in sorted(payload["state_dict"].items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    meta = {k: v for k, v in payload.items() if k not in ("state_dict", CHECKSUM)}
    digest.update(json.dumps(meta, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _why_not_loaded(path: Path, err: Exception) -> str:
    """A file torch.load refused, in words: not a model, a model carrying code, or damaged."""
    if not _is_zip(path):
        return (f"not a model file of this pipeline (models/<part>/<stream>/<net>/split<k>.pt): "
                f"{type(err).__name__}")
    if isinstance(err, pickle.UnpicklingError):  # weights_only refused a global
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        what = found.group(1) if found else "a Python object"
        return (f"not loaded: it holds {what}, not only weights and plain values (a model file "
                f"of this pipeline never does, and loading it could run its code)")
    return f"damaged or truncated ({type(err).__name__}); retrain it with `dvc repro` or copy it again"


def _is_zip(path: Path) -> bool:
    """torch.save's format is a zip: a file that starts as one and fails to load is damaged."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"PK\x03\x04"
    except OSError:
        return False
