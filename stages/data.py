"""Stage `data@<part>`: the videos and official split files of the dataset playing the paper's
UCF-101 or HMDB-51 part (`datasets.<part>`) in data/<part>/raw, and its split table.

synthetic / synthetic_hmdb: generated here. ucf101 / hmdb51: downloaded and extracted into
download.cache_dir (or read from <dataset>.root), checked against the official counts,
hard-linked into data/<part>/raw. folder: your <Class>/<video> folder, splits made here.

    python stages/data.py ucf101 data/ucf101/raw data/ucf101/splits.csv
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from twostream.datasets.archives import ArchiveError
from twostream.config import ROLES, load_params
from twostream.datasets.official import prepare_dataset
from twostream.datasets.download import DownloadError
from twostream.errors import run_stage
from twostream.datasets.folder import prepare_folder
from twostream.runtime import configure_logging
from twostream.datasets.splits import SPLITS, SplitError, save_table
from twostream.datasets.synthetic import generate, read_generated


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=ROLES, help="which of the paper's datasets this one stands for")
    parser.add_argument("raw_dir", type=Path, help="videos + official split files (out)")
    parser.add_argument("splits_csv", type=Path, help="the split table (out)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    log = configure_logging(f"data@{args.part}")
    params = load_params(args.params)
    dataset = params.datasets.source(args.part)

    if args.raw_dir.exists():
        shutil.rmtree(args.raw_dir)
    try:
        block = getattr(params, dataset)
        if dataset == "folder":
            table = prepare_folder(block, params.download, args.raw_dir, base=Path.cwd())
        elif dataset.startswith("synthetic"):
            generate(block, args.raw_dir)
            # Read back through the same parser the real dataset's split files use.
            table = read_generated(block, args.raw_dir)
        else:
            table = prepare_dataset(dataset, block, params.download, args.raw_dir, base=Path.cwd())
    except (SplitError, DownloadError, ArchiveError) as err:
        raise SystemExit(f"data@{args.part}: {err}") from None
    save_table(table, args.splits_csv)
    for s in SPLITS:
        counts = table[f"split{s}"].value_counts()
        log.info("split %d: %d train / %d test videos", s, counts.get("train", 0), counts.get("test", 0))
    log.info("%s (%s part): %d videos, %d classes -> %s, %s", dataset, args.part, len(table),
             table["label"].nunique(), args.raw_dir, args.splits_csv)


if __name__ == "__main__":
    run_stage(main)
