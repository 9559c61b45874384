from pathlib import Path

import pytest
import yaml

from conftest import REPO
from twostream.config import ParamsError, load_params
from twostream.presets import PresetError, as_flag_value, load_preset, preset_flags


def _apply(values: dict, tmp_path: Path) -> Path:
    """params.yaml with a preset's values set, as `dvc exp run -S` would write it."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for key, value in values.items():
        node = params
        *path, last = key.split(".")
        for part in path:
            node = node[part]
        node[last] = yaml.safe_load(as_flag_value(value))  # what -S parses back
    out = tmp_path / "params.yaml"
    out.write_text(yaml.safe_dump(params))
    return out


@pytest.mark.parametrize("preset", sorted((REPO / "presets").glob("*.yaml")), ids=lambda p: p.name)
def test_every_preset_sets_valid_params_only(preset, tmp_path):
    values = load_preset(preset, REPO)
    params = load_params(_apply(values, tmp_path))
    if "folder.root" in values:
        assert Path(values["folder.root"]).is_absolute()
        assert params.folder.root == values["folder.root"]


def test_real10_preset_runs_the_folder_on_real_footage():
    values = load_preset(REPO / "presets/ucf101-real10.yaml", REPO)
    assert values["datasets.ucf101"] == "folder"
    assert values["folder.root"] == str((REPO / "../shared/data/ucf101-real10").resolve())
    assert values["frames.max_frames"] > 0


def test_flags_are_what_dvc_exp_run_parses(tmp_path):
    flags = preset_flags({"run.splits": [1, 2, 3], "flow.backward": True, "flow.bound": 20.0,
                          "folder.root": "/data/x"})
    assert flags == ["-S", "run.splits=[1, 2, 3]", "-S", "flow.backward=true",
                     "-S", "flow.bound=20.0", "-S", "folder.root=/data/x"]


def test_bad_presets_are_named(tmp_path):
    with pytest.raises(PresetError, match="not found"):
        load_preset(tmp_path / "none.yaml", REPO)
    nested = tmp_path / "nested.yaml"
    nested.write_text("frames:\n  short_side: 128\n")
    with pytest.raises(PresetError, match="flat mapping"):
        load_preset(nested, REPO)
    typo = tmp_path / "typo.yaml"
    typo.write_text("frames.max_frame: 48\n")
    with pytest.raises(ParamsError, match="max_frame"):
        load_params(_apply(load_preset(typo, REPO), tmp_path))
