"""The test protocol's inputs of one video: equally spaced frames or flow stacks, each as corner
and centre crops and their flips (the paper's 25 x 10), the distinct ones weighted by how often
they occur."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from twostream.inputs.crops import equally_spaced, flip_image, protocol_crops
from twostream.inputs.fields import read_fields
from twostream.inputs.rgb import rgb_tensor
from twostream.inputs.rgb_diff import n_differences, read_differences
from twostream.inputs.stacking import (build_stack, first_start, flip_stack, stack_channels, stack_starts,
                                       subtract_mean_flow)
from twostream.store.zipstore import ArchiveReader, frame_member


def _distinct(positions: Sequence[int]) -> tuple[list[int], np.ndarray]:
    """Distinct positions in order and how often each occurs."""
    values, counts = np.unique(np.asarray(positions), return_counts=True)
    return [int(v) for v in values], counts


def spatial_test_inputs(reader: ArchiveReader, *, frames: int, crops: int,
                        input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Equally spaced frames, each as corner/centre crops and flips: the distinct inputs
    (n, 3, s, s) and each one's multiplicity among the ``frames * crops`` protocol inputs."""
    chosen, counts = _distinct(equally_spaced(reader.meta["n_frames"], frames))
    inputs = [protocol_crops(rgb_tensor(reader.image(frame_member(i))), input_size, crops, flip_image)
              for i in chosen]
    return np.concatenate(inputs), np.repeat(counts, len(inputs[0])).astype(np.float32)


def temporal_test_inputs(reader: ArchiveReader, *, frames: int, crops: int, input_size: int,
                         stack_length: int, mean_subtraction: bool, stacking: str = "flow"
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Equally spaced flow stacks (RGB-difference stacks from a frames archive for
    ``rgb_diff``), each cropped and flipped: the distinct inputs (n, 2L or 3L, s, s) and each
    one's multiplicity among the ``frames * crops`` protocol inputs."""
    differences = stacking == "rgb_diff"  # read from a frames archive
    n_fields = n_differences(reader.meta) if differences else reader.meta["n_fields"]
    if n_fields == 0:
        zeros = np.zeros((crops, stack_channels(stacking, stack_length), input_size, input_size),
                         np.float32)
        return zeros, np.full(crops, float(frames), np.float32)
    if differences:
        decoded = {False: read_differences(reader, range(n_fields))}
    else:
        decoded = {False: read_fields(reader, range(n_fields))}
    if stacking == "bidirectional":
        decoded[True] = read_fields(reader, range(n_fields), backward=True)
    first = first_start(stacking, stack_length)
    starts, counts = _distinct(stack_starts(n_fields, stack_length, frames))
    batches = []
    for start in starts:
        stack = build_stack(lambda idx, back: decoded[back][list(idx)], first + start, stack_length,
                            n_fields, stacking)
        if mean_subtraction:
            stack = subtract_mean_flow(stack)
        batches.append(protocol_crops(stack, input_size, crops, flip_image if differences else flip_stack))
    return np.concatenate(batches), np.repeat(counts, len(batches[0])).astype(np.float32)
