"""Tables laid out like the paper's, with the paper's figure beside each of ours.

Accuracies are percentages. The pipeline runs two dataset *parts*: ``ucf101`` (Tables 1 and 3,
Table 4's left column) and ``hmdb51`` (Table 2, Table 4's right column), each played by the real
dataset or a generated stand-in. The paper's figures are shown beside every cell; where a part
is not the real dataset (or a subset of it) the report says they are for layout only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twostream.cells import MULTITASK, SPATIAL_SETTINGS, TABLE2_ROWS, spatial_setting

PARTS = ("ucf101", "hmdb51")
PART_TITLES = {"ucf101": "UCF-101", "hmdb51": "HMDB-51"}
# Table 1a: spatial ConvNet, UCF-101 split 1, by training setting (twostream.cells) and dropout.
PAPER_1A = {
    "scratch": {0.5: 42.5, 0.9: 52.3},
    "finetune": {0.5: 70.8, 0.9: 72.8},
    "last_layer": {0.5: 72.7, 0.9: 59.9},
}
# Table 1b: temporal ConvNet, UCF-101 split 1, by input and mean subtraction (off, on).
PAPER_1B = {
    "Single-frame optical flow (L=1)": {False: None, True: 73.9},
    "Optical flow stacking (L=5)": {False: None, True: 80.4},
    "Optical flow stacking (L=10)": {False: 79.9, True: 81.0},
    "Trajectory stacking (L=10)": {False: 79.6, True: 80.2},
    "Optical flow stacking, bi-directional (L=10)": {False: None, True: 81.2},
}
# Table 2: temporal ConvNet, HMDB-51 split 1, by row (twostream.cells.TABLE2_ROWS).
PAPER_2 = {"alone": 46.6, "finetuned": 49.0, "extra_classes": 52.8, "multitask": 55.4}
PAPER_2_MULTITASK_UCF = 81.5  # the multi-task net on UCF-101 split 1
# Table 3: two-stream fusion, UCF-101 split 1 (spatial: pre-trained + last layer).
PAPER_3 = {
    ("bi-directional", "averaging"): 85.6,
    ("uni-directional", "averaging"): 85.9,
    ("uni-directional, multi-task", "averaging"): 86.2,
    ("uni-directional, multi-task", "SVM"): 87.0,
}
# Table 4: mean accuracy over three splits.
PAPER_4 = {
    "Spatial stream ConvNet": {"ucf101": 73.0, "hmdb51": 40.5},
    "Temporal stream ConvNet": {"ucf101": 83.7, "hmdb51": 54.6},
    "Two-stream model (fusion by averaging)": {"ucf101": 86.9, "hmdb51": 58.0},
    "Two-stream model (fusion by SVM)": {"ucf101": 88.0, "hmdb51": 59.4},
}
TABLE4_KEYS = {"spatial": "Spatial stream ConvNet", "temporal": "Temporal stream ConvNet",
               "fusion_average": "Two-stream model (fusion by averaging)",
               "fusion_svm": "Two-stream model (fusion by SVM)"}


@dataclass
class CellResult:
    """One trained network: its spec record, weights source and test accuracy per split, on
    dataset part ``part`` (Table 1: ucf101; Table 2: hmdb51, and the multi-task net on both)."""
    stream: str
    name: str
    spec: dict[str, Any]
    weights: str | None
    accuracy: dict[int, float]
    part: str = "ucf101"
    trained_with: dict[str, Any] = field(default_factory=dict)


@dataclass
class FusionResult:
    """One Table 3 row: the fused spatial cell with temporal net ``temporal``, fused by ``method``."""
    temporal: str
    label: str         # bi-directional | uni-directional | uni-directional, multi-task
    method: str        # averaging | SVM
    accuracy: dict[int, float]


@dataclass
class RunResults:
    """Test accuracies (fractions) per part, model and split, and what produced them.

    ``accuracy[part]`` holds the part's fused pair (``spatial``, ``temporal``) and both fusions
    (Table 4); ``cells`` every Table 1 and Table 2 network; ``fusions`` Table 3's rows.
    """
    datasets: dict[str, str]                                  # part -> dataset name
    accuracy: dict[str, dict[str, dict[int, float]]]          # part -> model -> split -> accuracy
    provenance: dict[str, Any] = field(default_factory=dict)
    cells: list[CellResult] = field(default_factory=list)
    fusions: list[FusionResult] = field(default_factory=list)
    subset: dict[str, bool] = field(default_factory=dict)     # part -> a subset of the clips


def _pct(x: float | None) -> float | None:
    return None if x is None or np.isnan(x) else round(100.0 * float(x), 2)


def _mean(per_split: dict[int, float]) -> float | None:
    values = [v for v in per_split.values() if not np.isnan(v)]
    return _pct(float(np.mean(values))) if values else None


def _cell(ours: float | None, paper: float | None, **extra: Any) -> dict[str, Any]:
    diff = None if ours is None or paper is None else round(ours - paper, 2)
    return {"ours": ours, "paper": paper, "diff": diff, **extra}


def _first_split(results: RunResults) -> int:
    """The paper's Tables 1-3 are split 1; use the lowest split run when split 1 was not."""
    splits = {s for c in results.cells for s in c.accuracy} | {
        s for models in results.accuracy.values() for per_split in models.values() for s in per_split}
    return min(splits, default=1)


