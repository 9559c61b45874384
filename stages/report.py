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

from twostream.config import load_params
from twostream.errors import run_stage
from twostream.report.collect import collect_results, plot_folders, write_plots
from twostream.report.tables import build_tables, summary, to_markdown
from twostream.runtime import configure_logging


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
    results = collect_results(args.scores_dir, params, log)
    for part, folders in plot_folders(args.scores_dir, params).items():
        write_plots(folders, args.plots_dir / part)
    tables = build_tables(results)
    args.tables_json.write_text(json.dumps(tables, indent=2) + "\n")
    args.summary_json.write_text(json.dumps(summary(results), indent=2) + "\n")
    markdown = to_markdown(tables)
    args.tables_md.write_text(markdown)
    print(markdown)
    log.info("results: %s (tables), %s (summary for `dvc metrics diff`), %s", args.tables_json,
             args.summary_json, args.tables_md)


if __name__ == "__main__":
    run_stage(main)
