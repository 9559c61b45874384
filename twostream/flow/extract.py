"""The flow stage: frames archive -> flow archive of quantised JPEG fields, per video.

Flow and packing are one step: storing float fields first would be the 1.5 TB the paper
avoided. Field i is the flow from frame i to frame i+1, so a clip of n frames has n-1 fields.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from twostream.config import FlowParams
from twostream.store.fingerprint import code_fingerprint
from twostream.flow.backends import make_backend, to_gray
from twostream.flow.tvl1_settings import TVL1Settings
from twostream.store.flow_jpeg import encode_field
from twostream.store.pervideo import FAILURES, Job, RunSummary, read_failures, run_jobs
from twostream.store.zipstore import ArchiveReader, archive_name, flow_members, frame_member, read_meta, write_archive

# The code that turns frames into packed flow: a change to it redoes every archive.
FLOW_CODE = code_fingerprint("twostream.flow.extract", "twostream.flow.backends",
                             "twostream.flow.tvl1", "twostream.store.flow_jpeg", "twostream.store.zipstore")
# One solver per worker process, built on first use.
_backend = functools.lru_cache(maxsize=None)(make_backend)


def flow_to_archive(job: Job) -> None:
    recipe = job.recipe
    # A recipe records compile only for a batched backend and epsilon and scale_step only for a
    # TV-L1 one; the other backends ignore the values passed for those they lack.
    settings = recipe["settings"]
    backend = _backend(recipe["backend"], compile=recipe.get("compile", False),
                       epsilon=settings.get("epsilon", TVL1Settings.epsilon),
                       scale_step=settings.get("scale_step", TVL1Settings.scale_step))
    with ArchiveReader(job.source) as frames_archive:
        n_frames = frames_archive.meta["n_frames"]
        gray = [to_gray(frames_archive.image(frame_member(i))) for i in range(n_frames)]
    members: dict[str, bytes] = {}
    magnitudes = []
    batch = recipe.get("batch_pairs", 1)
    directions = (False, True) if recipe.get("backward") else (False,)
    for start in range(0, n_frames - 1, batch):
        stop = min(start + batch, n_frames - 1)
        for backward in directions:
            firsts, seconds = gray[start:stop], gray[start + 1:stop + 1]
            fields = backend.many(seconds, firsts) if backward else backend.many(firsts, seconds)
            for i, field in enumerate(fields, start):
                magnitudes.append(float(np.abs(field).max()))
                x_name, y_name = flow_members(i, backward)
                members[x_name], members[y_name] = encode_field(field, recipe["bound"],
                                                                recipe["jpeg_quality"])
    height, width = gray[0].shape
    clipped = sum(m > recipe["bound"] for m in magnitudes)
    write_archive(job.target, members, {
        "recipe": recipe, "n_fields": n_frames - 1, "height": height, "width": width,
        "backend": backend.name, "settings": backend.settings, "bound": recipe["bound"],
        "backward": bool(recipe.get("backward")),
        "fields_clipped": clipped})


def extract_flow(table: pd.DataFrame, frames_dir: Path, out_dir: Path,
                 params: FlowParams, shard: tuple[int, int] = (0, 1)) -> RunSummary:
    """Compute and pack flow for every video whose frames archive exists.

    ``shard`` = (rank, world size): this process computes videos rank, rank + world, ... of the
    table (a deterministic split; under torchrun each rank takes its own), while the set of
    archives that belong in ``out_dir`` stays the whole table's.
    """
    backend = make_backend(params.backend, compile=params.compile, epsilon=params.tvl1_epsilon,
                           scale_step=params.tvl1_scale_step)  # fail fast, in the parent
    jobs = []
    for video_id in table["id"]:
        source = frames_dir / archive_name(video_id)
        frames_meta = read_meta(source)
        recipe = {"backend": backend.name, "settings": backend.settings, "bound": params.bound,
                  "jpeg_quality": params.jpeg_quality, "code": FLOW_CODE,
                  "frames": frames_meta["recipe"] if frames_meta else None}
        if params.backward:
            recipe["backward"] = True
        if backend.compute_batch is not None:  # the batch is part of a batched solver's recipe
            recipe["batch_pairs"] = params.batch_pairs
            recipe["compile"] = params.compile
        jobs.append(Job(video_id, source, out_dir / archive_name(video_id), recipe))
    rank, world = shard
    frames_failed = {video: f"its frames failed ({frames_dir / FAILURES}: {reason})"
                     for video, reason in read_failures(frames_dir).items()}
    return run_jobs(jobs, flow_to_archive, out_dir, params.workers, f"flow ({backend.name})",
                    shard=shard, report_suffix=f".rank{rank}" if world > 1 else "",
                    failed_before=frames_failed)
