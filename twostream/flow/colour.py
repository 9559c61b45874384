"""Middlebury colour coding of flow (Baker et al., IJCV 2011): hue = direction, saturation = speed.

    python -m twostream.flow.colour data/flow/<Class>/<video>.zip flow.png [--frames data/frames] [--fields 0 4 8]

writes, for each chosen field, the RGB frame (when ``--frames`` is given) above its colour-coded
flow: what the temporal stream sees.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from twostream.store.zipstore import ArchiveReader

# Segment lengths of the standard wheel: red-yellow, yellow-green, green-cyan, cyan-blue,
# blue-magenta, magenta-red.
_SEGMENTS = (15, 6, 4, 11, 13, 6)


def colour_wheel() -> np.ndarray:
    """(55, 3) float RGB in [0, 1]: the Middlebury wheel, starting at red."""
    ramps = []
    for index, length in enumerate(_SEGMENTS):
        t = np.arange(length) / length
        rising, falling = t, 1.0 - t
        full, zero = np.ones(length), np.zeros(length)
        r, g, b = [(full, rising, zero), (falling, full, zero), (zero, full, rising),
                   (zero, falling, full), (rising, zero, full), (full, zero, falling)][index]
        ramps.append(np.stack([r, g, b], axis=1))
    return np.concatenate(ramps)


def flow_to_colour(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """(H, W, 2) flow -> (H, W, 3) uint8 RGB. Speeds are scaled by ``max_magnitude`` (default:
    the field's own maximum); faster than that saturates, and out-of-range colours are dimmed."""
    u, v = flow[..., 0].astype(np.float64), flow[..., 1].astype(np.float64)
    magnitude = np.hypot(u, v)
    scale = max_magnitude if max_magnitude else max(float(magnitude.max()), 1e-9)
    radius = magnitude / scale
    wheel = colour_wheel()
    n = len(wheel)
    angle = np.arctan2(-v, -u) / np.pi           # in [-1, 1]
    position = (angle + 1) / 2 * (n - 1)         # fractional index into the wheel
    k0 = np.floor(position).astype(int)
    k1 = (k0 + 1) % n
    f = (position - k0)[..., None]
    colour = (1 - f) * wheel[k0] + f * wheel[k1]
    inside = (radius <= 1)[..., None]
    r = np.minimum(radius, 1.0)[..., None]
    colour = np.where(inside, 1 - r * (1 - colour), colour * 0.75)
    return np.clip(np.rint(colour * 255), 0, 255).astype(np.uint8)


def flow_picture(flow: ArchiveReader, frames: ArchiveReader | None = None,
                 fields: list[int] | None = None, max_magnitude: float | None = None
                 ) -> tuple[np.ndarray, list[int], float]:
    """RGB picture: the chosen fields in colour (default: 4 spread out), their frames above.

    Returns the picture, the field indices and the speed of full saturation.
    """
    from twostream.store.flow_jpeg import decode_field
    from twostream.store.zipstore import flow_members, frame_member

    count, bound = flow.meta["n_fields"], flow.meta["bound"]
    picks = fields or sorted({round(i * (count - 1) / 3) for i in range(4)})
    decoded = [decode_field(*(flow.read(m) for m in flow_members(i)), bound) for i in picks]
    top = max_magnitude or max(float(np.abs(f).max()) for f in decoded) or 1.0
    columns = [flow_to_colour(f, top) for f in decoded]
    if frames is not None:
        rgb = [cv2.cvtColor(frames.image(frame_member(i)), cv2.COLOR_BGR2RGB) for i in picks]
        columns = [np.concatenate([a, b], axis=0) for a, b in zip(rgb, columns)]
    return np.concatenate(columns, axis=1), picks, top


def save_picture(image: np.ndarray, path: Path) -> None:
    """A PNG of an RGB image; a path that cannot be written raises OSError (cv2.imwrite would
    only return False)."""
    ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"{path}: OpenCV could not encode the picture")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png.tobytes())


def main(argv: list[str] | None = None) -> None:
    from twostream.store.zipstore import ArchiveReader, archive_name

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("flow_archive", type=Path)
    parser.add_argument("out_png", type=Path)
    parser.add_argument("--frames", type=Path, help="the frames folder, to show each RGB frame too")
    parser.add_argument("--fields", type=int, nargs="*", help="field indices (default: 4 spread out)")
    parser.add_argument("--max", type=float, default=None, help="speed (px) of full saturation")
    args = parser.parse_args(argv)
    frames = None
    if args.frames is not None:
        video_id = args.flow_archive.relative_to(args.flow_archive.parents[1]).with_suffix("").as_posix()
        frames = ArchiveReader(args.frames / archive_name(video_id))
    with ArchiveReader(args.flow_archive) as flow:
        image, picks, top = flow_picture(flow, frames, args.fields, args.max)
    if frames is not None:
        frames.close()
    save_picture(image, args.out_png)
    print(f"{args.out_png}: fields {picks}, full saturation at {top:.1f} px")


if __name__ == "__main__":
    main()