def _ours(result: CellResult | None, split: int) -> dict[str, Any]:
    if result is None:
        return {}
    return {"ours": _pct(result.accuracy.get(split)), "cell": result.name,
            "backbone": result.spec.get("arch"), "weights": result.weights}


def _paper(results: RunResults, part: str, figure: float | None) -> float | None:
    """The paper's figure where the part is its dataset or a generated stand-in (the note says
    when a figure is for layout only); none for another dataset."""
    dataset = results.datasets.get(part, part)
    return figure if dataset == part or dataset.startswith("synthetic") else None


def table_1a(results: RunResults) -> dict[str, Any]:
    split = _first_split(results)
    cells = {spatial_setting(c.name): c for c in results.cells
             if c.stream == "spatial" and c.part == "ucf101"}
    columns = sorted({0.5, 0.9} | {d for _, d in cells})
    rows = []
    for setting, row_spec in SPATIAL_SETTINGS.items():
        name = row_spec.label
        row = {}
        for d in columns:
            found = _ours(cells.get((setting, d)), split)
            row[f"dropout {d:g}"] = _cell(found.pop("ours", None),
                                          _paper(results, "ucf101", PAPER_1A[setting].get(d)), **found)
        rows.append({"setting": name, "cells": row})
    return {"caption": f"Table 1a: spatial ConvNet, {_part_name(results, 'ucf101')}, split {split}, "
                       f"accuracy (%)",
            "columns": [f"dropout {d:g}" for d in columns], "rows": rows}


def temporal_row(spec: dict[str, Any]) -> str:
    length = int(spec.get("stack_length", 10))
    stacking = spec.get("stacking", "flow")
    if stacking == "trajectory":
        return f"Trajectory stacking (L={length})"
    if stacking == "bidirectional":
        return f"Optical flow stacking, bi-directional (L={length})"
    if length == 1:
        return "Single-frame optical flow (L=1)"
    return f"Optical flow stacking (L={length})"


def table_1b(results: RunResults) -> dict[str, Any]:
    split = _first_split(results)
    cells = {(temporal_row(c.spec), bool(c.spec.get("mean_subtraction"))): c
             for c in results.cells if c.stream == "temporal" and c.part == "ucf101"
             and c.name not in TABLE2_ROWS}
    rows_paper = dict(PAPER_1B)
    for row, _ in cells:  # inputs the paper did not try still get a row
        rows_paper.setdefault(row, {False: None, True: None})
    rows = []
    for name, paper in rows_paper.items():
        row = {}
        for mean_sub, column in ((False, "mean subtraction off"), (True, "mean subtraction on")):
            found = _ours(cells.get((name, mean_sub)), split)
            row[column] = _cell(found.pop("ours", None), _paper(results, "ucf101", paper.get(mean_sub)),
                                **found)
        rows.append({"input": name, "cells": row})
    return {"caption": f"Table 1b: temporal ConvNet, {_part_name(results, 'ucf101')}, split {split}, "
                       f"accuracy (%)",
            "columns": ["mean subtraction off", "mean subtraction on"], "rows": rows}


