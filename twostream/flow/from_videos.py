"""Flow for any videos, outside the pipeline: the folder layout denseflow and mmaction2 read, or
the project's zip store.

``denseflow`` layout: one folder per video holding ``img_00001.jpg`` (the frame),
``flow_x_00001.jpg`` and ``flow_y_00001.jpg`` (the field from frame 1 to frame 2), numbered
from 1 as denseflow and mmaction2's ``build_rawframes.py`` write them, and with ``backward``
``bflow_x_00001.jpg`` / ``bflow_y_00001.jpg`` (frame 2 -> frame 1; a prefix that mmaction2's
``flow_x_`` file count does not pick up). A ``flow.json`` in the folder records what ran and how
to read a code back into pixels. ``zip`` layout: one archive per video with the members and
metadata of the pipeline's frames and flow stages, readable by its ``ArchiveReader``.

A video's output appears under its final name only once it is complete (a temp folder or file,
then a rename), so a rerun skips every finished video, redoes a half-written one, and redoes a
finished one whose settings differ. Each video is computed under a lock (``.twostream-locks/``
in the output folder), so two runs on one folder share the videos instead of computing each
twice or removing each other's work in progress; the kernel frees a killed run's locks.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twostream.config import FlowParams, parse_block
from twostream.datasets.official import VIDEO_SUFFIXES
from twostream.errors import UserError
from twostream.flow.backends import FlowBackend, make_backend, to_gray
from twostream.flow.tvl1_settings import TVL1Settings
from twostream.store.flow_jpeg import HALF_RANGE, ZERO_CODE, encode_field
from twostream.frames.extract import file_digest
from twostream.frames.video import VideoError, VideoReader
from twostream.store.fingerprint import code_fingerprint
from twostream.store.pervideo import Job, RunSummary, run_jobs
from twostream.store.zipstore import encode_jpeg, flow_members, frame_member, read_meta, write_archive

LAYOUTS = ("denseflow", "zip")
# What is taken for a video, named or found in a folder: the datasets' suffixes and other common
# containers. Not any file: FFmpeg "decodes" a text file into frames of rendered text.
TOOL_SUFFIXES = (*VIDEO_SUFFIXES, ".mpg", ".mpeg", ".m4v", ".flv", ".3gp", ".wmv", ".ts", ".mts")
RECORD = "flow.json"  # in each finished denseflow-layout folder
MIN_SHORT_SIDE, MAX_SHORT_SIDE = 16, 4320  # --short-side: as frames.short_side; 8K's short side
# The code that turns a video into flow files: a change to it redoes every video.
FLOW_TOOL_CODE = code_fingerprint("twostream.flow.from_videos", "twostream.flow.backends",
                                  "twostream.flow.tvl1", "twostream.store.flow_jpeg", "twostream.frames.video")


@dataclass(frozen=True)
class ToolSettings:
    """What `twostream flow` computes: a flow block (validated as params.yaml's is) and how the
    output is laid out."""

    flow: FlowParams
    short_side: int  # 0 = the video's own size
    write_frames: bool
    layout: str

    def __post_init__(self) -> None:
        if self.short_side != 0 and not MIN_SHORT_SIDE <= self.short_side <= MAX_SHORT_SIDE:
            raise UserError(f"--short-side {self.short_side}: must be 0 (the video's own size) or "
                            f"{MIN_SHORT_SIDE}-{MAX_SHORT_SIDE} px (flow needs a few pyramid levels; "
                            f"{MAX_SHORT_SIDE} is 8K video's short side)")
        if self.layout not in LAYOUTS:
            raise UserError(f"--layout {self.layout!r}: must be one of {list(LAYOUTS)}")


# The tool's flow block when no --params is given: the conventions of the flow the field
# publishes and consumes (denseflow, mmaction2): OpenCV's TV-L1 at its own defaults, fields
# clipped at +-20 px (denseflow's bound), JPEG quality 95 (OpenCV's imwrite default).
TOOL_FLOW = {"backend": "auto", "bound": 20.0, "backward": False, "batch_pairs": 16, "compile": True,
             "tvl1_epsilon": TVL1Settings.epsilon, "tvl1_scale_step": TVL1Settings.scale_step,
             "jpeg_quality": 95, "workers": 0}


def tool_settings(flow: dict[str, Any], short_side: int, write_frames: bool, layout: str) -> ToolSettings:
    """Validate a flow block by params.yaml's rules (errors name the key and the range)."""
    return ToolSettings(parse_block(FlowParams, flow, "flow"), short_side, write_frames, layout)


class NameClashError(UserError, ValueError):
    """Two input videos whose outputs would have the same name."""


class ClaimedOutputError(UserError, ValueError):
    """An output folder or archive that already holds another video's flow."""


def video_files(folder: Path) -> list[Path]:
    """Video files under ``folder``, sorted, following linked folders (a class folder may be a
    link to where the videos live) but entering each real folder once, so a link loop ends."""
    found, entered = [], set()
    for top, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in entered:
            dirs[:] = []
            continue
        entered.add(real)
        dirs.sort()
        found += [Path(top) / f for f in files if Path(f).suffix.lower() in TOOL_SUFFIXES
                  and not f.startswith(".") and (Path(top) / f).is_file()]
    return sorted(found)


def find_videos(inputs: Sequence[Path]) -> tuple[dict[str, Path], dict[Path, str]]:
    """Output name -> video for each input: a file by its stem, a folder's videos by their path
    inside it without the suffix (``Class/v_x``, so class folders are kept), as denseflow and
    mmaction2 name them, so a name is a function of the input alone; and each input that is
    neither, with why. A video named twice counts once; two videos with one name are refused,
    naming both (a suffix such as ``_2`` would hang on the order they were found)."""
    named: dict[str, Path] = {}
    bad: dict[Path, str] = {}

    seen: set[Path] = set()

    def add(name: str, video: Path) -> None:
        if video.resolve() in seen:  # named twice (a file and its folder): computed once
            return
        seen.add(video.resolve())
        if name in named:
            raise NameClashError(
                f"{named[name]} and {video} would both write '{name}' under --out: pass the folder "
                f"that holds both (names then keep the path under it), rename one, or run them "
                f"into different --out folders")
        named[name] = video

    for path in inputs:
        if path.is_dir():
            found = video_files(path)
            if not found:
                bad[path] = f"a folder with no videos ({' '.join(TOOL_SUFFIXES)}) in it or below it"
            for video in found:
                add(video.relative_to(path).with_suffix("").as_posix(), video)
        elif path.is_file() and path.suffix.lower() not in TOOL_SUFFIXES:
            bad[path] = f"not a video file name (expected one of {' '.join(TOOL_SUFFIXES)})"
        elif path.is_file():
            add(path.stem, path)
        else:
            bad[path] = "no such file or folder"
    return named, bad


def image_names(layout: str, index: int, backward: bool = False) -> tuple[str, str]:
    """(x, y) file names of field ``index`` (0-based) in a layout."""
    if layout == "zip":
        return flow_members(index, backward)
    prefix = "bflow" if backward else "flow"
    return f"{prefix}_x_{index + 1:05d}.jpg", f"{prefix}_y_{index + 1:05d}.jpg"


def frame_name(layout: str, index: int) -> str:
    return frame_member(index) if layout == "zip" else f"img_{index + 1:05d}.jpg"


def target_path(out_dir: Path, name: str, layout: str) -> Path:
    return out_dir / (f"{name}.zip" if layout == "zip" else name)


def recorded(target: Path, layout: str) -> dict[str, Any] | None:
    """The record a finished output carries (None: missing, half-written or unreadable)."""
    if layout == "zip":
        return read_meta(target)
    try:
        return json.loads((target / RECORD).read_text())
    except (OSError, ValueError):
        return None


def claimed_by_another(job: Job) -> str | None:
    """Which other video's finished flow ``job``'s output holds (None: none, or this video's,
    or this same file since edited, which is redone). A video counts as the same one by its
    content (moved or renamed) or by its path (changed in place)."""
    record = recorded(job.target, job.recipe["layout"])
    if record is None or not record.get("source"):
        return None
    same_content = (record.get("recipe") or {}).get("source_digest") == job.recipe["source_digest"]
    same_file = Path(record["source"]).resolve() == Path(job.source).resolve()
    return None if same_content or same_file else str(record["source"])


def is_finished(job: Job) -> bool:
    record = recorded(job.target, job.recipe["layout"])
    return record is not None and record.get("recipe") == json.loads(json.dumps(job.recipe))


def remove_leftovers(target: Path) -> None:
    """Temp folders and files a killed run left for this video (its next run starts afresh)."""
    if not target.parent.is_dir():
        return
    for path in target.parent.iterdir():
        if path.name.startswith((f".{target.name}.tmp", f".{target.name}.old")):
            shutil.rmtree(path) if path.is_dir() else path.unlink()


class _Folder:
    """Files of one video's folder, written into a temp folder renamed into place when done."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.temp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        self.temp.mkdir(parents=True)

    def put(self, name: str, data: bytes) -> None:
        (self.temp / name).write_bytes(data)

    def finish(self, record: dict[str, Any]) -> None:
        (self.temp / RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        old = self.target.with_name(f".{self.target.name}.old{os.getpid()}")
        if self.target.exists():  # a finished folder made with other settings
            os.replace(self.target, old)
        os.replace(self.temp, self.target)
        shutil.rmtree(old, ignore_errors=True)

    def abandon(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)


class _Archive:
    """Members of one video's zip, written atomically by :func:`write_archive` when done."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.members: dict[str, bytes] = {}

    def put(self, name: str, data: bytes) -> None:
        self.members[name] = data

    def finish(self, record: dict[str, Any]) -> None:
        write_archive(self.target, self.members, record)

    def abandon(self) -> None:
        self.members.clear()


@functools.lru_cache(maxsize=None)
def _backend(build_json: str) -> FlowBackend:
    """One solver per worker process, built on first use from the recipe's ``build``."""
    build = json.loads(build_json)
    return make_backend(build["backend"], compile=build["compile"], epsilon=build["epsilon"],
                        scale_step=build["scale_step"])


def pair_batches(frames: Iterable[np.ndarray], batch: int) -> Iterable[tuple[int, list[np.ndarray]]]:
    """(index of the first frame, ``batch + 1`` consecutive frames or fewer at the end): every
    consecutive pair exactly once, holding at most ``batch + 1`` frames at a time."""
    held: list[np.ndarray] = []
    start = 0
    for frame in frames:
        held.append(frame)
        if len(held) == batch + 1:
            yield start, held
            start += batch
            held = held[-1:]
    if len(held) > 1:
        yield start, held


def video_to_flow(job: Job) -> str | None:
    """Decode one video, compute and pack its fields batch by batch, and write its output:
    memory holds one batch of frames and the encoded images."""
    recipe = job.recipe
    layout, bound, quality = recipe["layout"], recipe["bound"], recipe["jpeg_quality"]
    backend = _backend(json.dumps(recipe["build"], sort_keys=True))
    directions = (False, True) if recipe["backward"] else (False,)
    remove_leftovers(job.target)
    sink = _Folder(job.target) if layout == "denseflow" else _Archive(job.target)
    n_frames = clipped = 0
    height = width = 0
    try:
        with VideoReader(job.source) as video:
            def frames() -> Iterable[np.ndarray]:
                nonlocal n_frames, height, width
                for frame in video.frames(recipe["short_side"] or None):
                    if recipe["write_frames"]:
                        sink.put(frame_name(layout, n_frames), encode_jpeg(frame, quality))
                    n_frames += 1
                    height, width = frame.shape[:2]
                    yield to_gray(frame)

            for start, held in pair_batches(frames(), recipe["batch_pairs"]):
                for backward in directions:
                    firsts, seconds = held[:-1], held[1:]
                    fields = backend.many(seconds, firsts) if backward else backend.many(firsts, seconds)
                    for i, field in enumerate(fields, start):
                        clipped += bool(np.abs(field).max() > bound)
                        x, y = encode_field(field, bound, quality)
                        x_name, y_name = image_names(layout, i, backward)
                        sink.put(x_name, x)
                        sink.put(y_name, y)
            declared, fps = video.declared, video.fps
        if n_frames < 2:
            raise VideoError(f"{job.source}: {n_frames} decodable frame(s); flow needs at least 2 "
                             f"(corrupt, empty or a still image)")
        sink.finish({"recipe": recipe, "source": str(job.source), "n_frames": n_frames,
                     "n_fields": n_frames - 1, "declared_frames": declared, "fps": fps,
                     "height": height, "width": width, "backend": backend.name,
                     "settings": backend.settings, "bound": bound, "backward": recipe["backward"],
                     "fields_clipped": clipped,
                     "decode": f"pixels = (code - {ZERO_CODE}) * bound / {HALF_RANGE}, "
                               f"code 1..255 of the 8-bit JPEG (0 unused)"})
    except BaseException:
        sink.abandon()
        raise
    if declared and n_frames < 0.9 * declared:
        return f"decoded {n_frames} of the {declared} frames the file declares (truncated or damaged?)"
    return None


def declared_pairs(job: Job) -> int:
    """Frame pairs the video's container declares (for the progress bar; 1 if unknown)."""
    try:
        with VideoReader(job.source) as video:
            return max(1, video.declared - 1)
    except VideoError:
        return 1


def flow_jobs(videos: dict[str, Path], out_dir: Path, settings: ToolSettings,
              backend: FlowBackend) -> list[Job]:
    """One job per video; the recipe holds every value that decides its output."""
    build = {"backend": backend.name, "compile": settings.flow.compile, "epsilon": settings.flow.tvl1_epsilon,
             "scale_step": settings.flow.tvl1_scale_step}
    jobs = []
    for name, video in videos.items():
        recipe = {"build": build, "settings": backend.settings, "layout": settings.layout,
                  "bound": settings.flow.bound, "backward": settings.flow.backward,
                  "jpeg_quality": settings.flow.jpeg_quality, "short_side": settings.short_side,
                  "write_frames": settings.write_frames, "batch_pairs": settings.flow.batch_pairs,
                  "code": FLOW_TOOL_CODE, "source_digest": file_digest(video)}
        jobs.append(Job(name, video, target_path(out_dir, name, settings.layout), recipe))
    return jobs


def default_workers(backend: FlowBackend) -> int:
    """One process per core on the CPU (torch-tvl1 too: its warps and median filters are
    OpenCV calls on one core); one per GPU for the batched PyTorch solver on a GPU."""
    return 1 if backend.settings.get("device", "cpu") != "cpu" else (os.cpu_count() or 1)


@dataclass(frozen=True)
class FlowRun:
    summary: RunSummary
    pairs: int  # frame pairs computed by this run (not those of videos already done)
    seconds: float


def compute_flow(videos: dict[str, Path], out_dir: Path, settings: ToolSettings,
                 shard: tuple[int, int] = (0, 1),
                 describe: Callable[[FlowBackend], None] = lambda backend: None) -> FlowRun:
    """Flow for every video into ``out_dir``; finished ones are skipped, bad ones filed in
    ``out_dir/failures.json`` (with ``shard``, this process's videos only)."""
    flow = settings.flow
    backend = make_backend(flow.backend, compile=flow.compile, epsilon=flow.tvl1_epsilon,
                           scale_step=flow.tvl1_scale_step)  # a wrong name fails before any video
    describe(backend)
    jobs = flow_jobs(videos, out_dir, settings, backend)
    rank, world = shard
    mine = jobs[rank::world]
    claimed = [(job, other) for job in mine if (other := claimed_by_another(job)) is not None]
    if claimed:
        job, other = claimed[0]
        more = f" (and {len(claimed) - 1} more outputs)" if len(claimed) > 1 else ""
        raise ClaimedOutputError(
            f"{job.target} holds the flow of {other}, not of {job.source}{more}: nothing was "
            f"replaced; give another --out, or delete {job.target} to compute it for {job.source}")
    finished_before = {job.video_id for job in mine if is_finished(job)}
    start = time.perf_counter()
    summary = run_jobs(mine, video_to_flow, out_dir, flow.workers or default_workers(backend),
                       f"flow ({backend.name})", report_suffix=f".rank{rank}" if world > 1 else "",
                       done=is_finished, prune=False, size=declared_pairs, unit="pair", shared=True)
    seconds = time.perf_counter() - start
    pairs = 0
    for job in mine:
        if job.video_id not in {*finished_before, *summary.failures, *summary.elsewhere}:
            record = recorded(job.target, settings.layout)
            pairs += record["n_fields"] if record else 0
    return FlowRun(summary, pairs, seconds)
