"""Classify any video file with trained streams: frames and flow made on the fly exactly as the
pipeline made them for training (the recipes travel in the model files), the paper's test
protocol, each stream's scores, their average and, given the fuse stage's SVM, its scores.

The video goes through the pipeline's own per-video code (decode -> frame archive -> flow
archive -> test inputs), so a video of the dataset gets the scores the evaluate stage gave it.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from twostream.config import EvaluateParams
from twostream.evaluation.scoring import for_inference, score_inputs
from twostream.flow.extract import flow_to_archive
from twostream.evaluation.fusion import FusionSvm, SvmFileError, average_fusion
from twostream.frames.extract import decode_to_archive, file_digest
from twostream.models.model_file import ModelFile, ModelFileError  # noqa: F401 (raised to the cli)
from twostream.store.pervideo import Job
from twostream.store.zipstore import ArchiveReader, read_meta
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
    split: int | None = None

    @classmethod
    def load(cls, path: Path, stream: str | None = None, trace: bool = True) -> "TrainedStream":
        """``stream``: the stream the file must be (``--spatial`` / ``--temporal``). ``trace``:
        trace and freeze the net for the CPU (seconds once, then ~1.5x faster per video)."""
        saved = ModelFile.load(path, stream)
        spec = StreamSpec(**saved.spec)
        model, _ = spec.build(len(saved.classes))
        model.load_state_dict(saved.state_dict)
        model.eval()
        if trace:
            model = for_inference(model, spec.in_channels, spec.input_size, torch.device("cpu"), log)
        return cls(path, spec, list(saved.classes), saved.data, model, saved.cell, saved.split)


@dataclass
class Prediction:
    video: Path
    classes: list[str]
    spatial: np.ndarray
    temporal: np.ndarray
    svm: np.ndarray | None = None  # the fusion SVM's decision values, when one was given
    decoded: int = 0               # frames decoded of ...
    declared: int = 0              # ... the frames the file declares (0: unknown)
    note: str | None = None        # a warning about the video (truncated, damaged)
    picture_error: str | None = None  # why the picture was not written (the scores stand)
    seconds: dict[str, float] = field(default_factory=dict)  # where the time went
    weights: tuple[float, ...] = (1.0, 1.0)  # fusion by averaging: spatial, temporal (fusion.weights)

    @property
    def fused(self) -> np.ndarray:
        return average_fusion(self.spatial, self.temporal, weights=self.weights)

    def top(self, k: int = 5) -> list[tuple[str, float, float, float, float | None]]:
        """(class, spatial, temporal, average, svm) for the ``k`` best classes: by the SVM when
        there is one (the paper's best fusion), else by the average."""
        ranking = self.svm if self.svm is not None else self.fused
        order = np.argsort(-ranking)[:k]
        return [(self.classes[i], float(self.spatial[i]), float(self.temporal[i]),
                 float(self.fused[i]), None if self.svm is None else float(self.svm[i]))
                for i in order]


def load_svm(path: Path, spatial: TrainedStream, temporal: TrainedStream) -> FusionSvm:
    """The fuse stage's SVM for this pair of nets; one fitted on other nets' scores fails,
    saying what differs."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no fusion SVM; run the fuse stage (`dvc repro`)")
    svm, meta = FusionSvm.load(path)
    differs = []
    for stream, net in (("spatial", spatial), ("temporal", temporal)):
        fitted = meta.get("cells", {}).get(stream)
        if fitted != net.cell:
            differs.append(f"its {stream} net is {fitted}, not {net.cell} ({net.path})")
    if meta.get("split") is not None and spatial.split is not None and meta["split"] != spatial.split:
        differs.append(f"it was fitted on split {meta['split']}, the nets on split {spatial.split}")
    classes = meta.get("classes")
    if classes != spatial.classes:
        extra = sorted(set(classes or []) - set(spatial.classes))[:3]
        differs.append(f"its {len(classes or [])} classes are not the nets' {len(spatial.classes)}"
                       + (f" (it has {', '.join(extra)})" if extra else " (another order)"))
    if differs:
        raise SvmFileError(f"{path}: not this pair's SVM: {'; '.join(differs)}; give the SVM of "
                           f"this pair with --svm, or --no-svm")
    return svm


def _score(stream: TrainedStream, archive: Path, protocol: EvaluateParams) -> np.ndarray:
    with ArchiveReader(archive) as reader:
        inputs, weights = test_inputs(stream.spec, reader, protocol)
    return score_inputs(stream.model, inputs, weights, protocol.batch_size, torch.device("cpu"),
                        channels_last=not isinstance(stream.model, torch.jit.ScriptModule),
                        amp=False)


@dataclass
class Archives:
    """One video made ready for both nets, and what it took."""
    spatial_frames: Path
    flow_frames: Path             # the temporal net's frames (its RGB differences, or the flow's)
    flow: Path | None             # None for a net on RGB differences: no flow computed
    decoded: int                  # frames decoded
    declared: int                 # frames the file declares (0: unknown)
    note: str | None              # the frames stage's warning about it (e.g. truncated)
    seconds: dict[str, float]


def make_archives(video: Path, spatial: TrainedStream, temporal: TrainedStream,
                  workdir: Path) -> Archives:
    """Frames for the spatial net, frames for the temporal net, and (unless that net reads RGB
    differences) flow archives of ``video``."""
    started = time.perf_counter()
    digest = file_digest(video)
    frames: dict[str, tuple[dict[str, Any], Path]] = {}
    note = None
    differences = temporal.spec.reads_frames  # its data recipe is a frames recipe
    temporal_frames = temporal.data["recipe"] if differences else temporal.data["recipe"]["frames"]
    for name, recipe in (("spatial", spatial.data["recipe"]), ("temporal", temporal_frames)):
        recipe = {**recipe, "source_digest": digest}
        target = workdir / f"frames-{name}.zip"
        same = [p for r, p in frames.values() if r == recipe]
        if same:
            target = same[0]
        else:
            note = decode_to_archive(Job(video.stem, video, target, recipe)) or note
        frames[name] = (recipe, target)
    decoded_at = time.perf_counter()
    flow = None
    if not differences:
        flow_recipe = {**temporal.data["recipe"], "frames": frames["temporal"][0]}
        if temporal.spec.stacking != "bidirectional":
            flow_recipe.pop("backward", None)  # forward fields are all this net reads: half the work
        flow = workdir / "flow.zip"
        flow_to_archive(Job(video.stem, frames["temporal"][1], flow, flow_recipe))
    meta = read_meta(frames["spatial"][1]) or {}
    return Archives(frames["spatial"][1], frames["temporal"][1], flow, meta.get("n_frames", 0),
                    meta.get("declared_frames", 0), note,
                    {"frames": decoded_at - started, "flow": time.perf_counter() - decoded_at})


def predict(video: Path, spatial: TrainedStream, temporal: TrainedStream,
            protocol: EvaluateParams, picture: Path | None = None,
            svm: FusionSvm | None = None, weights: tuple[float, ...] = (1.0, 1.0)) -> Prediction:
    """Scores of ``video`` under both streams, their average at ``weights`` (and ``svm``'s
    fusion of them); optionally a picture of its frames and flow."""
    if spatial.classes != temporal.classes:
        raise ValueError(f"{spatial.path} and {temporal.path} were trained on different classes")
    with tempfile.TemporaryDirectory(prefix="twostream-predict-") as tmp:
        made = make_archives(video, spatial, temporal, Path(tmp))
        started = time.perf_counter()
        spatial_scores = _score(spatial, made.spatial_frames, protocol)
        scored_spatial = time.perf_counter()
        temporal_scores = _score(temporal, made.flow if made.flow is not None else made.flow_frames,
                                 protocol)
        seconds = {**made.seconds, "spatial net": scored_spatial - started,
                   "temporal net": time.perf_counter() - scored_spatial}
        result = Prediction(video, spatial.classes, spatial_scores, temporal_scores,
                            decoded=made.decoded, declared=made.declared, note=made.note,
                            seconds=seconds, weights=weights)
        if svm is not None:
            result.svm = svm.scores(result.spatial, result.temporal)[0]
        if picture is not None and made.flow is not None:
            from twostream.flow.colour import flow_picture, save_picture

            try:
                with ArchiveReader(made.flow) as f, ArchiveReader(made.flow_frames) as r:
                    save_picture(flow_picture(f, r)[0], picture)
            except OSError as err:  # a picture that cannot be written never hides the scores
                result.picture_error = f"{picture}: picture not written ({err})"
    return result
