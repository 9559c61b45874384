import pytest
import yaml

from twostream.config import Params, ParamsError, load_params, parse_block

from conftest import REPO, repo_params


def test_repository_params_parse():
    params = load_params(REPO / "params.yaml")
    assert params.datasets.source("ucf101") == "synthetic"
    assert params.datasets.source("hmdb51") == "synthetic_hmdb"
    assert params.synthetic_hmdb.layout == "hmdb51"
    assert all(cell.stack_length >= 1 for cell in params.table1b.values())
    assert params.fusion.temporal == "multitask" and params.table2.input in params.table1b
    # the HMDB-51 stand-in shares two motions with the UCF-101 one and has two of its own
    shared = set(params.synthetic.motions) & set(params.synthetic_hmdb.motions)
    assert len(shared) == 2 and len(set(params.synthetic_hmdb.motions) - shared) == 2


@pytest.mark.parametrize("raw, key", [
    ({"dropuot": 0.9}, "dropuot"),
    ({"dropout": 1.5}, "dropout"),
    ({"dropout": "high"}, "dropout"),
    ({"table1b": {"flow10_sub": {"stack_length": 0}}}, "table1b.flow10_sub.stack_length"),
    ({"table1b": {"flow10_sub": {"stack_lenght": 10}}}, "table1b.flow10_sub.stack_lenght"),
    ({"table1b": {"x": {"stacking": "bidirectional", "stack_length": 5, "mean_subtraction": True}}},
     "table1b.x.stack_length"),
    ({"table1b": ["flow10_sub"]}, "table1b"),
    ({"table1a": {"settings": ["scratch", "imagenet"]}}, r"table1a.settings"),
    ({"table1a": {"dropouts": [0.5, 0.5]}}, r"table1a.dropouts"),
    ({"dropout": 0.7}, "table1a.dropouts"),
    ({"fusion": {"temporal": "flow99"}}, "fusion.temporal"),
    ({"table1a": {"settings": ["scratch"]}}, "fusion.spatial"),
    ({"fusion": {"hmdb_temporal": "flow10_sub"}}, "fusion.hmdb_temporal"),
    ({"datasets": {"ucf101": "kinetics"}}, "datasets.ucf101"),
    ({"datasets": {"hmdb51": "synthetic"}}, "datasets.hmdb51"),
    ({"table2": {"input": "flow99"}}, "table2.input"),
    ({"table2": {"multitask_ratio": 1.0}}, "table2.multitask_ratio"),
    ({"table1b": {"multitask": {}}}, "table1b.multitask"),
    ({"synthetic": {"motions": ["Slide", "Jump"]}}, "synthetic.motions[1]"),
    ({"synthetic_hmdb": {"appearances": []}}, "appearances"),
    ({"spatial": {"backbone": "alexnet"}}, "spatial.backbone"),
    ({"spatial": {"schedule_scale": 0}}, "spatial.schedule_scale"),
    ({"temporal": {"init": "imagenet"}}, "temporal.init"),
    ({"flow": {"backend": "brox"}}, "flow.backend"),
    ({"flow": {"bound": 0}}, "flow.bound"),
    ({"run": {"splits": [1, 4]}}, "run.splits[1]"),
    ({"spatial": {"input_size": 300}}, "spatial.input_size"),
    ({"table1b": {"flow10_sub": {"mean_subtraction": 1}}}, "table1b.flow10_sub.mean_subtraction"),
    # YAML's .nan and .inf are floats: each must fail at load, naming the key.
    ({"flow": {"bound": float("inf")}}, r"flow.bound=inf: expected a finite number"),
    ({"spatial": {"lr": float("nan")}}, r"spatial.lr=nan: expected a finite number"),
    ({"dropout": float("nan")}, r"dropout=nan: expected a finite number"),
    ({"fusion": {"svm_c": [1.0, float("inf")]}}, "fusion.svm_c[1]=inf"),
    ({"download": {"timeout": float("inf")}}, r"download.timeout=inf"),
])
def test_bad_params_name_the_key(raw, key):
    with pytest.raises(ParamsError, match=key.replace("[", r"\[").replace("]", r"\]")):
        repo_params(raw)


