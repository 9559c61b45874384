"""The score files of a run -> :class:`RunResults`: which nets the params define, their test
accuracies, each part's fused pair checked against the params, Table 3's averaging fusions and
the provenance the report prints (what ran, read from the score files, not from params.yaml).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from twostream.cells import (MULTITASK, TABLE2_ROWS, fused_spatial_cell, spatial_cells,
                             temporal_cells)
from twostream.config import ROLES, Params, TemporalInput
from twostream.errors import UserError
from twostream.evaluation.fusion import average_fusion
from twostream.evaluation.scores import ScoreFile, load_scores, split_files
from twostream.evaluation.scores import accuracy
from twostream.report.tables import (CellResult, FusionResult, RunResults, confusion_rows,
                                     per_class_accuracy)
from twostream.runtime import package_versions

FUSIONS = ("average", "svm")


class ReportError(UserError):
    """The score files do not match the params (stale or missing): rerun `dvc repro`."""


def read_scores(folder: Path) -> dict[int, ScoreFile]:
    """A net's score files by split ({} when the folder holds none)."""
    return {split: load_scores(path) for split, path in split_files(folder).items()}


def accuracy_per_split(scores: dict[int, ScoreFile]) -> dict[int, float]:
    """Each split's test accuracy (a video with no scores counts as wrong)."""
    return {split: accuracy(f.side("test")[2], f.side("test")[1]) for split, f in scores.items()}


def unscorable(scores: dict[int, ScoreFile]) -> dict[str, int]:
    """Per split, the test videos that could not be scored (rows of NaN), where there are any."""
    counts = {f"split{s}": int(np.isnan(f.side("test")[2]).any(axis=1).sum()) for s, f in scores.items()}
    return {k: v for k, v in counts.items() if v}


def table3_label(name: str, table1b: Mapping[str, TemporalInput]) -> str:
    if name == MULTITASK:
        return "uni-directional, multi-task"
    stacking = table1b[name].stacking
    return "bi-directional" if stacking == "bidirectional" else "uni-directional"


def table3_nets(table1b: Mapping[str, TemporalInput], table2_input: str) -> list[str]:
    """Table 3's temporal nets, fused with the ucf101 spatial cell by averaging: every
    bi-directional table1b cell, table2.input (uni-directional) and the multi-task net."""
    bidirectional = [n for n, c in table1b.items() if c.stacking == "bidirectional"]
    return [*bidirectional, table2_input, MULTITASK]


def fused_pairs(params: Params) -> dict[str, dict[str, str]]:
    """Each part's fused (spatial, temporal) nets, as the params define them."""
    temporal = {"ucf101": params.fusion.temporal, "hmdb51": params.fusion.hmdb_temporal}
    return {part: {"spatial": fused_spatial_cell(params), "temporal": temporal[part]} for part in ROLES}


def plot_folders(scores_dir: Path, params: Params) -> dict[str, dict[str, Path]]:
    """Per part, the score folders of the fused streams and both fusions (what the plots show)."""
    out = {}
    for part, pair in fused_pairs(params).items():
        out[part] = {stream: scores_dir / part / stream / name for stream, name in pair.items()}
        out[part] |= {f"fusion_{m}": scores_dir / part / "fused" / m for m in FUSIONS}
    return out


def write_plots(folders: dict[str, Path], plots_dir: Path) -> None:
    """Confusion matrices of a part's fused streams and both fusions, and per-class accuracy, on
    the lowest split run (split 1 normally), as CSV for `dvc plots show`."""
    split = min(split_files(folders["fusion_svm"]))
    models, labels, classes = {}, None, None
    for name, folder in folders.items():
        scores = load_scores(folder / f"split{split}.npz")
        _, labels, models[name] = scores.side("test")
        classes = scores.meta["classes"]
    (plots_dir / "confusion").mkdir(parents=True, exist_ok=True)
    for name, scores in models.items():
        pd.DataFrame(confusion_rows(labels, scores, classes)).to_csv(
            plots_dir / "confusion" / f"{name}.csv", index=False)
    pd.DataFrame(per_class_accuracy(labels, models, classes)).to_csv(plots_dir / "per_class.csv",
                                                                     index=False)


@dataclass
class _Found:
    """The score files read so far, keyed (part, stream, net)."""
    scores: dict[tuple[str, str, str], dict[int, ScoreFile]]
    cells: list[CellResult]


def _read_cells(scores_dir: Path, params: Params, log: logging.Logger) -> _Found:
    fused_spatial = fused_spatial_cell(params)
    wanted = [("ucf101", "spatial", n) for n in spatial_cells(params)]
    wanted += [("ucf101", "temporal", n) for n in temporal_cells(params)]
    wanted += [(part, "temporal", n) for n, row in TABLE2_ROWS.items() for part in row.outputs]
    wanted += [("hmdb51", "spatial", fused_spatial)]
    found = _Found({}, [])
    for part, stream, name in wanted:
        files = read_scores(scores_dir / part / stream / name)
        if not files:
            log.warning("%s %s net %s: no scores in %s; its table cell stays empty", part, stream,
                        name, scores_dir / part / stream / name)
            continue
        meta = next(iter(files.values())).meta
        found.scores[(part, stream, name)] = files
        if (part, stream) != ("hmdb51", "spatial"):
            found.cells.append(CellResult(stream, name, meta["spec"], meta.get("weights"),
                                          accuracy_per_split(files), part, meta.get("trained_with", {})))
    return found


