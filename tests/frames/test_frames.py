import json
import shutil

from twostream.frames.extract import extract_frames
from twostream.datasets.splits import read_ucf_splits
from twostream.store.zipstore import archive_name, read_meta

from conftest import repo_block


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

    first = extract_frames(table, raw, out, repo_block("frames", short_side=48, workers=2))
    assert set(first.failures) == {broken} and first.done == len(table) - 1
    assert "not a video" not in json.loads((out / "failures.json").read_text())[broken]
    assert broken in json.loads((out / "failures.json").read_text())
    assert not stale.exists()
    meta = read_meta(out / archive_name(table["id"][1]))
    assert meta["height"] == 48 and meta["n_frames"] == 8

    # A rerun (as after a kill) redoes nothing that is finished; a changed param redoes all.
    again = extract_frames(table, raw, out, repo_block("frames", short_side=48, workers=1))
    assert again.done == 0 and again.skipped == len(table) - 1
    resized = extract_frames(table, raw, out, repo_block("frames", short_side=32, workers=1))
    assert resized.done == len(table) - 1 and resized.skipped == 0


def test_real_clips_short_truncated_and_odd_names(tmp_path):
    """Real UCF-101 / HMDB-51 clips: 25 and 29.97 fps, 320/432/560 wide, names with '!!!' and '+'."""
    import pandas as pd

    from conftest import REAL

    clips = {
        "TennisSwing/v_TennisSwing_g14_c03": "ucf101/UCF-101/TennisSwing/v_TennisSwing_g14_c03.avi",
        "JavelinThrow/v_JavelinThrow_g22_c01": "ucf101/UCF-101/JavelinThrow/v_JavelinThrow_g22_c01.avi",
        "wave/RATRACE_wave_f_nm_np1_fr_goo_37": "hmdb51/videos/wave/RATRACE_wave_f_nm_np1_fr_goo_37.avi",
        "wave/TrumanShow_wave_f_nm_np1_fr_med_26": "hmdb51/videos/wave/TrumanShow_wave_f_nm_np1_fr_med_26.avi",
        "golf/Golf_Tips_-_Hit_The_Driver_300+_Yards!!!_golf_f_nm_np1_fr_med_0":
            "hmdb51/videos/golf/Golf_Tips_-_Hit_The_Driver_300+_Yards!!!_golf_f_nm_np1_fr_med_0.avi",
    }
    raw = tmp_path / "raw"
    for rel in clips.values():
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REAL / rel, raw / rel)
    whole = (REAL / clips["TennisSwing/v_TennisSwing_g14_c03"]).read_bytes()
    clips["cut/v_cut_g01_c01"] = "cut/v_cut_g01_c01.avi"        # truncated: usable, noted
    clips["stub/v_stub_g01_c01"] = "stub/v_stub_g01_c01.avi"    # one frame left: too short
    for name, share in (("cut", 0.6), ("stub", 9000 / len(whole))):
        (raw / name).mkdir()
        (raw / name / f"v_{name}_g01_c01.avi").write_bytes(whole[:int(len(whole) * share)])
    table = pd.DataFrame({"id": list(clips), "path": list(clips.values())})

    out = tmp_path / "frames"
    result = extract_frames(table, raw, out, repo_block("frames", short_side=64, workers=2))
    assert set(result.failures) == {"stub/v_stub_g01_c01"}
    assert "too short: 1 decodable frame(s), need at least 2" in result.failures["stub/v_stub_g01_c01"]
    warnings = json.loads((out / "warnings.json").read_text())
    assert list(warnings) == ["cut/v_cut_g01_c01"] and "of the 113 frames" in warnings["cut/v_cut_g01_c01"]
    tennis = read_meta(out / archive_name("TennisSwing/v_TennisSwing_g14_c03"))
    assert abs(tennis["fps"] - 29.97) < 0.01 and tennis["n_frames"] == 113
    assert (tennis["height"], tennis["width"]) == (64, 85)
    assert read_meta(out / archive_name("JavelinThrow/v_JavelinThrow_g22_c01"))["fps"] == 25.0
    assert read_meta(out / archive_name("wave/RATRACE_wave_f_nm_np1_fr_goo_37"))["width"] == 149  # 560x240
    assert read_meta(out / archive_name("wave/TrumanShow_wave_f_nm_np1_fr_med_26"))["width"] == 115  # 432x240
    golf = out / archive_name(table["id"][4])
    assert golf.is_file() and "!!!" in golf.name
    # The kept video's note survives a resumed run that skips it.
    again = extract_frames(table, raw, out, repo_block("frames", short_side=64, workers=1))
    assert again.done == 0 and set(again.failures) == {"stub/v_stub_g01_c01"}
    assert list(json.loads((out / "warnings.json").read_text())) == ["cut/v_cut_g01_c01"]


