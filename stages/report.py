"""Stage `report`: the paper's Tables 1-4 with our figures beside, a flat summary, Markdown, plots.

    python stages/report.py metrics/scores metrics/tables.json metrics/summary.json metrics/tables.md \
        metrics/plots

Reads metrics/scores/<part>/: every Table 1 cell (ucf101) and Table 2 net (hmdb51, and the
multi-task net on ucf101) that the current params define, each part's fused pair and fusions
(Table 4), and fuses the ucf101 spatial cell with Table 3's temporal nets by averaging.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from twostream.config import MULTITASK, ROLES, TABLE2_ROWS, Params, load_params
from twostream.errors import run_entry_point
from twostream.evaluate import accuracy
from twostream.fusion import average_fusion
from twostream.report import (CellResult, FusionResult, RunResults, build_tables, confusion_rows,
                              per_class_accuracy, summary, to_markdown)
from twostream.runtime import configure_logging, package_versions
from twostream.scores import ScoreFile, load_scores, split_files
from twostream.streams import fused_spatial_cell, spatial_cells, temporal_cells


def _read(folder: Path) -> dict[int, ScoreFile]:
    return {split: load_scores(path) for split, path in split_files(folder).items()}


def _test_accuracy(scores: dict[int, ScoreFile]) -> dict[int, float]:
    return {split: accuracy(f.side("test")[2], f.side("test")[1]) for split, f in scores.items()}


def _unscorable(scores: dict[int, ScoreFile]) -> dict[str, int]:
    counts = {f"split{s}": int(np.isnan(f.side("test")[2]).any(axis=1).sum()) for s, f in scores.items()}
    return {k: v for k, v in counts.items() if v}


def _table3_label(name: str, params: Params) -> str:
    if name == MULTITASK:
        return "uni-directional, multi-task"
    stacking = params.table1b[name].stacking
    return "bi-directional" if stacking == "bidirectional" else "uni-directional"


def table3_nets(params: Params) -> list[str]:
    """Table 3's temporal nets, fused with the ucf101 spatial cell by averaging: every
    bi-directional table1b cell, table2.input (uni-directional) and the multi-task net."""
    bidirectional = [n for n, c in params.table1b.items() if c.stacking == "bidirectional"]
    return [*bidirectional, params.table2.input, MULTITASK]


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scores_dir", type=Path, help="metrics/scores: <part>/{spatial,temporal,fused}/")
    parser.add_argument("tables_json", type=Path)
    parser.add_argument("summary_json", type=Path)
    parser.add_argument("tables_md", type=Path)
    parser.add_argument("plots_dir", type=Path,
                        help="<part>/confusion/<model>.csv and <part>/per_class.csv (out)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    log = configure_logging("report")
    params = load_params(args.params)
    fused_spatial = fused_spatial_cell(params)
    fused_temporal = {"ucf101": params.fusion.temporal, "hmdb51": params.fusion.hmdb_temporal}
    wanted = [("ucf101", "spatial", n) for n in spatial_cells(params)]
    wanted += [("ucf101", "temporal", n) for n in [*temporal_cells(params), MULTITASK]]
    wanted += [("hmdb51", "temporal", n) for n in TABLE2_ROWS]
    wanted += [("hmdb51", "spatial", fused_spatial)]
    cells, scores = [], {}
    for part, stream, name in wanted:
        found = _read(args.scores_dir / part / stream / name)
        if not found:
            log.warning("%s %s net %s: no scores in %s; its table cell stays empty", part, stream,
                        name, args.scores_dir / part / stream / name)
            continue
        meta = next(iter(found.values())).meta
        scores[(part, stream, name)] = found
        if (part, stream) != ("hmdb51", "spatial"):
            cells.append(CellResult(stream, name, meta["spec"], meta.get("weights"),
                                    _test_accuracy(found), part, meta.get("trained_with", {})))
    accuracies, provenance = {}, {"fused": {}, "fusion_svm": {}, "test_videos": {}}
    for part in ROLES:
        pair = {"spatial": (part, "spatial", fused_spatial),
                "temporal": (part, "temporal", fused_temporal[part])}
        fused = {f"fusion_{m}": _read(args.scores_dir / part / "fused" / m) for m in ("average", "svm")}
        missing = [k for k in pair.values() if k not in scores] + [k for k, v in fused.items() if not v]
        if missing:
            raise SystemExit(f"{args.scores_dir}/{part}: no scores of {missing}; rerun `dvc repro`")
        made_from = next(iter(fused["fusion_svm"].values())).meta.get("cells", {})
        if made_from != {s: k[2] for s, k in pair.items()}:
            raise SystemExit(f"{args.scores_dir}/{part}/fused: made from {made_from}, not the "
                             f"params' pair; rerun `dvc repro`")
        models = {stream: scores[key] for stream, key in pair.items()} | fused
        accuracies[part] = {name: _test_accuracy(files) for name, files in models.items()}
        provenance["fused"][part] = made_from
        provenance["fusion_svm"][part] = {s: f.meta.get("svm") for s, f in fused["fusion_svm"].items()}
        provenance["test_videos"][part] = {f"split{s}": len(f.labels) for s, f in fused["fusion_svm"].items()}
        bad = {name: missing for name, files in models.items() if (missing := _unscorable(files))}
        if bad:  # videos that could not be decoded or scored: kept in the denominator as wrong
            provenance.setdefault("unscorable_test_videos_counted_wrong", {})[part] = bad
        plot_dir = args.plots_dir / part
        write_plots({"spatial": args.scores_dir / part / "spatial" / fused_spatial,
                     "temporal": args.scores_dir / part / "temporal" / fused_temporal[part],
                     "fusion_average": args.scores_dir / part / "fused" / "average",
                     "fusion_svm": args.scores_dir / part / "fused" / "svm"}, plot_dir)
    fusions = []
    spatial_ucf = scores[("ucf101", "spatial", fused_spatial)]
    for name in table3_nets(params):
        temporal = scores.get(("ucf101", "temporal", name))
        if temporal is None:
            continue
        per_split = {}
        for split in sorted(set(spatial_ucf) & set(temporal)):
            _, labels, a = spatial_ucf[split].side("test")
            ids, _, b = temporal[split].side("test")
            if not np.array_equal(ids, spatial_ucf[split].side("test")[0]):
                raise SystemExit(f"split {split}: {name} scored other test videos than the spatial "
                                 f"stream; rerun `dvc repro`")
            per_split[split] = accuracy(average_fusion(a, b), labels)
        fusions.append(FusionResult(name, _table3_label(name, params), "averaging", per_split))
    fusions.append(FusionResult(fused_temporal["ucf101"], _table3_label(fused_temporal["ucf101"], params),
                                "SVM", accuracies["ucf101"]["fusion_svm"]))
    for part in ROLES:
        for stream in ("spatial", "temporal"):
            meta = next(iter(scores[(part, stream, provenance["fused"][part][stream])].values())).meta
            provenance.setdefault("streams", {}).setdefault(part, {})[stream] = {
                **meta["spec"], "cell": meta.get("cell"), "weights": meta.get("weights"),
                "data": meta["data"], "device": meta["device"], "amp": meta.get("amp")}
    provenance["schedules"] = {f"{c.part}/{c.stream}/{c.name}": scores[(c.part, c.stream, c.name)][
        min(c.accuracy)].meta.get("schedule") for c in cells}
    provenance["test_protocol"] = next(iter(spatial_ucf.values())).meta["protocol"]
    provenance["versions"] = package_versions()
    datasets = {part: params.datasets.source(part) for part in ROLES}
    subset = {part: bool(getattr(getattr(params, d), "subset", False)) for part, d in datasets.items()}
    results = RunResults(datasets, accuracies, provenance, cells, fusions, subset)
    tables = build_tables(results)
    args.tables_json.write_text(json.dumps(tables, indent=2) + "\n")
    args.summary_json.write_text(json.dumps(summary(results), indent=2) + "\n")
    markdown = to_markdown(tables)
    args.tables_md.write_text(markdown)
    print(markdown)
    log.info("results: %s (tables), %s (summary for `dvc metrics diff`), %s", args.tables_json,
             args.summary_json, args.tables_md)


if __name__ == "__main__":
    run_entry_point(main)