def table3_fusions(found: _Found, params: Params, svm_accuracy: dict[int, float]) -> list[FusionResult]:
    """Table 3: the ucf101 spatial cell averaged with each of Table 3's temporal nets that ran,
    then the SVM fusion of the fused pair. Fails if a net scored other test videos."""
    fusions = []
    spatial = found.scores[("ucf101", "spatial", fused_spatial_cell(params))]
    for name in table3_nets(params.table1b, params.table2.input):
        temporal = found.scores.get(("ucf101", "temporal", name))
        if temporal is None:
            continue
        per_split = {}
        for split in sorted(set(spatial) & set(temporal)):
            spatial_ids, labels, a = spatial[split].side("test")
            ids, _, b = temporal[split].side("test")
            if not np.array_equal(ids, spatial_ids):
                raise ReportError(f"split {split}: {name} scored other test videos than the spatial "
                                  f"stream; rerun `dvc repro`")
            per_split[split] = accuracy(average_fusion(a, b, weights=params.fusion.weights), labels)
        fusions.append(FusionResult(name, table3_label(name, params.table1b), "averaging", per_split))
    temporal = params.fusion.temporal
    fusions.append(FusionResult(temporal, table3_label(temporal, params.table1b), "SVM", svm_accuracy))
    return fusions


def collect_results(scores_dir: Path, params: Params, log: logging.Logger) -> RunResults:
    """Everything the report shows, from ``scores_dir`` (metrics/scores: <part>/<stream>/<net>/).

    A net the params define but that has no scores leaves its cell empty (with a warning); a
    part's fused pair or fusions missing, or made from other nets than the params', fail.
    """
    found = _read_cells(scores_dir, params, log)
    pairs = fused_pairs(params)
    accuracies, provenance = {}, {"fused": {}, "fusion_svm": {}, "test_videos": {}}
    for part, pair in pairs.items():
        keys = {stream: (part, stream, name) for stream, name in pair.items()}
        fused = {f"fusion_{m}": read_scores(scores_dir / part / "fused" / m) for m in FUSIONS}
        missing = [k for k in keys.values() if k not in found.scores] + [k for k, v in fused.items() if not v]
        if missing:
            raise ReportError(f"{scores_dir}/{part}: no scores of {missing}; rerun `dvc repro`")
        made_from = next(iter(fused["fusion_svm"].values())).meta.get("cells", {})
        if made_from != pair:
            raise ReportError(f"{scores_dir}/{part}/fused: made from {made_from}, not the "
                              f"params' pair {pair}; rerun `dvc repro`")
        models = {stream: found.scores[key] for stream, key in keys.items()} | fused
        accuracies[part] = {name: accuracy_per_split(files) for name, files in models.items()}
        provenance["fused"][part] = made_from
        provenance["fusion_svm"][part] = {s: f.meta.get("svm") for s, f in fused["fusion_svm"].items()}
        provenance["test_videos"][part] = {f"split{s}": len(f.labels) for s, f in fused["fusion_svm"].items()}
        bad = {name: counts for name, files in models.items() if (counts := unscorable(files))}
        if bad:  # videos that could not be decoded or scored: kept in the denominator as wrong
            provenance.setdefault("unscorable_test_videos_counted_wrong", {})[part] = bad
        for stream, key in keys.items():
            meta = next(iter(found.scores[key].values())).meta
            provenance.setdefault("streams", {}).setdefault(part, {})[stream] = {
                **meta["spec"], "cell": meta.get("cell"), "weights": meta.get("weights"),
                "data": meta["data"], "device": meta["device"], "amp": meta.get("amp"),
                "training": meta.get("training", {})}
        fusion_recipe = next(iter(fused["fusion_average"].values())).meta.get("fusion", {})
        provenance.setdefault("fusion_weights", {})[part] = fusion_recipe.get("weights")
        provenance.setdefault("svm_scores", {})[part] = (
            None if "svm_scores" not in fusion_recipe else
            {"mode": fusion_recipe["svm_scores"], "folds": fusion_recipe.get("cross_fits")})
    fusions = table3_fusions(found, params, accuracies["ucf101"]["fusion_svm"])
    provenance["schedules"] = {f"{part}/{stream}/{name}": files[min(files)].meta.get("schedule")
                               for (part, stream, name), files in found.scores.items()}
    spatial = found.scores[("ucf101", "spatial", pairs["ucf101"]["spatial"])]
    provenance["test_protocol"] = next(iter(spatial.values())).meta["protocol"]
    provenance["versions"] = package_versions()
    datasets = {part: params.datasets.source(part) for part in ROLES}
    subset = {part: bool(getattr(getattr(params, d), "subset", False)) for part, d in datasets.items()}
    return RunResults(datasets, accuracies, provenance, found.cells, fusions, subset)
