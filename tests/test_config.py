import pytest

from twostream.config import Params, ParamsError, load_params, parse_block

from conftest import REPO


def test_repository_params_parse():
    params = load_params(REPO / "params.yaml")
    assert params.dataset == "synthetic"
    assert params.temporal.stack_length >= 1


@pytest.mark.parametrize("raw, key", [
    ({"dropuot": 0.9}, "dropuot"),
    ({"dropout": 1.5}, "dropout"),
    ({"dropout": "high"}, "dropout"),
    ({"temporal": {"stack_length": 0}}, "temporal.stack_length"),
    ({"temporal": {"stack_lenght": 10}}, "temporal.stack_lenght"),
    ({"flow": {"backend": "brox"}}, "flow.backend"),
    ({"flow": {"bound": 0}}, "flow.bound"),
    ({"run": {"splits": [1, 4]}}, "run.splits[1]"),
    ({"spatial": {"lr_steps": [300, 200]}}, "spatial.lr_steps"),
    ({"spatial": {"input_size": 300}}, "spatial.input_size"),
    ({"temporal": {"mean_subtraction": 1}}, "temporal.mean_subtraction"),
])
def test_bad_params_name_the_key(raw, key):
    with pytest.raises(ParamsError, match=key.replace("[", r"\[").replace("]", r"\]")):
        parse_block(Params, raw)


def test_missing_params_file_is_named(tmp_path):
    with pytest.raises(ParamsError, match="params.yaml"):
        load_params(tmp_path / "params.yaml")


def test_blocks_are_frozen():
    params = parse_block(Params, {})
    with pytest.raises(Exception):
        params.dropout = 0.9  # type: ignore[misc]


def test_bidirectional_stacking_needs_backward_flow_and_even_length(tmp_path):
    import pytest
    import yaml

    from conftest import REPO
    from twostream.config import ParamsError, load_params

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["temporal"]["stacking"] = "bidirectional"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError, match="flow.backward: true"):
        load_params(path)
    params["flow"]["backward"] = True
    params["temporal"]["stack_length"] = 5
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError, match="even L"):
        load_params(path)
    params["temporal"]["stack_length"] = 10
    path.write_text(yaml.safe_dump(params))
    assert load_params(path).temporal.stacking == "bidirectional"
