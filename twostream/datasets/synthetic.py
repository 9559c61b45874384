"""The embedded datasets: real AVI files in UCF-101's or HMDB-51's layout, made from a seed.

``synthetic`` stands in for UCF-101 and ``synthetic_hmdb`` for HMDB-51 (params.yaml): each its
own classes, two motions shared, two not, and the HMDB stand-in with fewer training clips, so
that extra data from the other dataset can help its temporal stream as in the paper's Table 2.

Class = appearance x motion, built so that the paper's finding can show:

* appearance = a colour and a surface texture, and for Amber (the HMDB stand-in's own) a larger
  build; the silhouette (disc, square, diamond, hexagon) is random per clip, so one RGB frame
  tells the appearance but nothing about the motion;
* motion = a pattern that survives a horizontal flip (training flips, so "left" and "right"
  must be one class): slide sideways, rise, spin, grow, fall, shake;
* flow sees motion well; it sees texture only partly (flow of stripes differs from flow of dots)
  and colour not at all, so the temporal stream cannot fully tell the appearance apart; build it
  does see (the size of the moving region), as flow sees a performer's body in real actions;
* each group (``_gNN_``) has its own background, as UCF-101 groups share actor and scene; the
  camera pans by up to ``camera_motion`` px/frame (what mean flow subtraction compensates);
* sensor noise on every frame.

A single frame is at best right about 1/motions of the time, flow about 1/appearances or more,
and the fusion of the two can be right on both.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from twostream.config import APPEARANCES as APPEARANCE_NAMES
from twostream.config import MOTIONS as MOTION_NAMES
from twostream.config import SyntheticParams
from twostream.datasets.splits import SPLITS, held_out_groups, write_hmdb_splits, write_ucf_splits
from twostream.frames.video import write_video


@dataclass(frozen=True)
class Appearance:
    name: str
    bgr: tuple[int, int, int]
    texture: str
    scale: float = 1.0  # object size: the one trait of an appearance that flow sees fully


APPEARANCES = (
    Appearance("Ember", (40, 70, 225), "stripes"),
    Appearance("Moss", (60, 185, 70), "dots"),
    Appearance("Azure", (225, 130, 45), "checker"),
    Appearance("Amber", (40, 200, 235), "rings", 1.4),
)
MOTIONS = MOTION_NAMES
assert tuple(a.name for a in APPEARANCES) == APPEARANCE_NAMES
SHAPES = ("disc", "square", "diamond", "hexagon")
SPRITE = 64  # canonical sprite size in pixels, before scaling


def class_list(params: SyntheticParams) -> list[tuple[Appearance, str]]:
    """(appearance, motion) per class, in label order."""
    by_name = {a.name: a for a in APPEARANCES}
    return [(by_name[a], m) for a in params.appearances for m in params.motions]


def class_name(appearance: Appearance, motion: str, layout: str = "ucf101") -> str:
    """``EmberSlide`` (UCF-101's CamelCase) or ``ember_slide`` (HMDB-51's snake case)."""
    if layout == "hmdb51":
        return f"{appearance.name.lower()}_{motion.lower()}"
    return f"{appearance.name}{motion}"


def same_action(a: str, b: str) -> bool:
    """Whether two generated class names (in either layout) are one appearance x motion."""
    return a.replace("_", "").lower() == b.replace("_", "").lower()


def _texture(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A [0, 1] pattern on the canonical sprite grid.

    In float64 and rounded to 1/1024: numpy's SIMD sin/cos differ by an ulp or two between
    CPUs (AVX-512 or not), and the rounding makes such differences vanish from the bytes.
    """
    yy, xx = np.mgrid[0:SPRITE, 0:SPRITE].astype(np.float64) - SPRITE / 2
    angle = rng.uniform(0, math.pi)
    u = xx * math.cos(angle) + yy * math.sin(angle)
    v = -xx * math.sin(angle) + yy * math.cos(angle)
    period = rng.uniform(9, 14)
    phase = rng.uniform(0, 2 * math.pi)
    if kind == "stripes":
        pattern = 0.5 + 0.5 * np.sin(2 * math.pi * u / period + phase)
    elif kind == "dots":
        pattern = ((np.cos(2 * math.pi * u / period + phase) * np.cos(2 * math.pi * v / period)) > 0.5)
    elif kind == "checker":
        pattern = (np.floor(u / period + phase) + np.floor(v / period)) % 2
    elif kind == "rings":
        pattern = 0.5 + 0.5 * np.sin(2 * math.pi * np.hypot(u, v) / (period * 0.8) + phase)
    else:
        raise ValueError(f"unknown texture {kind!r}")
    return (np.round(pattern * 1024) / 1024).astype(np.float32)


