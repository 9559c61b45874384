"""RGB difference, TSN's cheap motion input: differences of consecutive frames, stacked as flow
fields are, so the temporal stream can train with no optical flow at all.

Difference k is frame k+1 minus frame k of one clip (normalised RGB), so a clip of n frames has
n - 1 of them, and a stack of L starting at k reads frames k..k+L: never a frame of another
clip, never past the clip's last frame (a short clip repeats its last difference, as a short
flow stack repeats its last field).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from twostream.inputs.decoded_cache import DecodedCache
from twostream.inputs.rgb import rgb_tensor
from twostream.store.zipstore import ArchiveReader, frame_member


def n_differences(meta: dict) -> int:
    """How many consecutive-frame differences a frames archive holds."""
    return max(int(meta["n_frames"]) - 1, 0)


def read_differences(reader: ArchiveReader, indices: Sequence[int],
                     cache: DecodedCache | None = None) -> np.ndarray:
    """Differences ``indices`` of a frames archive -> (len, H, W, 3) float32 (channels last, as
    flow fields are read). ``cache``: decoded frames kept across calls (training)."""
    count = n_differences(reader.meta)
    frames: dict[int, np.ndarray] = {}

    def frame(i: int) -> np.ndarray:
        if i not in frames:
            name = frame_member(i)
            decoded = (reader.image(name) if cache is None else
                       cache.get((str(reader.path), name), lambda: reader.image(name)))
            frames[i] = rgb_tensor(decoded)
        return frames[i]

    out = []
    for k in indices:
        if not 0 <= k < count:
            raise IndexError(f"difference {k} of a clip with {count}: frames {k}, {k + 1} are not both in it")
        out.append((frame(k + 1) - frame(k)).transpose(1, 2, 0))
    return np.stack(out).astype(np.float32, copy=False)
