"""Stage `data`: the dataset's videos and official split files in data/raw, and the split table.

synthetic: generated here. ucf101 / hmdb51: downloaded and extracted into download.cache_dir
(or read from <dataset>.root), checked against the official counts, hard-linked into data/raw.

    python stages/data.py data/raw data/splits.csv
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from twostream.config import load_params
from twostream.runtime import configure_logging
from twostream.archives import ArchiveError
from twostream.datasets import prepare_dataset
from twostream.download import DownloadError
from twostream.splits import SPLITS, SplitError, read_ucf_splits, save_table
from twostream.synthetic import generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raw_dir", type=Path, help="videos + official split files (out)")
    parser.add_argument("splits_csv", type=Path, help="the split table (out)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    log = configure_logging("data")
    params = load_params(args.params)

    if args.raw_dir.exists():
        shutil.rmtree(args.raw_dir)
    try:
        if params.dataset == "synthetic":
            generate(params.synthetic, args.raw_dir)
            # Read back through the same parser the real UCF-101 split files use.
            table = read_ucf_splits(args.raw_dir / "ucfTrainTestlist")
        else:
            table = prepare_dataset(params.dataset, getattr(params, params.dataset), params.download,
                                    args.raw_dir, base=Path.cwd())
    except (SplitError, DownloadError, ArchiveError) as err:
        raise SystemExit(f"data: {err}") from None
    save_table(table, args.splits_csv)
    for s in SPLITS:
        counts = table[f"split{s}"].value_counts()
        log.info("split %d: %d train / %d test videos", s, counts.get("train", 0), counts.get("test", 0))
    log.info("%s: %d videos, %d classes -> %s, %s", params.dataset, len(table),
             table["label"].nunique(), args.raw_dir, args.splits_csv)


if __name__ == "__main__":
    main()
