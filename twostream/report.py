"""Tables laid out like the paper's, with the paper's figure beside each of ours.

Accuracies are percentages. Every Table 1 cell names its network (``backbone``) and where its
weights came from. The paper's figures are UCF-101 (Table 1) and UCF-101 / HMDB-51
(Table 4); for the embedded dataset they are shown for orientation only and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Table 1a: spatial ConvNet, UCF-101 split 1, by training setting and dropout ratio.
PAPER_1A = {
    "From scratch": {0.5: 42.5, 0.9: 52.3},
    "Pre-trained + fine-tuning": {0.5: 70.8, 0.9: 72.8},
    "Pre-trained + last layer": {0.5: 72.7, 0.9: 59.9},
}
# Table 1b: temporal ConvNet, UCF-101 split 1, by input and mean subtraction (off, on).
PAPER_1B = {
    "Single-frame optical flow (L=1)": {False: None, True: 73.9},
    "Optical flow stacking (L=5)": {False: None, True: 80.4},
    "Optical flow stacking (L=10)": {False: 79.9, True: 81.0},
    "Trajectory stacking (L=10)": {False: 79.6, True: 80.2},
    "Optical flow stacking, bi-directional (L=10)": {False: None, True: 81.2},
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


SETTING_ROWS = {"scratch": "From scratch", "finetune": "Pre-trained + fine-tuning",
                "last_layer": "Pre-trained + last layer"}


@dataclass
class CellResult:
    """One trained network of Table 1: its spec record, weights source and accuracy per split."""
    stream: str
    name: str
    spec: dict[str, Any]
    weights: str | None
    accuracy: dict[int, float]


@dataclass
class RunResults:
    """Test accuracies (fractions) per model and split, and what produced them.

    ``accuracy`` holds the fused pair (``spatial``, ``temporal``) and the two fusions;
    ``cells`` every Table 1 network.
    """
    dataset: str
    accuracy: dict[str, dict[int, float]]          # model key -> split -> accuracy
    provenance: dict[str, Any] = field(default_factory=dict)
    cells: list[CellResult] = field(default_factory=list)


def _pct(x: float | None) -> float | None:
    return None if x is None or np.isnan(x) else round(100.0 * float(x), 2)


def _cell(ours: float | None, paper: float | None, **extra: Any) -> dict[str, Any]:
    diff = None if ours is None or paper is None else round(ours - paper, 2)
    return {"ours": ours, "paper": paper, "diff": diff, **extra}


def _table1_split(results: RunResults) -> int:
    """The paper's Table 1 is split 1; use the lowest split run when split 1 was not."""
    splits = {s for c in results.cells for s in c.accuracy} | {
        s for per_split in results.accuracy.values() for s in per_split}
    return min(splits, default=1)


def _table1_comparable(results: RunResults) -> bool:
    """Table 1 is UCF-101 only: an HMDB-51 run is shown without the paper's figures."""
    return results.dataset != "hmdb51"


def _ours(result: CellResult | None, split: int) -> dict[str, Any]:
    if result is None:
        return {}
    return {"ours": _pct(result.accuracy.get(split)), "cell": result.name,
            "backbone": result.spec.get("arch"), "weights": result.weights}


def table_1a(results: RunResults) -> dict[str, Any]:
    split = _table1_split(results)
    cells = {(c.spec.get("init"), c.spec.get("trainable"), float(c.spec["dropout"])): c
             for c in results.cells if c.stream == "spatial"}
    columns = sorted({0.5, 0.9} | {d for _, _, d in cells})
    rows = []
    for setting, name in SETTING_ROWS.items():
        key = ("scratch", "all") if setting == "scratch" else (
            "imagenet", "last" if setting == "last_layer" else "all")
        row = {}
        for d in columns:
            paper = PAPER_1A[name].get(d) if _table1_comparable(results) else None
            found = _ours(cells.get((*key, d)), split)
            row[f"dropout {d:g}"] = _cell(found.pop("ours", None), paper, **found)
        rows.append({"setting": name, "cells": row})
    return {"caption": f"Table 1a: spatial ConvNet, split {split}, accuracy (%)",
            "columns": [f"dropout {d:g}" for d in columns], "rows": rows}


