"""The flow stage with the batched backend: same archive layout, batch recorded, close to OpenCV."""

from __future__ import annotations

import numpy as np

from twostream.config import FlowParams
from twostream.flow.extract import extract_flow
from twostream.store import ArchiveReader, archive_name, flow_members, read_meta
from twostream.flow.quantize import decode_field


def test_torch_tvl1_flow_stage_matches_the_opencv_one(tiny_archives, tmp_path):
    table, frames_dir, opencv_flow = tiny_archives
    out = tmp_path / "flow"
    result = extract_flow(table, frames_dir, out, FlowParams(backend="torch-tvl1", batch_pairs=3, workers=1))
    assert result.done == len(table) and not result.failures
    video = archive_name(table["id"][0])
    meta = read_meta(out / video)
    assert meta["backend"] == "torch-tvl1" and meta["recipe"]["batch_pairs"] == 3
    assert meta["settings"]["device"] in ("cpu", "cuda") and meta["settings"]["compiled"] is False
    assert meta["n_fields"] == read_meta(opencv_flow / video)["n_fields"]
    diffs = []
    for i in range(meta["n_fields"]):
        with ArchiveReader(out / video) as ours, ArchiveReader(opencv_flow / video) as ref:
            a = decode_field(*(ours.read(m) for m in flow_members(i)), 20.0)
            b = decode_field(*(ref.read(m) for m in flow_members(i)), 20.0)
        diffs.append(np.linalg.norm(a - b, axis=-1).mean())
    assert np.mean(diffs) < 0.5  # px, on 64x48 synthetic clips quantised to 8 bits
