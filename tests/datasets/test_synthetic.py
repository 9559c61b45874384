import numpy as np

from twostream.datasets.splits import SPLIT_COLUMNS, read_ucf_splits
from twostream.datasets.synthetic import class_list, render_clip
from twostream.frames.video import read_video

from conftest import REPO


def test_generated_dataset_has_ucf_layout(tiny_dataset, tiny_synthetic):
    table = read_ucf_splits(tiny_dataset / "ucfTrainTestlist")
    n_classes = len(tiny_synthetic.appearances) * len(tiny_synthetic.motions)
    assert table["label"].nunique() == n_classes
    assert len(table) == n_classes * tiny_synthetic.groups * tiny_synthetic.clips_per_group
    for col in SPLIT_COLUMNS:  # every split has both sides, groups never straddle (checked on read)
        assert set(table[col]) == {"train", "test"}
    frames, fps = read_video(tiny_dataset / table["path"].iloc[0])
    assert len(frames) == tiny_synthetic.frames
    assert frames[0].shape == (tiny_synthetic.height, tiny_synthetic.width, 3)
    assert fps == tiny_synthetic.fps


def test_rendering_is_deterministic(tiny_synthetic):
    a = render_clip(1, 2, 1, tiny_synthetic)
    b = render_clip(1, 2, 1, tiny_synthetic)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_motion_is_invisible_in_a_single_frame_statistic(tiny_synthetic):
    """Classes sharing an appearance differ only in motion: their mean colours agree."""
    classes = class_list(tiny_synthetic)
    same_look = [i for i, (a, _) in enumerate(classes) if a == classes[0][0]]
    means = [np.mean([render_clip(i, g, 1, tiny_synthetic)[0].mean() for g in (1, 2, 3)])
             for i in same_look]
    assert np.ptp(means) < 6.0


def test_hmdb_layout_round_trips_through_the_hmdb_parser(tmp_path, tiny_synthetic):
    """The HMDB-51 stand-in is written in HMDB-51's formats and read by the real parser: its own
    snake_case classes, source films never straddling a split."""
    from dataclasses import replace

    from twostream.datasets.synthetic import generate, read_generated, same_action

    params = replace(tiny_synthetic, appearances=("Moss",), motions=("Rise", "Fall"),
                     layout="hmdb51", groups=4, frames=4)
    written = generate(params, tmp_path)
    table = read_generated(params, tmp_path)
    assert sorted(table["class"].unique()) == ["moss_fall", "moss_rise"]
    assert (tmp_path / "testTrainMulti_7030_splits" / "moss_rise_test_split3.txt").read_text().endswith(" \n")
    assert len(table) == len(written) == 2 * 4
    for col in SPLIT_COLUMNS:
        sides = table.groupby("group")[col].nunique()
        assert (sides == 1).all() and set(table[col]) == {"train", "test"}
    assert same_action("MossRise", "moss_rise") and not same_action("MossRise", "moss_fall")


def test_amber_moves_a_larger_region_so_flow_can_tell_its_build(tiny_synthetic):
    """The HMDB stand-in's two appearances differ in colour and texture (one frame sees them) and
    Amber in build too: the moving region, what flow sees, is larger."""
    from dataclasses import replace

    params = replace(tiny_synthetic, appearances=("Azure", "Amber"), motions=("Slide",),
                     noise=0.0, camera_motion=0.0, frames=6, width=128, height=96)

    def moving_pixels(label: int) -> float:
        counts = []
        for group in (1, 2, 3):
            clip = np.stack(render_clip(label, group, 1, params)).astype(np.int16)
            counts.append((np.abs(np.diff(clip, axis=0)).max(axis=-1) > 12).sum())
        return float(np.mean(counts))

    azure, amber = moving_pixels(0), moving_pixels(1)
    assert amber > 1.4 * azure


# Processors differ in the SIMD code numpy and OpenCV pick at run time (AVX-512, AVX2 or plain
# SSE), and that code rounds differently. These settings make this machine take the others'
# paths, as a machine without those instructions would.
OTHER_PROCESSORS = {
    "no AVX-512 in numpy": {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"},
    "no AVX2 in OpenCV": {"OPENCV_CPU_DISABLE": "AVX2,FMA3"},
    "SSE only": {"NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
                 "OPENCV_CPU_DISABLE": "AVX2,FMA3,AVX,FP16",
                 "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F"},
}
_DIGEST = """
import dataclasses, hashlib, sys
from pathlib import Path
from twostream.config import load_params
from twostream.datasets.synthetic import generate
params = dataclasses.replace(load_params(sys.argv[2]).synthetic, seed=5,
                             appearances=("Ember", "Moss", "Azure", "Amber"),
                             motions=("Slide", "Rise", "Spin", "Grow", "Fall", "Shake"), groups=3,
                             clips_per_group=1, frames=6, width=96, height=72)
root = Path(sys.argv[1])
generate(params, root)
digest = hashlib.sha256()
for path in sorted(root.rglob("*")):
    if path.is_file():
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
print(digest.hexdigest())
"""


def test_generated_bytes_do_not_depend_on_the_processor(tmp_path):
    """The embedded datasets must regenerate byte for byte on another machine (same seed and
    package versions), or every stage after `data` reruns there and the tables differ."""
    import os
    import subprocess
    import sys

    def digest(name: str, env: dict[str, str]) -> str:
        result = subprocess.run([sys.executable, "-c", _DIGEST, str(tmp_path / name),
                                 str(REPO / "params.yaml")],
                                env={**os.environ, **env}, capture_output=True, text=True,
                                check=True)
        return result.stdout.strip()

    here = digest("here", {})
    for name, env in OTHER_PROCESSORS.items():
        assert digest(name.replace(" ", "_"), env) == here, f"{name}: other bytes"