def _temporal_row(spec: dict[str, Any]) -> str:
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
    split = _table1_split(results)
    cells = {(_temporal_row(c.spec), bool(c.spec.get("mean_subtraction"))): c
             for c in results.cells if c.stream == "temporal"}
    rows_paper = dict(PAPER_1B)
    for row, _ in cells:  # inputs the paper did not try still get a row
        rows_paper.setdefault(row, {False: None, True: None})
    rows = []
    for name, paper in rows_paper.items():
        row = {}
        for mean_sub, column in ((False, "mean subtraction off"), (True, "mean subtraction on")):
            found = _ours(cells.get((name, mean_sub)), split)
            row[column] = _cell(found.pop("ours", None),
                                paper.get(mean_sub) if _table1_comparable(results) else None, **found)
        rows.append({"input": name, "cells": row})
    return {"caption": f"Table 1b: temporal ConvNet, split {split}, accuracy (%)",
            "columns": ["mean subtraction off", "mean subtraction on"], "rows": rows}


def table_4(results: RunResults) -> dict[str, Any]:
    paper_column = results.dataset if results.dataset in ("ucf101", "hmdb51") else "ucf101"
    rows = []
    for key, name in TABLE4_KEYS.items():
        per_split = results.accuracy.get(key, {})
        values = [v for v in per_split.values() if not np.isnan(v)]
        mean = _pct(float(np.mean(values))) if values else None
        rows.append({"method": name, **_cell(mean, PAPER_4[name][paper_column]),
                     "splits": {f"split{s}": _pct(v) for s, v in sorted(per_split.items())}})
    return {"caption": "Table 4: mean accuracy over the splits run (%)",
            "paper_column": paper_column, "rows": rows}


def build_tables(results: RunResults) -> dict[str, Any]:
    note = None
    if results.dataset not in ("ucf101", "hmdb51"):
        note = (f"ours: the embedded '{results.dataset}' dataset; 'paper' is the paper's UCF-101 "
                f"figure, shown for layout only")
    elif results.provenance.get("subset"):
        note = (f"ours: a subset of {results.dataset}'s clips (subset: true, for debugging); not "
                f"comparable with the paper's figures")
    return {"dataset": results.dataset, "note": note, "provenance": results.provenance,
            "table1a": table_1a(results), "table1b": table_1b(results),
            "table4": table_4(results)}


def summary(results: RunResults) -> dict[str, Any]:
    """Flat figures for ``dvc metrics diff``: the mean over splits, then each split."""
    out: dict[str, Any] = {"accuracy": {}}
    for cell in results.cells:  # every Table 1 network, e.g. table1a.last_layer-0.5
        values = [v for v in cell.accuracy.values() if not np.isnan(v)]
        table = "table1a" if cell.stream == "spatial" else "table1b"
        out.setdefault(table, {})[cell.name] = _pct(float(np.mean(values))) if values else None
    for key, per_split in results.accuracy.items():
        values = [v for v in per_split.values() if not np.isnan(v)]
        out["accuracy"][key] = _pct(float(np.mean(values))) if values else None
        for split, value in per_split.items():
            out.setdefault(f"split{split}", {})[key] = _pct(value)
    return out


def _fmt(cell: dict[str, Any]) -> str:
    ours, paper = cell.get("ours"), cell.get("paper")
    ours_s = "-" if ours is None else f"**{ours:.1f}**"
    paper_s = "-" if paper is None else f"{paper:.1f}"
    backbone = f" `{cell['backbone']}`" if cell.get("backbone") and ours is not None else ""
    return f"{ours_s} ({paper_s}){backbone}"


def to_markdown(tables: dict[str, Any]) -> str:
    """The tables as Markdown: each cell 'ours (paper)'."""
    lines = [f"# twostream results: {tables['dataset']}", ""]
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
    t4 = tables["table4"]
    splits = sorted({s for row in t4["rows"] for s in row["splits"]})
    lines += [f"## {t4['caption']}", "",
              f"| method | ours (paper {t4['paper_column']}) | " + " | ".join(splits) + " |",
              "|---" * (len(splits) + 2) + "|"]
    for row in t4["rows"]:
        per = " | ".join("-" if row["splits"].get(s) is None else f"{row['splits'][s]:.1f}" for s in splits)
        lines.append(f"| {row['method']} | {_fmt(row)} | {per} |")
    weights = [f"{row[first]} / {column}: {cell['cell']} = {cell['backbone']}, weights: {cell['weights']}"
               for key, first in (("table1a", "setting"), ("table1b", "input"))
               for row in tables[key]["rows"] for column, cell in row["cells"].items() if cell.get("cell")]
    lines += ["", "## Provenance", "", "```", *_provenance_lines(tables["provenance"]),
              "table 1 cells:", *(f"  {w}" for w in weights), "```", ""]
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
