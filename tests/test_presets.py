from pathlib import Path

import pytest
import yaml

from conftest import REPO
from twostream.config import ParamsError, load_params
from twostream.presets import PresetError, as_flag_value, load_preset, preset_flags, with_overrides


def _apply(values: dict, tmp_path: Path) -> Path:
    """params.yaml with a preset's values set, as `dvc exp run -S` would write it."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    parsed = {key: yaml.safe_load(as_flag_value(value)) for key, value in values.items()}  # what -S parses back
    params = with_overrides(params, parsed)
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


def test_overrides_copy_the_params_and_name_a_missing_block():
    params = {"frames": {"short_side": 96, "workers": 0}, "run": {"splits": [1]}}
    out = with_overrides(params, {"frames.short_side": 128, "run.splits": [1, 2]})
    assert out == {"frames": {"short_side": 128, "workers": 0}, "run": {"splits": [1, 2]}}
    assert params["frames"]["short_side"] == 96 and params["run"]["splits"] == [1]
    with pytest.raises(PresetError, match="framez.short_side: params.yaml has no block 'framez'"):
        with_overrides(params, {"framez.short_side": 128})
