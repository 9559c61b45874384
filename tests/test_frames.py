import json
import shutil

from twostream.config import FramesParams
from twostream.frames import extract_frames
from twostream.splits import read_ucf_splits
from twostream.store import archive_name, read_meta


def test_frames_stage_resumes_survives_a_corrupt_video_and_drops_stale(tiny_dataset, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(tiny_dataset, raw)
    table = read_ucf_splits(raw / "ucfTrainTestlist")
    broken = table["id"][0]
    (raw / table["path"][0]).write_bytes(b"not a video")
    out = tmp_path / "frames"
    stale = out / "Gone" / "v_Gone_g01_c01.zip"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")

    first = extract_frames(table, raw, out, FramesParams(short_side=48, workers=2))
    assert set(first.failures) == {broken} and first.done == len(table) - 1
    assert "not a video" not in json.loads((out / "failures.json").read_text())[broken]
    assert broken in json.loads((out / "failures.json").read_text())
    assert not stale.exists()
    meta = read_meta(out / archive_name(table["id"][1]))
    assert meta["height"] == 48 and meta["n_frames"] == 8

    # A rerun (as after a kill) redoes nothing that is finished; a changed param redoes all.
    again = extract_frames(table, raw, out, FramesParams(short_side=48, workers=1))
    assert again.done == 0 and again.skipped == len(table) - 1
    resized = extract_frames(table, raw, out, FramesParams(short_side=32, workers=1))
    assert resized.done == len(table) - 1 and resized.skipped == 0
