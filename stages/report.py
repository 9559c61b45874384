"""Stage `report`: the paper's tables with our figures beside, a flat summary, Markdown.

    python stages/report.py metrics/scores metrics/tables.json metrics/summary.json metrics/tables.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from twostream.config import load_params
from twostream.evaluate import accuracy
from twostream.report import RunResults, build_tables, summary, to_markdown
from twostream.runtime import configure_logging
from twostream.scores import load_scores, split_files

SOURCES = {"spatial": "spatial", "temporal": "temporal",
           "fusion_average": "fused/average", "fusion_svm": "fused/svm"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scores_dir", type=Path)
    parser.add_argument("tables_json", type=Path)
    parser.add_argument("summary_json", type=Path)
    parser.add_argument("tables_md", type=Path)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    log = configure_logging("report")
    params = load_params(args.params)
    accuracies, metas, unscorable, n_test = {}, {}, {}, {}
    for key, folder in SOURCES.items():
        for split, path in split_files(args.scores_dir / folder).items():
            scores = load_scores(path)
            _, labels, test = scores.side("test")
            accuracies.setdefault(key, {})[split] = accuracy(test, labels)
            metas.setdefault(key, scores.meta)
            n_test[f"split{split}"] = len(labels)
            missing = int(np.isnan(test).any(axis=1).sum())
            if missing:
                unscorable.setdefault(key, {})[f"split{split}"] = missing
    spatial, temporal = metas["spatial"], metas["temporal"]
    provenance = {"spatial": {**spatial["spec"], "frames": spatial["data"].get("recipe", {}),
                              "device": spatial["device"]},
                  "temporal": {**temporal["spec"], "flow_backend": temporal["data"].get("backend"),
                               "flow_bound": temporal["data"].get("bound"), "device": temporal["device"]},
                  "test_protocol": spatial["protocol"],
                  "test_videos": n_test,
                  # videos that could not be decoded or scored: kept in the denominator as wrong
                  "unscorable_test_videos_counted_wrong": unscorable}
    if params.dataset != "synthetic" and getattr(params, params.dataset).subset:
        provenance["subset"] = True
    results = RunResults(params.dataset, accuracies, provenance, spatial["spec"], temporal["spec"])
    tables = build_tables(results)
    args.tables_json.write_text(json.dumps(tables, indent=2) + "\n")
    args.summary_json.write_text(json.dumps(summary(results), indent=2) + "\n")
    markdown = to_markdown(tables)
    args.tables_md.write_text(markdown)
    print(markdown)
    log.info("results: %s (tables), %s (summary for `dvc metrics diff`), %s", args.tables_json,
             args.summary_json, args.tables_md)


if __name__ == "__main__":
    main()
