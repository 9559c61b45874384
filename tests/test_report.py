from twostream.report import RunResults, build_tables, summary, to_markdown


def _results():
    acc = {"spatial": {1: 0.40}, "temporal": {1: 0.60}, "fusion_average": {1: 0.80},
           "fusion_svm": {1: 0.85}}
    return RunResults("synthetic", acc, {"temporal": {"flow_backend": "opencv-tvl1"}},
                      spatial={"dropout": 0.9}, temporal={"stack_length": 10, "mean_subtraction": True})


def test_tables_put_ours_beside_the_paper():
    tables = build_tables(_results())
    scratch = tables["table1a"]["rows"][0]
    assert scratch["setting"] == "From scratch"
    assert scratch["cells"]["dropout 0.9"] == {"ours": 40.0, "paper": 52.3, "diff": -12.3}
    assert scratch["cells"]["dropout 0.5"]["ours"] is None
    stacking = next(r for r in tables["table1b"]["rows"] if r["input"] == "Optical flow stacking (L=10)")
    assert stacking["cells"]["mean subtraction on"]["ours"] == 60.0
    assert stacking["cells"]["mean subtraction on"]["paper"] == 81.0
    svm = tables["table4"]["rows"][3]
    assert svm["ours"] == 85.0 and svm["paper"] == 88.0 and svm["splits"] == {"split1": 85.0}
    assert "synthetic" in tables["note"]


def test_summary_is_flat_and_markdown_renders():
    s = summary(_results())
    assert s["accuracy"] == {"spatial": 40.0, "temporal": 60.0, "fusion_average": 80.0, "fusion_svm": 85.0}
    md = to_markdown(build_tables(_results()))
    assert "| From scratch | - (42.5) | **40.0** (52.3) |" in md
    assert "opencv-tvl1" in md


def test_hmdb51_uses_its_own_paper_column_and_no_ucf_table1_figures():
    base = _results()
    results = RunResults("hmdb51", base.accuracy, {"subset": True}, base.spatial, base.temporal)
    tables = build_tables(results)
    assert tables["table1a"]["rows"][0]["cells"]["dropout 0.9"] == {"ours": 40.0, "paper": None, "diff": None}
    assert tables["table4"]["paper_column"] == "hmdb51"
    assert tables["table4"]["rows"][3]["paper"] == 59.4
    assert "subset" in tables["note"]


def test_temporal_row_follows_the_stacking():
    base = _results()
    for stacking, row in (("trajectory", "Trajectory stacking (L=10)"),
                          ("bidirectional", "Optical flow stacking, bi-directional (L=10)")):
        results = RunResults("ucf101", base.accuracy, {}, base.spatial,
                             {"stack_length": 10, "mean_subtraction": True, "stacking": stacking})
        rows = {r["input"]: r for r in build_tables(results)["table1b"]["rows"]}
        assert rows[row]["cells"]["mean subtraction on"]["ours"] == 60.0
