"""Table 2's training data and the multi-task net: what each net learns from, and the per-part
model files cut from one trained trunk."""

from pathlib import Path

import pandas as pd
import pytest
import torch

from twostream.config import Params
from twostream.errors import UserError
from twostream.training.fit import PartData, fit_split, training_data
from twostream.streams import StreamSpec, cell
from twostream.training.tasks import class_layer_key

from conftest import repo_params

SMALL = {"temporal": {"width": 0.1, "input_size": 48, "batch_size": 6, "schedule_scale": 0.0001},
         "spatial": {"input_size": 48},
         "frames": {"short_side": 48},
         "table1b": {"flow3_sub": {"stacking": "flow", "stack_length": 3, "mean_subtraction": True}},
         "table2": {"input": "flow3_sub", "multitask_ratio": 0.5}}


def _parts(tiny_archives, tmp_path: Path) -> tuple[Params, dict[str, PartData]]:
    """The tiny dataset as the ucf101 part, and its *Rise clips renamed as an hmdb51 part."""
    table, _, flow = tiny_archives
    ucf_csv, hmdb_csv = tmp_path / "ucf.csv", tmp_path / "hmdb.csv"
    table.to_csv(ucf_csv, index=False)
    hmdb = table[table["class"].str.endswith("Rise")].copy()
    hmdb["class"] = [f"{c[:-4].lower()}_rise" for c in hmdb["class"]]  # ember_rise, moss_rise
    hmdb["label"] = pd.factorize(hmdb["class"], sort=True)[0]
    hmdb.to_csv(hmdb_csv, index=False)
    params = repo_params({**SMALL, "dropout": 0.5})
    return params, {"ucf101": PartData(table, ucf_csv, flow),
                    "hmdb51": PartData(hmdb.reset_index(drop=True), hmdb_csv, flow)}


def test_each_table2_row_learns_from_what_the_paper_says(tiny_archives, tmp_path):
    params, data = _parts(tiny_archives, tmp_path)
    n_ucf = int((data["ucf101"].table["split1"] == "train").sum())
    n_hmdb = int((data["hmdb51"].table["split1"] == "train").sum())
    alone = training_data(cell(params, "temporal", "alone"), data, 1)
    assert len(alone.paths) == n_hmdb and set(alone.outputs) == {"hmdb51"}
    extra = training_data(cell(params, "temporal", "extra_classes"), data, 1)
    assert extra.added_classes == ["EmberSlide", "MossSlide"]  # *Rise are hmdb51's classes too
    assert extra.heads.num_classes == 4 and extra.outputs["hmdb51"].stop == 2
    assert sorted(set(extra.labels)) == [0, 1, 2, 3]
    multi = training_data(cell(params, "temporal", "multitask"), data, 1)
    assert len(multi.paths) == n_ucf + n_hmdb
    assert [(h.part, h.start, h.stop) for h in multi.heads.heads] == [("ucf101", 0, 4), ("hmdb51", 4, 6)]
    assert multi.labels[n_ucf:] == [4 + x for x in alone.labels]


def test_multitask_net_gives_each_part_a_model_file_with_the_shared_trunk(tiny_archives, tmp_path):
    params, data = _parts(tiny_archives, tmp_path)
    chosen = cell(params, "temporal", "multitask")
    payloads = fit_split(chosen, params.run.seed, data, 1, tmp_path / "ckpt", torch.device("cpu"), None)
    assert set(payloads) == {"ucf101", "hmdb51"}
    ucf, hmdb = payloads["ucf101"], payloads["hmdb51"]
    assert hmdb.classes == ["ember_rise", "moss_rise"] and len(ucf.classes) == 4
    assert hmdb.trained_with["batch_pools"] == [3, 3]
    for payload in (ucf, hmdb):  # each loads as a plain single-head net, as evaluate builds it
        model, _ = StreamSpec(**payload.spec).build(len(payload.classes))
        model.load_state_dict(payload.state_dict)
    key = class_layer_key(model)
    differ = {k for k, v in ucf.state_dict.items() if not torch.equal(v, hmdb.state_dict[k])}
    assert differ == {f"{key}.weight", f"{key}.bias"}  # one trunk, two heads


def test_fine_tuning_starts_from_the_ucf101_trunk(tiny_archives, tmp_path):
    params, data = _parts(tiny_archives, tmp_path)
    ucf_cell = cell(params, "temporal", "flow3_sub")
    trained = fit_split(ucf_cell, params.run.seed, data, 1, tmp_path / "a", torch.device("cpu"), None)["ucf101"]
    trained.save(tmp_path / "ucf.pt")
    tuned = fit_split(cell(params, "temporal", "finetuned"), params.run.seed, data, 1, tmp_path / "b",
                      torch.device("cpu"), None, init=tmp_path / "ucf.pt")["hmdb51"]
    assert tuned.weights.startswith(f"fine-tuned from {tmp_path / 'ucf.pt'}")
    assert cell(params, "temporal", "finetuned").schedule == params.temporal.schedule("finetune")
    with pytest.raises(UserError, match="missing"):
        fit_split(cell(params, "temporal", "finetuned"), params.run.seed, data, 1, tmp_path / "c",
                  torch.device("cpu"), None, init=tmp_path / "none.pt")


def test_the_finetuned_row_needs_init_and_no_other_cell_takes_one(tmp_path):
    """Without --init the finetuned row would train from scratch on the fine-tune schedule."""
    params = repo_params()
    with pytest.raises(UserError, match="--init models/ucf101/temporal"):
        fit_split(cell(params, "temporal", "finetuned"), params.run.seed, {}, 1, tmp_path,
                  torch.device("cpu"), None)
    with pytest.raises(UserError, match="only for a row that fine-tunes"):
        fit_split(cell(params, "temporal", "alone"), params.run.seed, {}, 1, tmp_path,
                  torch.device("cpu"), None, init=tmp_path / "ucf.pt")


def test_an_rgb_difference_net_trains_on_the_frames_archives(tiny_archives, tmp_path):
    table, frames, flow = tiny_archives
    csv = tmp_path / "ucf.csv"
    table.to_csv(csv, index=False)
    params = repo_params({**SMALL, "dropout": 0.5, "table1b": {
        "flow3_sub": SMALL["table1b"]["flow3_sub"],
        "rgb4": {"stacking": "rgb_diff", "stack_length": 4, "mean_subtraction": False}}})
    chosen = cell(params, "temporal", "rgb4")
    assert chosen.spec.in_channels == 12 and chosen.spec.reads_frames
    with pytest.raises(UserError, match="--frames ucf101"):
        training_data(chosen, {"ucf101": PartData(table, csv, flow)}, 1)
    data = {"ucf101": PartData(table, csv, flow, frames)}
    assert {p.parent.parent for p in training_data(chosen, data, 1).paths} == {frames}
    payload = fit_split(chosen, params.run.seed, data, 1, tmp_path / "ckpt", torch.device("cpu"), None)["ucf101"]
    model, _ = StreamSpec(**payload.spec).build(len(payload.classes))
    model.load_state_dict(payload.state_dict)