def table_2(results: RunResults) -> dict[str, Any]:
    split = _first_split(results)
    cells = {(c.part, c.name): c for c in results.cells if c.stream == "temporal"}
    rows = []
    for key, table2_row in TABLE2_ROWS.items():
        label, paper = table2_row.label, PAPER_2.get(key)
        result = cells.get(("hmdb51", key))
        found = _ours(result, split)
        if table2_row.extra_classes and result is not None:
            added = result.trained_with.get("added_classes", [])
            label = f"{label} ({len(added)}; paper: 78)"
            found["added_classes"] = added
        rows.append({"setting": label, "row": key,
                     **_cell(found.pop("ours", None), _paper(results, "hmdb51", paper), **found)})
    multitask = _ours(cells.get(("ucf101", MULTITASK)), split)
    return {"caption": f"Table 2: temporal ConvNet, {_part_name(results, 'hmdb51')}, split {split}, "
                       f"accuracy (%)",
            "rows": rows,
            "multitask_on_ucf101": _cell(multitask.pop("ours", None),
                                         _paper(results, "ucf101", PAPER_2_MULTITASK_UCF), **multitask)}


def table_3(results: RunResults) -> dict[str, Any]:
    split = _first_split(results)
    rows = [{"temporal": f.label, "fusion": f.method, "cell": f.temporal,
             **_cell(_pct(f.accuracy.get(split)), _paper(results, "ucf101", PAPER_3.get((f.label, f.method))))}
            for f in results.fusions]
    return {"caption": f"Table 3: two-stream fusion, {_part_name(results, 'ucf101')}, split {split}, "
                       f"accuracy (%)", "rows": rows}


def table_4(results: RunResults) -> dict[str, Any]:
    rows = []
    for key, name in TABLE4_KEYS.items():
        cells = {}
        for part in PARTS:
            per_split = results.accuracy.get(part, {}).get(key, {})
            cells[part] = {**_cell(_mean(per_split), _paper(results, part, PAPER_4[name][part])),
                           "splits": {f"split{s}": _pct(v) for s, v in sorted(per_split.items())}}
        rows.append({"method": name, "cells": cells})
    return {"caption": "Table 4: mean accuracy over the splits run (%)",
            "columns": {part: _part_name(results, part) for part in PARTS}, "rows": rows}


def _part_name(results: RunResults, part: str) -> str:
    dataset = results.datasets.get(part, part)
    return PART_TITLES[part] if dataset == part else f"{dataset} (as {PART_TITLES[part]})"


def _note(results: RunResults) -> str | None:
    notes = []
    for part in PARTS:
        dataset = results.datasets.get(part)
        if dataset is None:
            continue
        if results.subset.get(part):
            notes.append(f"the {part} part is a subset of {dataset}'s clips (subset: true, for "
                         f"debugging): not comparable with the paper's figures")
        elif dataset.startswith("synthetic"):
            notes.append(f"the {part} part is the generated '{dataset}' dataset: the paper's "
                         f"{PART_TITLES[part]} figures are shown for layout only")
        elif dataset != part:
            notes.append(f"the {part} part is played by {dataset}: the paper's figures are left out")
    return "; ".join(notes) or None


def _iterations(schedules: dict[str, Any], key: str) -> int | None:
    schedule = schedules.get(key) or {}
    return schedule.get("iterations")


# TSN's training recipe (Wang et al. 2016), each component with the paper's value (presets/tsn.yaml).
TSN_COMPONENTS = ("cross-modality init", "segments", "corner/scale crops", "partial BatchNorm",
                  "weighted fusion")