def _mask(shape: str) -> np.ndarray:
    """Anti-aliased silhouette on the canonical sprite grid, values in [0, 1]."""
    big = SPRITE * 4
    canvas = np.zeros((big, big), np.uint8)
    c, r = big // 2, int(big * 0.46)
    if shape == "disc":
        cv2.circle(canvas, (c, c), r, 255, -1, cv2.LINE_AA)
    else:
        sides = {"square": 4, "diamond": 4, "hexagon": 6}[shape]
        offset = math.pi / 4 if shape == "square" else 0.0
        radius = r * (1.0 if shape != "square" else 1.05)
        pts = [(c + radius * math.cos(offset + 2 * math.pi * k / sides),
                c + radius * math.sin(offset + 2 * math.pi * k / sides)) for k in range(sides)]
        cv2.fillPoly(canvas, [np.round(np.array(pts)).astype(np.int32)], 255, cv2.LINE_AA)
    return cv2.resize(canvas, (SPRITE, SPRITE), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def _background(group: int, seed: int, height: int, width: int) -> np.ndarray:
    """A smooth, textured, tinted scene per group, larger than the frame so the camera can pan."""
    rng = np.random.default_rng([seed, 7919, group])
    h, w = height * 2, width * 2
    coarse = rng.random((max(2, h // 16), max(2, w // 16), 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.5)[..., None]
    tint = rng.uniform(0.35, 0.75, size=3).astype(np.float32)
    scene = (0.55 * smooth + 0.45 * fine) * tint * 255
    return np.clip(scene, 0, 255).astype(np.float32)


@dataclass(frozen=True)
class _Trajectory:
    centre: np.ndarray  # (T, 2) object centre in scene coordinates
    angle: np.ndarray   # (T,) degrees
    size: np.ndarray    # (T,) pixels


def _trajectory(motion: str, frames: int, width: int, height: int,
                rng: np.random.Generator, scale: float = 1.0) -> _Trajectory:
    t = np.arange(frames, dtype=np.float64)  # float64: float32 sin/pow differ between CPUs
    span = max(frames - 1, 1)
    size0 = rng.uniform(0.24, 0.36) * height * scale
    angle = np.full(frames, rng.uniform(0, 360))
    size = np.full(frames, size0)
    offset = np.zeros((frames, 2))
    speed = rng.uniform(1.5, 3.0)
    if motion == "Slide":
        speed = min(speed, 0.55 * width / span)
        offset[:, 0] = rng.choice([-1.0, 1.0]) * speed * t
    elif motion in ("Rise", "Fall"):
        speed = min(speed, 0.45 * height / span)
        offset[:, 1] = (-1.0 if motion == "Rise" else 1.0) * speed * t
    elif motion == "Spin":
        angle = angle + rng.choice([-1.0, 1.0]) * rng.uniform(8, 15) * t
    elif motion == "Grow":
        rate = min(rng.uniform(1.03, 1.05), 1.6 ** (1 / span))
        size = size0 / rate ** (span / 2) * rate ** t
    elif motion == "Shake":
        period = rng.uniform(6, 10)
        offset[:, 0] = rng.uniform(3, 6) * np.sin(2 * math.pi * t / period + rng.uniform(0, 2 * math.pi))
    else:
        raise ValueError(f"unknown motion {motion!r}")
    # Place the whole path inside the frame (scene origin = frame origin at t=0).
    radius = size.max() / 2
    lo = radius - offset.min(axis=0)
    hi = np.array([width, height], np.float64) - radius - offset.max(axis=0)
    start = np.array([rng.uniform(l, max(l, h)) for l, h in zip(lo, hi)])
    return _Trajectory(start + offset, angle, size)


def render_clip(label: int, group: int, clip: int, params: SyntheticParams) -> list[np.ndarray]:
    """Render one clip of class ``label`` as BGR uint8 frames."""
    appearance, motion = class_list(params)[label]
    rng = np.random.default_rng([params.seed, label, group, clip])
    width, height, frames = params.width, params.height, params.frames
    scene = _background(group, params.seed, height, width)
    pattern = _texture(appearance.texture, rng)
    colour = np.clip(np.array(appearance.bgr, np.float32) + rng.normal(0, 12, 3), 0, 255)
    sprite = (0.35 + 0.65 * pattern)[..., None] * colour
    mask = _mask(SHAPES[rng.integers(len(SHAPES))])
    path = _trajectory(motion, frames, width, height, rng, appearance.scale)
    pan = rng.normal(size=2)
    pan = pan / (np.linalg.norm(pan) + 1e-9) * rng.uniform(0, params.camera_motion)
    origin = np.array([width / 2, height / 2], np.float32) + rng.uniform(-0.2, 0.2, 2) * [width, height]
    out = []
    for t in range(frames):
        camera = origin + pan * t
        shift = np.float32([[1, 0, -camera[0]], [0, 1, -camera[1]]])
        frame = cv2.warpAffine(scene, shift, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        centre = path.centre[t] - (camera - origin)
        rot = cv2.getRotationMatrix2D((SPRITE / 2, SPRITE / 2), float(path.angle[t]),
                                      float(path.size[t] / SPRITE))
        rot[:, 2] += centre - SPRITE / 2
        sprite_t = cv2.warpAffine(sprite, rot, (width, height), flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(mask, rot, (width, height), flags=cv2.INTER_LINEAR)[..., None]
        frame = frame * (1 - alpha) + sprite_t * alpha
        frame = frame + rng.normal(0, params.noise, frame.shape)
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return out


@contextmanager
def portable_opencv() -> Iterator[None]:
    """OpenCV without its per-processor code (AVX2 / AVX-512 dispatch, IPP), whose rounding
    differs between CPUs: what it renders and encodes is then the same on every x86-64 machine."""
    was = cv2.useOptimized()
    cv2.setUseOptimized(False)
    try:
        yield
    finally:
        cv2.setUseOptimized(was)


def generate(params: SyntheticParams, root: str | Path) -> pd.DataFrame:
    """Write the clips and official split files in ``params.layout``'s formats under ``root``:
    ``UCF-101/<Class>/v_<Class>_gNN_cNN.avi`` + ``ucfTrainTestlist/``, or
    ``hmdb51_org/<class>/FilmNN_<class>_N.avi`` + ``testTrainMulti_7030_splits/``.

    Groups (HMDB-51: source films) never straddle train and test. The bytes depend only on
    the params and the package versions, not on the processor (:func:`portable_opencv`, float64
    trigonometry). Returns the table as written; callers re-read the split files with the
    parser the real data uses.
    """
    root = Path(root)
    classes = class_list(params)
    names = [class_name(a, m, params.layout) for a, m in classes]
    rows = []
    for label in range(len(classes)):
        for group in range(1, params.groups + 1):
            for clip in range(1, params.clips_per_group + 1):
                if params.layout == "hmdb51":
                    name, folder = f"Film{group:02d}_{names[label]}_{clip}", "hmdb51_org"
                else:
                    name, folder = f"v_{names[label]}_g{group:02d}_c{clip:02d}", "UCF-101"
                with portable_opencv():
                    frames = render_clip(label, group, clip, params)
                    write_video(root / folder / names[label] / f"{name}.avi", frames, params.fps)
                sides = {f"split{s}": "test" if group in held_out_groups(s, params.groups) else "train"
                         for s in SPLITS}
                rows.append({"id": f"{names[label]}/{name}", "label": label, **sides})
    table = pd.DataFrame(rows)
    if params.layout == "hmdb51":
        write_hmdb_splits(table, names, root / "testTrainMulti_7030_splits")
    else:
        write_ucf_splits(table, names, root / "ucfTrainTestlist")
    return table


def read_generated(params: SyntheticParams, root: str | Path) -> pd.DataFrame:
    """The split table of a generated dataset, through the parser of its layout."""
    from twostream.datasets.splits import read_hmdb_splits, read_ucf_splits

    root = Path(root)
    if params.layout == "hmdb51":
        return read_hmdb_splits(root / "testTrainMulti_7030_splits")
    return read_ucf_splits(root / "ucfTrainTestlist")