def test_missing_params_file_is_named(tmp_path):
    with pytest.raises(ParamsError, match="params.yaml"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("block, key", [("flow", "backward"), ("flow", "tvl1_epsilon"),
                                        ("evaluate", "batch_size"), (None, "dropout"),
                                        ("ucf101", "videos_urls"), (None, "table1b")])
def test_a_key_missing_from_params_yaml_fails_by_name(tmp_path, block, key):
    """params.yaml is the one source of every value: no key falls back to a value in the code."""
    import yaml

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    del (raw[block] if block else raw)[key]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    name = f"{block}.{key}" if block else key
    with pytest.raises(ParamsError, match=rf"params.yaml: missing key\(s\) {name}: params.yaml is where"):
        load_params(tmp_path / "params.yaml")


def test_no_param_has_a_default_in_the_code():
    import dataclasses
    import typing

    def fields(cls, prefix=""):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind = hints[f.name]
            if typing.get_origin(kind) is dict:
                kind = typing.get_args(kind)[1]
            yield f"{prefix}{f.name}", f
            if dataclasses.is_dataclass(kind):
                yield from fields(kind, f"{prefix}{f.name}.")

    with_default = [name for name, f in fields(Params) if f.default is not dataclasses.MISSING
                    or f.default_factory is not dataclasses.MISSING]
    assert with_default == []


def test_blocks_are_frozen():
    params = parse_block(Params, yaml.safe_load((REPO / "params.yaml").read_text()))
    with pytest.raises(Exception):
        params.dropout = 0.9  # type: ignore[misc]


def test_bidirectional_cell_needs_backward_flow(tmp_path):
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["flow"]["backward"] = False
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError, match=r"table1b.bidirectional10_sub.stacking=bidirectional .*flow.backward: true"):
        load_params(path)
    del params["table1b"]["bidirectional10_sub"]
    path.write_text(yaml.safe_dump(params))
    assert "bidirectional10_sub" not in load_params(path).table1b


@pytest.mark.parametrize("kind, scale, iterations, steps", [
    ("scratch", 1.0, 80000, (50000, 70000)),
    ("finetune", 1.0, 20000, (14000,)),
    ("scratch", 0.004, 320, (200, 280)),
    ("finetune", 0.004, 80, (56,)),
    ("scratch", 0.0001, 8, (5, 7)),
    ("finetune", 0.00005, 1, ()),
])
def test_paper_schedules_scale_keeping_their_shape(kind, scale, iterations, steps):
    from twostream.config import scaled_schedule

    schedule = scaled_schedule(kind, scale)
    assert (schedule.iterations, schedule.lr_steps) == (iterations, steps)


@pytest.mark.parametrize("key, value", [
    ("folder.root", "data/ucf101/raw"),          # the data stage's own output
    ("folder.root", "data/ucf101/raw/videos"),   # inside it
    ("folder.root", "data"),                     # holding it
    ("folder.root", "."),                        # the repository itself
    ("ucf101.root", "models/ucf101"),
    ("hmdb51.root", "metrics"),
    ("spatial.weights", "models/ucf101/spatial/last_layer-0.5/imagenet.pth"),  # DVC clears outs first
    ("download.cache_dir", "data/cache"),
])
def test_paths_that_overlap_the_pipeline_outputs_are_refused_before_any_stage_runs(
        tmp_path, key, value):
    """`folder.root: data/ucf101/raw` made `dvc repro data@ucf101` delete the user's videos."""
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    block, name = key.split(".")
    params[block][name] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError, match=rf"{key}='{value}' \(.*\) overlaps the pipeline's outputs"):
        load_params(tmp_path / "params.yaml")


def test_video_folders_must_not_overlap_the_download_cache(tmp_path):
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    repo = tmp_path / "work" / "repo"
    repo.mkdir(parents=True)
    params["download"]["cache_dir"] = str(tmp_path / "cache")
    params["folder"]["root"] = str(tmp_path / "cache" / "mine")
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError, match="folder.root=.* overlaps download.cache_dir"):
        load_params(repo / "params.yaml")
    params["folder"]["root"] = str(tmp_path / "videos")   # apart: fine, as is a cache above the repo
    params["download"]["cache_dir"] = str(tmp_path / "work")
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    assert load_params(repo / "params.yaml").folder.root == str(tmp_path / "videos")