def test_middle_window_is_centred_consecutive_and_all_for_zero():
    from twostream.frames.extract import middle_window

    assert middle_window(100, 0) == (0, 100)        # every frame (the paper)
    assert middle_window(100, 48) == (26, 74)       # centred: 26 cut before, 26 after
    assert middle_window(101, 48) == (26, 74)
    assert middle_window(30, 48) == (0, 48)         # a shorter clip is kept whole
    assert middle_window(0, 48) == (0, 48)          # unknown length: the first 48


def _numbered_clip(path, frames: int):
    """A clip whose frame i is grey level 4 * i, so a decoded frame tells where it came from."""
    import numpy as np

    from twostream.frames.video import write_video

    write_video(path, [np.full((48, 64, 3), 4 * i, np.uint8) for i in range(frames)], 25.0)


def _levels(archive):
    from twostream.store.zipstore import ArchiveReader, frame_member

    with ArchiveReader(archive) as reader:
        return [round(float(reader.image(frame_member(i)).mean()) / 4)
                for i in range(reader.meta["n_frames"])]


def test_max_frames_keeps_the_middle_consecutive_frames(tmp_path):
    import pandas as pd

    raw = tmp_path / "raw"
    (raw / "A").mkdir(parents=True)
    _numbered_clip(raw / "A" / "v_A_g01_c01.avi", 40)
    _numbered_clip(raw / "A" / "v_A_g01_c02.avi", 6)
    table = pd.DataFrame({"id": ["A/v_A_g01_c01", "A/v_A_g01_c02"],
                          "path": ["A/v_A_g01_c01.avi", "A/v_A_g01_c02.avi"]})
    out = tmp_path / "frames"
    result = extract_frames(table, raw, out, repo_block("frames", short_side=48, max_frames=10, workers=1))
    assert result.done == 2 and not result.failures
    long, short = (out / archive_name(v) for v in table["id"])
    assert _levels(long) == list(range(15, 25))
    assert read_meta(long)["first_frame"] == 15 and read_meta(long)["n_frames"] == 10
    assert _levels(short) == list(range(6))
    assert not (out / "warnings.json").is_file() or json.loads((out / "warnings.json").read_text()) == {}
    # every frame again: the changed param redoes both archives
    extract_frames(table, raw, out, repo_block("frames", short_side=48, max_frames=0, workers=1))
    assert _levels(long) == list(range(40))


def test_a_clip_shorter_than_it_declares_still_fills_its_window(tmp_path):
    """Truncated files declare more frames than they hold: the window (placed by the declared
    count) would run past the end; the last max_frames decoded frames are kept, and noted."""
    import pandas as pd

    raw = tmp_path / "raw"
    (raw / "A").mkdir(parents=True)
    whole = raw / "A" / "v_A_g01_c09.avi"
    _numbered_clip(whole, 60)
    data = whole.read_bytes()
    whole.write_bytes(data[: int(len(data) * 0.5)])
    table = pd.DataFrame({"id": ["A/v_A_g01_c09"], "path": ["A/v_A_g01_c09.avi"]})
    out = tmp_path / "frames"
    extract_frames(table, raw, out, repo_block("frames", short_side=48, max_frames=10, workers=1))
    levels = _levels(out / archive_name("A/v_A_g01_c09"))  # the window was frames 25-34
    assert len(levels) == 10 and levels == list(range(levels[0], levels[0] + 10))
    assert levels[-1] < 25
    assert "of the 60 frames" in json.loads((out / "warnings.json").read_text())["A/v_A_g01_c09"]
