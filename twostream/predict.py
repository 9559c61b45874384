"""Classify any video file with trained streams: frames and flow made on the fly exactly as the
pipeline made them for training (the recipes travel in the model files), the paper's test
protocol, each stream's scores, their average and, given the fuse stage's SVM, its scores.

The video goes through the pipeline's own per-video code (decode -> frame archive -> flow
archive -> test inputs), so a video of the dataset gets the scores the evaluate stage gave it.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from twostream.config import EvaluateParams
from twostream.evaluate import for_inference, score_inputs
from twostream.flow.extract import flow_to_archive
from twostream.fusion import FusionSvm
from twostream.frames import decode_to_archive, file_digest
from twostream.pervideo import Job
from twostream.store import ArchiveReader
from twostream.streams import StreamSpec, test_inputs

log = logging.getLogger(__name__)


@dataclass
class TrainedStream:
    """A model file of the pipeline, loaded for inference."""
    path: Path
    spec: StreamSpec
    classes: list[str]
    data: dict[str, Any]
    model: torch.nn.Module
    cell: str | None = None

    @classmethod
    def load(cls, path: Path) -> "TrainedStream":
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no model file; train it first (`dvc repro`) or give "
                                    f"another with --spatial / --temporal")
        saved = torch.load(path, map_location="cpu", weights_only=False)
        spec = StreamSpec(**saved["spec"])
        model, _ = spec.build(len(saved["classes"]))
        model.load_state_dict(saved["state_dict"])
        model = for_inference(model, spec.in_channels, spec.input_size, torch.device("cpu"), log)
        return cls(path, spec, list(saved["classes"]), saved["data"], model, saved.get("cell"))


@dataclass
class Prediction:
    video: Path
    classes: list[str]
    spatial: np.ndarray
    temporal: np.ndarray
    svm: np.ndarray | None = None  # the fusion SVM's decision values, when one was given

    @property
    def fused(self) -> np.ndarray:
        return (self.spatial + self.temporal) / 2  # fusion by averaging

    def top(self, k: int = 5) -> list[tuple[str, float, float, float, float | None]]:
        """(class, spatial, temporal, average, svm) for the ``k`` best classes: by the SVM when
        there is one (the paper's best fusion), else by the average."""
        ranking = self.svm if self.svm is not None else self.fused
        order = np.argsort(-ranking)[:k]
        return [(self.classes[i], float(self.spatial[i]), float(self.temporal[i]),
                 float(self.fused[i]), None if self.svm is None else float(self.svm[i]))
                for i in order]


def load_svm(path: Path, spatial: TrainedStream, temporal: TrainedStream) -> FusionSvm:
    """The fuse stage's SVM for this pair of nets; one fitted on other nets' scores fails."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no fusion SVM; run the fuse stage (`dvc repro`)")
    svm, meta = FusionSvm.load(path)
    fitted_on = meta.get("cells", {})
    used = {"spatial": spatial.cell, "temporal": temporal.cell}
    if fitted_on != used or meta.get("classes") != spatial.classes:
        raise ValueError(f"{path}: fitted on the scores of {fitted_on}, not of these nets {used}; "
                         f"give the SVM of this pair with --svm, or none")
    return svm


def _score(stream: TrainedStream, archive: Path, protocol: EvaluateParams) -> np.ndarray:
    with ArchiveReader(archive) as reader:
        inputs, weights = test_inputs(stream.spec, reader, protocol)
    return score_inputs(stream.model, inputs, weights, protocol.batch_size, torch.device("cpu"),
                        channels_last=not isinstance(stream.model, torch.jit.ScriptModule))


def make_archives(video: Path, spatial: TrainedStream, temporal: TrainedStream,
                  workdir: Path) -> tuple[Path, Path, Path]:
    """(frames for the spatial net, frames for the flow, flow) archives of ``video``."""
    digest = file_digest(video)
    frames = {}
    for name, recipe in (("spatial", spatial.data["recipe"]),
                         ("temporal", temporal.data["recipe"]["frames"])):
        recipe = {**recipe, "source_digest": digest}
        target = workdir / f"frames-{name}.zip"
        same = [p for r, p in frames.values() if r == recipe]
        if same:
            target = same[0]
        else:
            decode_to_archive(Job(video.stem, video, target, recipe))
        frames[name] = (recipe, target)
    flow_recipe = {**temporal.data["recipe"], "frames": frames["temporal"][0]}
    flow = workdir / "flow.zip"
    flow_to_archive(Job(video.stem, frames["temporal"][1], flow, flow_recipe))
    return frames["spatial"][1], frames["temporal"][1], flow


def predict(video: Path, spatial: TrainedStream, temporal: TrainedStream,
            protocol: EvaluateParams, picture: Path | None = None,
            svm: FusionSvm | None = None) -> Prediction:
    """Scores of ``video`` under both streams (and ``svm``'s fusion of them); optionally a
    picture of its frames and flow."""
    if spatial.classes != temporal.classes:
        raise ValueError(f"{spatial.path} and {temporal.path} were trained on different classes")
    with tempfile.TemporaryDirectory(prefix="twostream-predict-") as tmp:
        spatial_frames, flow_frames, flow = make_archives(video, spatial, temporal, Path(tmp))
        result = Prediction(video, spatial.classes, _score(spatial, spatial_frames, protocol),
                            _score(temporal, flow, protocol))
        if svm is not None:
            result.svm = svm.scores(result.spatial, result.temporal)[0]
        if picture is not None:
            from twostream.flow.colour import flow_picture, save_picture

            with ArchiveReader(flow) as f, ArchiveReader(flow_frames) as r:
                save_picture(flow_picture(f, r)[0], picture)
    return result
