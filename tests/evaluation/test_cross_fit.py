"""Out-of-fold scores for the fusion SVM: each training video scored by a net that did not train
on it, in the split table's order, the same folds for both streams."""

from pathlib import Path

import numpy as np
import torch

from twostream.evaluation.cross_fit import cross_fit_scores
from twostream.streams import cell
from twostream.training.fit import PartData

from conftest import repo_params

SMALL = {"temporal": {"width": 0.1, "input_size": 48, "batch_size": 4, "schedule_scale": 0.0001},
         "spatial": {"width": 0.1, "input_size": 48, "batch_size": 4, "schedule_scale": 0.0001},
         "table1b": {"flow3_sub": {"stacking": "flow", "stack_length": 3, "mean_subtraction": True}},
         "evaluate": {"frames": 2, "crops": 1}}


def _scores(tiny_archives, tmp_path: Path, stream: str, name: str, held_out: bool = False):
    table, frames, flow = tiny_archives
    csv = tmp_path / "splits.csv"
    table.to_csv(csv, index=False)
    params = repo_params(SMALL)
    data = {"ucf101": PartData(table, csv, frames if stream == "spatial" else flow, frames)}
    return table, cross_fit_scores(cell(params, stream, name), "ucf101", data, 1, params.run.seed, 2,
                                   held_out, params.evaluate, torch.device("cpu"), None,
                                   tmp_path / "ckpt" / stream, __import__("logging").getLogger("t"))


def test_every_training_video_is_scored_once_by_a_net_that_did_not_train_on_it(tiny_archives, tmp_path):
    table, (rows, scores, meta) = _scores(tiny_archives, tmp_path, "temporal", "flow3_sub")
    train = table[table["split1"] == "train"]
    assert rows["id"].tolist() == train["id"].tolist()  # every one, in the table's order
    assert set(rows["split1"]) == {"train"}  # as the fuse stage reads a training-side file
    assert scores.shape == (len(train), 4) and np.allclose(scores.sum(1), 1, atol=1e-3)
    nets = meta["svm_scores"]["fold_nets"]
    assert meta["svm_scores"]["mode"] == "out_of_fold" and len(nets) == 2
    for net in nets:  # each fold net trained on the other fold's videos only
        assert net["train_videos"] == len(train) - net["videos"]
    assert not list((tmp_path / "ckpt").rglob("*.pt"))  # resume state gone once scored


def test_held_out_scores_one_fold_and_both_streams_score_the_same_videos(tiny_archives, tmp_path):
    table, (rows, scores, meta) = _scores(tiny_archives, tmp_path, "spatial", "scratch-0.5", held_out=True)
    _, (t_rows, _, _) = _scores(tiny_archives, tmp_path, "temporal", "flow3_sub", held_out=True)
    assert meta["svm_scores"]["mode"] == "held_out" and len(meta["svm_scores"]["fold_nets"]) == 1
    assert 0 < len(rows) < int((table["split1"] == "train").sum())
    assert rows["id"].tolist() == t_rows["id"].tolist()  # the SVM pairs them video by video
    assert len(scores) == len(rows)


def test_the_stage_writes_a_training_side_score_file_under_held_out(tiny_archives, tmp_path):
    import yaml

    from conftest import _merged, _repo_raw
    from test_stages import _stage
    from twostream.evaluation.scores import load_scores

    table, _, flow = tiny_archives
    csv = tmp_path / "splits.csv"
    table.to_csv(csv, index=False)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(_merged(_repo_raw(), {
        **SMALL, "fusion": {"svm_scores": "held_out", "cross_fits": 2}})))
    _stage("svm_scores").main(["temporal", "flow3_sub", "--part", "ucf101", "--model", str(tmp_path / "none"),
                               "--data", "ucf101", str(flow), str(csv), "--out", str(tmp_path / "out"),
                               "--params", str(params), "--checkpoints", str(tmp_path / "ckpt")])
    saved = load_scores(tmp_path / "out" / "split1.npz")  # no fused net needed: the fold net scores
    ids, labels, scores = saved.side("train")
    assert 0 < len(ids) == len(saved.ids) and saved.meta["svm_scores"]["mode"] == "held_out"
    assert scores.shape == (len(ids), 4)
