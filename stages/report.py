"""Stage `report`: the paper's tables with our figures beside, a flat summary, Markdown.

    python stages/report.py metrics/scores metrics/tables.json metrics/summary.json metrics/tables.md \
        metrics/plots

Reads every Table 1 cell's scores (metrics/scores/<stream>/<cell>/) that the current
table1a / table1b params define, and the fused pair (metrics/scores/fused/).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from twostream.config import load_params
from twostream.evaluate import accuracy
from twostream.report import (CellResult, RunResults, build_tables, confusion_rows,
                              per_class_accuracy, summary, to_markdown)
from twostream.runtime import configure_logging
from twostream.scores import load_scores, split_files
from twostream.streams import spatial_cells, temporal_cells


def _accuracies(folder: Path) -> tuple[dict[int, float], dict, dict[str, int], dict[str, int]]:
    """Per-split test accuracy, one score file's meta, unscorable and test-video counts."""
    accuracies, meta, unscorable, n_test = {}, {}, {}, {}
    for split, path in split_files(folder).items():
        scores = load_scores(path)
        _, labels, test = scores.side("test")
        accuracies[split] = accuracy(test, labels)
        meta = meta or scores.meta
        n_test[f"split{split}"] = len(labels)
        missing = int(np.isnan(test).any(axis=1).sum())
        if missing:
            unscorable[f"split{split}"] = missing
    return accuracies, meta, unscorable, n_test


def write_plots(scores_dir: Path, pair: dict[str, str], plots_dir: Path) -> None:
    """Confusion matrices of both fused streams and both fusions, and per-class accuracy, on the
    lowest split run (split 1 normally), as CSV for `dvc plots show`."""
    folders = {"spatial": scores_dir / "spatial" / pair["spatial"],
               "temporal": scores_dir / "temporal" / pair["temporal"],
               "fusion_average": scores_dir / "fused" / "average",
               "fusion_svm": scores_dir / "fused" / "svm"}
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
    parser.add_argument("scores_dir", type=Path)
    parser.add_argument("tables_json", type=Path)
    parser.add_argument("summary_json", type=Path)
    parser.add_argument("tables_md", type=Path)
    parser.add_argument("plots_dir", type=Path,
                        help="confusion/<model>.csv and per_class.csv of the fused pair (out)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    log = configure_logging("report")
    params = load_params(args.params)
    cells, metas, unscorable_by_cell = [], {}, {}
    for stream, names in (("spatial", spatial_cells(params)), ("temporal", temporal_cells(params))):
        for name in names:
            acc, meta, missing, _ = _accuracies(args.scores_dir / stream / name)
            if not acc:
                log.warning("%s cell %s: no scores in %s; its table cell stays empty", stream, name,
                            args.scores_dir / stream / name)
                continue
            cells.append(CellResult(stream, name, meta["spec"], meta.get("weights"), acc))
            metas[(stream, name)] = meta
            unscorable_by_cell[(stream, name)] = missing
    fused_acc, fused_meta, unscorable, n_test = {}, {}, {}, {}
    for method in ("average", "svm"):
        acc, meta, missing, n_test = _accuracies(args.scores_dir / "fused" / method)
        fused_acc[f"fusion_{method}"], fused_meta = acc, meta or fused_meta
        if missing:
            unscorable[f"fusion_{method}"] = missing
    pair = fused_meta.get("cells", {})
    accuracies = dict(fused_acc)
    for stream in ("spatial", "temporal"):
        chosen = next((c for c in cells if c.stream == stream and c.name == pair.get(stream)), None)
        if chosen is None:
            raise SystemExit(f"{args.scores_dir}/fused: made from {stream} cell "
                             f"{pair.get(stream)!r}, which has no scores now; rerun `dvc repro`")
        accuracies[stream] = chosen.accuracy
        if unscorable_by_cell[(stream, chosen.name)]:
            unscorable[stream] = unscorable_by_cell[(stream, chosen.name)]
    spatial, temporal = metas[("spatial", pair["spatial"])], metas[("temporal", pair["temporal"])]
    provenance = {"fused": pair,
                  "spatial": {**spatial["spec"], "weights": spatial.get("weights"),
                              "frames": spatial["data"].get("recipe", {}), "device": spatial["device"]},
                  "temporal": {**temporal["spec"], "weights": temporal.get("weights"),
                               "flow_backend": temporal["data"].get("backend"),
                               "flow_bound": temporal["data"].get("bound"), "device": temporal["device"]},
                  "schedules": {f"{c.stream}/{c.name}": metas[(c.stream, c.name)].get("schedule")
                                for c in cells},
                  "fusion_svm": fused_meta.get("svm"),
                  "test_protocol": spatial["protocol"],
                  "test_videos": n_test,
                  # videos that could not be decoded or scored: kept in the denominator as wrong
                  "unscorable_test_videos_counted_wrong": unscorable}
    if params.dataset != "synthetic" and getattr(params, params.dataset).subset:
        provenance["subset"] = True
    results = RunResults(params.dataset, accuracies, provenance, cells)
    tables = build_tables(results)
    args.tables_json.write_text(json.dumps(tables, indent=2) + "\n")
    args.summary_json.write_text(json.dumps(summary(results), indent=2) + "\n")
    write_plots(args.scores_dir, pair, args.plots_dir)
    markdown = to_markdown(tables)
    args.tables_md.write_text(markdown)
    print(markdown)
    log.info("results: %s (tables), %s (summary for `dvc metrics diff`), %s", args.tables_json,
             args.summary_json, args.tables_md)


if __name__ == "__main__":
    main()
