"""Your own videos as a dataset: ``<root>/<Class>/<video>``, one folder per class.

There are no official split files, so three splits are made here, reproducibly from a seed, with
UCF-101's rule: clips of one group (the ``_gNN_`` tag in a name, e.g. one actor or scene) never
straddle train and test. Untagged videos are each their own group. Each split holds out about
``test_fraction`` of every class's groups, a different slice for each split.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from twostream.config import DownloadParams, FolderParams
from twostream.datasets.official import VIDEO_SUFFIXES, cache_lock, import_videos, link_or_copy
from twostream.datasets.splits import COLUMNS, SPLITS, SplitError
from twostream.frames.extract import file_digest

log = logging.getLogger(__name__)
_GROUP = re.compile(r"_g(\d+)_", re.IGNORECASE)
VIDEOS_DIR = "videos"


def scan(root: Path) -> pd.DataFrame:
    """One row per video file under ``root/<Class>/`` (classes in sorted order), no splits yet."""
    if not root.is_dir():
        raise SplitError(f"folder.root={str(root)!r}: not a folder; give the folder that holds "
                         f"one sub-folder of videos per class")
    rows = []
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    ignored: dict[str, list[str]] = {"hidden files (names starting with '.', e.g. macOS's ._ files)": [],
                                     "sub-folders of a class folder (not read: move their videos up)": [],
                                     "files that are not videos": []}
    hidden, nested, other = ignored
    for label, name in enumerate(classes):
        for path in sorted((root / name).iterdir()):
            rel = f"{name}/{path.name}"
            if path.name.startswith("."):
                ignored[hidden].append(rel)
            elif path.is_dir():
                ignored[nested].append(rel + "/")
            elif path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
                tag = _GROUP.search(path.stem)
                rows.append({"id": f"{name}/{path.stem}", "path": f"{VIDEOS_DIR}/{name}/{path.name}",
                             "label": label, "class": name,
                             "group": f"g{int(tag.group(1)):02d}" if tag else path.stem})
            else:
                ignored[other].append(rel)
    for what, names in ignored.items():
        if names:
            (log.warning if what == nested else log.info)(
                "%s: ignored %d %s: %s", root, len(names), what,
                ", ".join(names[:5]) + (", ..." if len(names) > 5 else ""))
    table = pd.DataFrame(rows, columns=["id", "path", "label", "class", "group"])
    clashes = table[table["id"].duplicated(keep=False)]
    if not clashes.empty:  # one id = one archive: the second video would overwrite the first
        first = clashes.groupby("id")["path"].apply(list).iloc[0]
        raise SplitError(f"{root}: {len(clashes)} videos share a name but for the extension, e.g. "
                         f"{' and '.join(p[len(VIDEOS_DIR) + 1:] for p in first)}; a video's id is "
                         f"<Class>/<name without extension>, so rename one of each pair")
    if table.empty:
        raise SplitError(f"{root}: no videos ({', '.join(VIDEO_SUFFIXES)}) in class sub-folders; "
                         f"lay them out as {root}/<Class>/<video>")
    empty = [c for c in classes if c not in set(table["class"])]
    if empty:
        raise SplitError(f"{root}: class folders with no videos: {empty}; remove them or add videos")
    return table


def same_content(root: Path, table: pd.DataFrame) -> list[list[str]]:
    """Ids of videos whose files hold identical bytes (a copy, a link, one clip under two
    names), in groups; only files of equal size are hashed."""
    files = {vid: root / rel[len(VIDEOS_DIR) + 1:] for vid, rel in zip(table["id"], table["path"])}
    by_size: dict[int, list[str]] = {}
    for vid, path in files.items():
        by_size.setdefault(path.stat().st_size, []).append(vid)
    out = []
    for ids in by_size.values():
        if len(ids) < 2:
            continue
        by_digest: dict[str, list[str]] = {}
        for vid in ids:
            by_digest.setdefault(file_digest(files[vid]), []).append(vid)
        out += [sorted(same) for same in by_digest.values() if len(same) > 1]
    return out


def check_no_leak(table: pd.DataFrame, duplicates: list[list[str]], root: Path) -> None:
    """Refuse a split that puts one clip (identical files under two names) on both its sides:
    the net would be tested on a video it trained on."""
    sides = table.set_index("id")
    for split in SPLITS:
        for ids in duplicates:
            where = sides.loc[ids, f"split{split}"]
            if {"train", "test"} <= set(where):
                train, test = where[where == "train"].index[0], where[where == "test"].index[0]
                raise SplitError(
                    f"{root}: {train} and {test} are the same file's bytes, and split {split} puts "
                    f"the first in training and the second in test; remove one, or give both the "
                    f"same _gNN_ group tag so they stay on one side")
    if duplicates:
        log.warning("%s: %d sets of identical videos (each kept on one side of every split): %s",
                    root, len(duplicates), "; ".join(" = ".join(d) for d in duplicates[:3]))


def make_splits(table: pd.DataFrame, test_fraction: float, seed: int) -> pd.DataFrame:
    """Add ``split1..3``: per class, a seeded order of its groups; split k holds out the k-th
    slice of ``ceil(test_fraction * groups)`` of them, wrapping around but sliding on where that
    would repeat an earlier split's slice. With two groups no third slice exists: the repeat is
    logged, since a mean over the splits would count those test videos twice."""
    sides = {f"split{s}": np.full(len(table), "train", dtype=object) for s in SPLITS}
    repeated: list[str] = []
    for name, rows in table.groupby("class", sort=True):
        groups = sorted(rows["group"].unique())
        if len(groups) < 2:
            raise SplitError(f"class {name}: {len(groups)} group of videos; each class needs at least "
                             f"two (untagged videos are one group each) to have train and test videos")
        digest = int(hashlib.sha1(f"{seed}/{name}".encode()).hexdigest()[:8], 16)
        order = list(np.random.default_rng(digest).permutation(groups))
        n_test = min(len(groups) - 1, max(1, math.ceil(test_fraction * len(groups))))
        chosen: list[set[str]] = []
        for split in SPLITS:
            start = (split - 1) * n_test
            held = {order[(start + k) % len(order)] for k in range(n_test)}
            for shift in range(1, len(order)):  # wrapped onto an earlier split's: slide along
                if held not in chosen:
                    break
                held = {order[(start + shift + k) % len(order)] for k in range(n_test)}
            chosen.append(held)
            sides[f"split{split}"][rows.index[rows["group"].isin(held)]] = "test"
        if len({frozenset(h) for h in chosen}) < len(SPLITS):
            repeated.append(f"{name} ({len(groups)} groups)")
    if repeated:
        log.warning("splits repeat for %d classes with too few groups to hold out a different "
                    "set each time: %s; a mean over splits counts those classes' test videos "
                    "more than once (add groups, or report split 1)", len(repeated),
                    ", ".join(repeated))
    return table.assign(**sides)[list(COLUMNS)]


def prepare_folder(params: FolderParams, download: DownloadParams, raw_dir: Path,
                   base: Path) -> pd.DataFrame:
    """Scan ``folder.root``, make the splits, copy new or changed videos into the cache once and
    hard-link them into ``raw_dir/videos/`` (your files are only read: DVC's cache protection
    must never reach them)."""
    if not params.root:
        raise SplitError("folder.root is empty; set it to the folder holding <Class>/<video> files, "
                         "e.g. -S folder.root=/data/my_videos")
    root = Path(os.path.expanduser(params.root))
    root = root if root.is_absolute() else base / root
    table = make_splits(scan(root), params.test_fraction, params.seed)
    check_no_leak(table, same_content(root, table), root)
    cache = Path(os.path.expanduser(download.cache_dir))
    key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:10]
    with cache_lock(cache, "folder"):
        imported = import_videos(table, VIDEOS_DIR, root, cache / "folder" / key)
        for rel in table["path"]:
            link_or_copy(imported / rel[len(VIDEOS_DIR) + 1:], raw_dir / rel)
    log.info("%s: %d videos of %d classes; splits made with seed %d, test_fraction %.2f", root,
             len(table), table["class"].nunique(), params.seed, params.test_fraction)
    return table