def recipe_name(spatial: dict[str, Any], temporal: dict[str, Any], temporal_init: str | None,
                weights: list[float] | None) -> str | None:
    """``the paper's``, ``TSN's`` or ``the paper's + <TSN components>``, from what the fused nets
    were trained with (their score files) and the fusion's weights."""
    if not spatial and not temporal:
        return None
    used = {
        "cross-modality init": temporal_init == "cross_modality",
        "segments": any(d.get("segments", 1) > 1 for d in (spatial, temporal)),
        "corner/scale crops": any(d.get("crops") == "corners_scales" for d in (spatial, temporal)),
        "partial BatchNorm": any(d.get("partial_bn") for d in (spatial, temporal)),
        "weighted fusion": weights is not None and len(set(weights)) > 1,
    }
    chosen = [name for name in TSN_COMPONENTS if used[name]]
    if not chosen:
        return "the paper's"
    if len(chosen) == len(TSN_COMPONENTS):
        return "TSN's"
    return "the paper's + " + ", ".join(chosen)


def svm_source(svm_scores: dict[str, Any] | None) -> str | None:
    """What the fusion SVM was fitted on, in words (the paper does not say)."""
    if svm_scores is None:
        return None
    folds = svm_scores.get("folds")
    return {"trainset": "the fused nets' scores on their own training videos",
            "out_of_fold": f"out-of-fold scores of {folds} cross-fitted nets per stream",
            "held_out": f"one fold net's scores on its held-out fold (1/{folds} of the videos)",
            }.get(svm_scores["mode"], svm_scores["mode"])


def settings_vs_paper(provenance: dict[str, Any], part: str = "ucf101") -> list[dict[str, Any]]:
    """What the fused pair of ``part`` ran with beside the paper's setting: frame size and
    length, crops, network width, iterations, flow and the test protocol, read from the score
    files (what ran, not what params.yaml says now)."""
    streams = provenance.get("streams", {}).get(part, {})
    spatial, temporal = streams.get("spatial", {}), streams.get("temporal", {})
    recipe = spatial.get("data", {}).get("recipe", {})
    flow = temporal.get("data", {})
    schedules = provenance.get("schedules", {})
    protocol = provenance.get("test_protocol", {})
    max_frames = recipe.get("max_frames", 0)
    epsilon = (flow.get("settings") or {}).get("epsilon")
    rows = [
        ("frames.short_side", "frame short side (px)", recipe.get("short_side"), 256),
        ("frames.max_frames", "frames per clip", max_frames or "all", "all"),
        ("spatial.input_size", "spatial crop (px)", spatial.get("input_size"), 224),
        ("temporal.input_size", "temporal crop (px)", temporal.get("input_size"), 224),
        ("temporal.width", "temporal CNN-M width", temporal.get("width"), 1.0),
        ("temporal.schedule_scale", "temporal iterations (from scratch)",
         _iterations(schedules, f"{part}/temporal/{temporal.get('cell')}"), 80000),
        ("spatial.schedule_scale", "spatial iterations (pre-trained)",
         _iterations(schedules, f"{part}/spatial/{spatial.get('cell')}"), 20000),
        ("flow.backend", "optical flow",
         f"{flow.get('backend')}" + (f", epsilon {epsilon}" if epsilon is not None else ""),
         "Brox (OpenCV, GPU)"),
        ("flow.bound", "flow bound (px)", flow.get("bound"), 20.0),
        ("evaluate", "test frames x crops",
         f"{protocol.get('frames')} x {protocol.get('crops')}" if protocol else None, "25 x 10"),
    ]
    s_train, t_train = spatial.get("training") or {}, temporal.get("training") or {}
    weights = (provenance.get("fusion_weights") or {}).get(part)
    svm_scores = (provenance.get("svm_scores") or {}).get(part)
    both = lambda key: (f"{s_train.get(key)} / {t_train.get(key)}"  # noqa: E731
                        if s_train or t_train else None)
    rows += [
        ("presets/tsn.yaml", "training recipe", recipe_name(s_train, t_train, temporal.get("init"), weights),
         "the paper's"),
        ("temporal.init", "temporal net starts from", temporal.get("init"), "scratch"),
        ("spatial/temporal.segments", "snippets per training video (spatial / temporal)",
         both("segments"), "1 / 1"),
        ("spatial/temporal.crops", "training crops (spatial / temporal)", both("crops"),
         "random / random"),
        ("spatial/temporal.partial_bn", "partial BatchNorm (spatial / temporal)", both("partial_bn"),
         "False / False"),
        ("fusion.weights", "averaging weights (spatial : temporal)",
         None if weights is None else " : ".join(f"{w:g}" for w in weights), "1 : 1"),
        ("fusion.svm_scores", "the SVM learns from", svm_source(svm_scores), "not given"),
    ]
    return [{"param": key, "setting": name, "ours": ours, "paper": paper}
            for key, name, ours, paper in rows]


