"""Segmental sampling (Temporal Segment Networks, Wang et al. 2016): a video's valid snippet
positions cut into K equal, disjoint spans that together cover every position, and one random
position drawn in each, so a training example sees the whole video, start to end.

With K = 1 it is the paper's sampling: one position anywhere, drawn exactly as before.
"""

from __future__ import annotations

import numpy as np


def segment_spans(count: int, segments: int) -> list[tuple[int, int]]:
    """``segments`` spans [lo, hi) of ``range(count)``: disjoint, in order, covering every
    position. With fewer positions than segments a span is the one position at its place
    (snippets then repeat, as they must)."""
    if count < 1 or segments < 1:
        raise ValueError(f"{count} positions in {segments} segments: both must be at least 1")
    spans = []
    for k in range(segments):
        lo, hi = k * count // segments, (k + 1) * count // segments
        if hi <= lo:
            lo = min(lo, count - 1)
            hi = lo + 1
        spans.append((lo, hi))
    return spans


def segment_positions(count: int, segments: int, rng: np.random.Generator) -> list[int]:
    """One random position in each segment of ``range(count)``, in order."""
    return [lo + int(rng.integers(hi - lo)) for lo, hi in segment_spans(count, segments)]
