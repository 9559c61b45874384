import logging

import numpy as np
import pytest
import yaml

from conftest import REPO
from twostream.config import load_params
from twostream.evaluation.scores import ScoreFile, save_scores
from twostream.presets import with_overrides
from twostream.report.collect import ReportError, collect_results, plot_folders, write_plots

LOG = logging.getLogger("test")
IDS = np.array(["a", "b", "c", "d"])
LABELS = np.array([0, 1, 0, 1])


@pytest.fixture
def params(tmp_path):
    values = yaml.safe_load((REPO / "params.yaml").read_text())
    values = with_overrides(values, {"table1a.dropouts": [0.5], "dropout": 0.5,
                                     "fusion.temporal": "multitask"})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(values))
    return load_params(path)


def _write(root, part, stream, name, scores, split=1, ids=IDS, **meta):
    """A score file whose 4 test videos get ``scores`` (rows: videos, 2 classes)."""
    meta = {"spec": {}, "weights": None, "data": {}, "device": "cpu", "amp": False,
            "schedule": {"iterations": 60 if stream == "spatial" else 240},
            "protocol": {"frames": 25, "crops": 10}, "classes": ["A", "B"], "cell": name, **meta}
    save_scores(root / part / stream / name / f"split{split}.npz",
                ScoreFile(ids, LABELS, np.array(["test"] * len(ids)), np.asarray(scores, float), meta))


# Spatial is right on a and b, temporal on c and d; each alone 50%. Their averages are right on
# a, c, d: 75% (b: temporal 0.95 for the wrong class outweighs spatial 0.6).
SPATIAL = [[0.9, 0.1], [0.4, 0.6], [0.45, 0.55], [0.6, 0.4]]
TEMPORAL = [[0.45, 0.55], [0.95, 0.05], [0.8, 0.2], [0.1, 0.9]]


def _run(root, params, pair=None, temporal_ids=IDS):
    pair = pair or {"spatial": "last_layer-0.5", "temporal": "multitask"}
    for part in ("ucf101", "hmdb51"):
        _write(root, part, "spatial", "last_layer-0.5", SPATIAL)
        _write(root, part, "temporal", "multitask", TEMPORAL, ids=temporal_ids)
        for method in ("average", "svm"):
            _write(root, part, "fused", method, SPATIAL, cells=pair, svm={"C": 1.0})
    _write(root, "ucf101", "temporal", "flow10_sub", TEMPORAL, ids=temporal_ids)
    _write(root, "hmdb51", "temporal", "alone", TEMPORAL)
    return collect_results(root, params, LOG)


def test_cells_fusions_and_provenance_come_from_the_score_files(tmp_path, params, caplog):
    results = _run(tmp_path, params)
    cells = {(c.part, c.stream, c.name): c.accuracy for c in results.cells}
    assert cells[("ucf101", "spatial", "last_layer-0.5")] == {1: 0.5}
    assert cells[("hmdb51", "temporal", "alone")] == {1: 0.5}
    assert ("ucf101", "spatial", "scratch-0.5") not in cells  # no scores: an empty cell, a warning
    assert "scratch-0.5: no scores" in caplog.text
    averaged = {f.temporal: f.accuracy for f in results.fusions if f.method == "averaging"}
    assert averaged == {"flow10_sub": {1: 0.75}, "multitask": {1: 0.75}}
    svm = [f for f in results.fusions if f.method == "SVM"]
    assert [(f.temporal, f.label) for f in svm] == [("multitask", "uni-directional, multi-task")]
    assert results.accuracy["hmdb51"]["spatial"] == {1: 0.5}
    schedules = results.provenance["schedules"]
    assert schedules["hmdb51/spatial/last_layer-0.5"] == {"iterations": 60}  # the fused pair's too
    assert results.provenance["test_protocol"] == {"frames": 25, "crops": 10}
    assert results.datasets == {"ucf101": "synthetic", "hmdb51": "synthetic_hmdb"}


def test_a_fused_pair_made_from_other_nets_fails(tmp_path, params):
    with pytest.raises(ReportError, match="made from .*flow10_sub.*rerun `dvc repro`"):
        _run(tmp_path, params, pair={"spatial": "last_layer-0.5", "temporal": "flow10_sub"})


def test_averaging_other_test_videos_fails(tmp_path, params):
    with pytest.raises(ReportError, match="flow10_sub scored other test videos"):
        _run(tmp_path, params, temporal_ids=np.array(["a", "b", "c", "e"]))


def test_a_missing_fusion_fails_naming_it(tmp_path, params):
    _run(tmp_path, params)
    (tmp_path / "hmdb51" / "fused" / "svm" / "split1.npz").unlink()
    with pytest.raises(ReportError, match="hmdb51: no scores of .*fusion_svm"):
        collect_results(tmp_path, params, LOG)


def test_plots_show_each_fused_model(tmp_path, params):
    _run(tmp_path, params)
    folders = plot_folders(tmp_path, params)["ucf101"]
    write_plots(folders, tmp_path / "plots")
    assert sorted(p.name for p in (tmp_path / "plots" / "confusion").iterdir()) == [
        "fusion_average.csv", "fusion_svm.csv", "spatial.csv", "temporal.csv"]