def build_tables(results: RunResults) -> dict[str, Any]:
    return {"datasets": results.datasets, "note": _note(results), "provenance": results.provenance,
            "settings": {part: settings_vs_paper(results.provenance, part) for part in PARTS},
            "table1a": table_1a(results), "table1b": table_1b(results), "table2": table_2(results),
            "table3": table_3(results), "table4": table_4(results)}


def summary(results: RunResults) -> dict[str, Any]:
    """Flat figures for ``dvc metrics diff``: every table cell (the mean over the splits run),
    then each split's Table 4 figures."""
    out: dict[str, Any] = {}
    for cell in results.cells:
        if cell.part == "ucf101" and cell.name not in TABLE2_ROWS:
            table = "table1a" if cell.stream == "spatial" else "table1b"
            out.setdefault(table, {})[cell.name] = _mean(cell.accuracy)
        elif cell.stream == "temporal" and cell.name in TABLE2_ROWS:
            key = cell.name if cell.part == "hmdb51" else f"{cell.name}_on_ucf101"
            out.setdefault("table2", {})[key] = _mean(cell.accuracy)
    for fusion in results.fusions:
        out.setdefault("table3", {})[f"{fusion.temporal}_{fusion.method.lower()}"] = _mean(fusion.accuracy)
    for part, models in results.accuracy.items():
        for key, per_split in models.items():
            out.setdefault("table4", {}).setdefault(part, {})[key] = _mean(per_split)
            for split, value in per_split.items():
                out.setdefault(f"split{split}", {}).setdefault(part, {})[key] = _pct(value)
    return out


def _fmt(cell: dict[str, Any], backbone: bool = True) -> str:
    ours, paper = cell.get("ours"), cell.get("paper")
    ours_s = "-" if ours is None else f"**{ours:.1f}**"
    paper_s = "-" if paper is None else f"{paper:.1f}"
    arch = f" `{cell['backbone']}`" if backbone and cell.get("backbone") and ours is not None else ""
    return f"{ours_s} ({paper_s}){arch}"


