"""One trained net scored on a set of videos with the paper's test protocol (frames x crops):
what the evaluate stage does per split, and what cross-fitting does per fold net."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from twostream.config import TRAINING_RECIPE, EvaluateParams, as_dict
from twostream.errors import UserError
from twostream.evaluation.scoring import for_inference, score_videos
from twostream.models.model_file import ModelFile
from twostream.store.zipstore import archive_name
from twostream.streams import StreamSpec, test_inputs, warn_short_clips


def score_model(saved: ModelFile, rows: pd.DataFrame, data_dir: Path, frames_dir: Path | None,
                protocol: EvaluateParams, device: torch.device, log: logging.Logger,
                name: str) -> tuple[np.ndarray, dict[str, Any]]:
    """Class scores (videos x classes, softmax averaged over the protocol's inputs) of ``rows``'
    videos, read from ``data_dir`` (or ``frames_dir`` for a net on RGB differences), and the
    meta the score file records: how the net was trained and how it was scored. ``name``: the
    net's in progress lines and errors."""
    spec = StreamSpec(**saved.spec)
    model, _ = spec.build(len(saved.classes))
    model.load_state_dict(saved.state_dict)
    source = data_dir
    if spec.stream == "temporal" and spec.reads_frames:
        if frames_dir is None:
            raise UserError(f"{name} split {saved.split}: a {spec.stacking} net reads the frames archives; "
                            f"give them with --frames data/<part>/frames")
        source = frames_dir
    archives = [source / archive_name(v) for v in rows["id"]]
    warn_short_clips(spec, archives, log)
    model = for_inference(model, spec.in_channels, spec.input_size, device, log)
    amp = bool(saved.params["amp"]) and device.type == "cuda"  # what autocast will do
    scores = score_videos(model, archives, lambda r: test_inputs(spec, r, protocol),
                          num_classes=len(saved.classes), batch_size=protocol.batch_size,
                          device=device, desc=f"{spec.stream} {name} split {saved.split}",
                          amp=amp, channels_last=True)
    meta = {"stream": spec.stream, "split": saved.split, "spec": saved.spec, "data": saved.data,
            "cell": saved.cell, "weights": saved.weights, "schedule": saved.schedule,
            "trained_with": saved.trained_with, "classes": saved.classes,
            "training": {k: saved.params.get(k) for k in TRAINING_RECIPE},
            "protocol": as_dict(protocol), "device": device.type, "amp": amp}
    return scores, meta