def to_markdown(tables: dict[str, Any]) -> str:
    """The tables as Markdown: each cell 'ours (paper)'."""
    parts = ", ".join(f"{part}: {name}" for part, name in tables["datasets"].items())
    lines = [f"# twostream results ({parts})", ""]
    if tables.get("note"):
        lines += [f"_{tables['note']}._", ""]
    lines += ["Each cell: **ours** (paper) `backbone`. '-' = not run / not in the paper. "
              "Where each cell's weights came from is under Provenance.", ""]
    for key, first in (("table1a", "setting"), ("table1b", "input")):
        table = tables[key]
        lines += [f"## {table['caption']}", "", f"| {first} | " + " | ".join(table["columns"]) + " |",
                  "|---" * (len(table["columns"]) + 1) + "|"]
        for row in table["rows"]:
            lines.append(f"| {row[first]} | " + " | ".join(_fmt(row["cells"][c]) for c in table["columns"]) + " |")
        lines.append("")
    t2 = tables["table2"]
    lines += [f"## {t2['caption']}", "", "| training setting | accuracy |", "|---|---|"]
    lines += [f"| {row['setting']} | {_fmt(row)} |" for row in t2["rows"]]
    lines += ["", f"Multi-task net on the ucf101 part: {_fmt(t2['multitask_on_ucf101'])}."]
    extra = next((r for r in t2["rows"] if r.get("added_classes")), None)
    if extra:
        lines += [f"Classes added: {', '.join(extra['added_classes'])}."]
    t3 = tables["table3"]
    lines += ["", f"## {t3['caption']}", "", "| temporal ConvNet | fusion method | accuracy |",
              "|---|---|---|"]
    lines += [f"| {row['temporal']} (`{row['cell']}`) | {row['fusion']} | {_fmt(row, False)} |"
              for row in t3["rows"]]
    t4 = tables["table4"]
    splits = sorted({s for row in t4["rows"] for c in row["cells"].values() for s in c["splits"]})
    header = "| method | " + " | ".join(
        f"{t4['columns'][p]}: ours (paper) | " + " | ".join(splits) for p in PARTS) + " |"
    lines += ["", f"## {t4['caption']}", "", header,
              "|---" * (1 + len(PARTS) * (1 + len(splits))) + "|"]
    for row in t4["rows"]:
        cells = []
        for part in PARTS:
            cell = row["cells"][part]
            cells.append(_fmt(cell, False))
            cells += ["-" if cell["splits"].get(s) is None else f"{cell['splits'][s]:.1f}" for s in splits]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    weights = [f"{row[first]} / {column}: {cell['cell']} = {cell['backbone']}, weights: {cell['weights']}"
               for key, first in (("table1a", "setting"), ("table1b", "input"))
               for row in tables[key]["rows"] for column, cell in row["cells"].items() if cell.get("cell")]
    weights += [f"Table 2 / {row['row']}: {row['backbone']}, weights: {row['weights']}"
                for row in t2["rows"] if row.get("cell")]
    settings = tables.get("settings", {})
    if settings:
        lines += ["", "## Settings: ours (the paper's)", "",
                  "| setting | param | " + " | ".join(settings) + " | paper |",
                  "|---|---|" + "---|" * len(settings) + "---|"]
        first = next(iter(settings.values()))
        for i, row in enumerate(first):
            ours = [("-" if rows[i]["ours"] is None else str(rows[i]["ours"])) for rows in settings.values()]
            lines.append(f"| {row['setting']} | `{row['param']}` | " + " | ".join(ours)
                         + f" | {row['paper']} |")
    lines += ["", "## Provenance", "", "```", *_provenance_lines(tables["provenance"]),
              "cells:", *(f"  {w}" for w in weights), "```", ""]
    return "\n".join(lines)


def _provenance_lines(provenance: dict[str, Any], indent: str = "") -> list[str]:
    lines = []
    for key, value in provenance.items():
        if isinstance(value, dict):
            lines += [f"{indent}{key}:", *_provenance_lines(value, indent + "  ")]
        else:
            lines.append(f"{indent}{key}: {value}")
    return lines


def predictions(scores: np.ndarray) -> np.ndarray:
    """Argmax per video; -1 for an unscorable video (a NaN row), which no class matches."""
    out = np.full(len(scores), -1)
    valid = ~np.isnan(scores).any(axis=1)
    out[valid] = scores[valid].argmax(axis=1)
    return out


def confusion_rows(labels: np.ndarray, scores: np.ndarray, classes: list[str]) -> list[dict[str, str]]:
    """One (actual, predicted) row per test video, for DVC's confusion-matrix plot."""
    names = list(classes) + ["(unscorable)"]
    return [{"actual": names[a], "predicted": names[p]}
            for a, p in zip(labels, predictions(scores))]


def per_class_accuracy(labels: np.ndarray, models: dict[str, np.ndarray],
                       classes: list[str]) -> list[dict[str, Any]]:
    """Per class: each model's accuracy (%) and what the temporal stream adds over the spatial.

    Rows are sorted by that gain, so the classes motion helps most come first.
    """
    hits = {name: predictions(scores) == labels for name, scores in models.items()}
    rows = []
    for index, name in enumerate(classes):
        members = labels == index
        if not members.any():
            continue
        row: dict[str, Any] = {"class": name, "videos": int(members.sum())}
        for model, hit in hits.items():
            row[model] = round(100.0 * float(hit[members].mean()), 2)
        if "spatial" in row and "temporal" in row:
            row["temporal_gain"] = round(row["temporal"] - row["spatial"], 2)
        rows.append(row)
    return sorted(rows, key=lambda r: -r.get("temporal_gain", 0.0))
