"""The split table every later stage reads, and the UCF-101 split-file formats.

One row per video: ``id`` (``Class/v_Class_g08_c01``), ``path`` (relative to the raw root),
``label`` (0-based), ``class``, ``group`` and ``split1..split3`` (``train`` / ``test`` /
``unused``). The embedded dataset is written in UCF-101's own formats and read back with the
same parser, so the real-data path and the offline path share everything after ``data``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from twostream.errors import UserError

log = logging.getLogger(__name__)

SPLITS = (1, 2, 3)
SPLIT_COLUMNS = tuple(f"split{s}" for s in SPLITS)
COLUMNS = ("id", "path", "label", "class", "group", *SPLIT_COLUMNS)
_GROUP = re.compile(r"_g(\d+)_c\d+", re.IGNORECASE)
_CLIP_CLASS = re.compile(r"^v_(.+)_g\d+_c\d+", re.IGNORECASE)
_HMDB_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<split>[123])\.txt$")
_HMDB_SIDE = {"1": "train", "2": "test", "0": "unused"}


class SplitError(UserError, ValueError):
    """A split file is missing or inconsistent; the message names the file and the fix."""


def group_of(name: str) -> int:
    """The ``gNN`` group of a UCF-style clip name (clips of one group share actor/scene)."""
    match = _GROUP.search(name)
    if match is None:
        raise SplitError(f"{name}: no _gNN_cNN group tag in the clip name")
    return int(match.group(1))


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise SplitError(f"{path}: split file not found; check that the dataset's split folder "
                         f"is complete (classInd.txt, trainlist0N.txt, testlist0N.txt)")
    # Official files use CRLF; strip handles both and trailing blanks.
    return [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.strip()]


def read_class_index(path: Path) -> list[str]:
    """classInd.txt (``1 ApplyEyeMakeup``) -> class names ordered by their 1-based index."""
    entries: dict[int, str] = {}
    for number, line in enumerate(_read_lines(path), 1):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise SplitError(f"{path}:{number}: expected '<index> <ClassName>', got {line!r}")
        entries[int(parts[0])] = parts[1]
    if sorted(entries) != list(range(1, len(entries) + 1)):
        raise SplitError(f"{path}: class indices must run 1..N without gaps")
    return [entries[i] for i in range(1, len(entries) + 1)]


def read_ucf_splits(list_dir: str | Path, video_prefix: str = "UCF-101") -> pd.DataFrame:
    """Parse classInd.txt, trainlist0{1,2,3}.txt and testlist0{1,2,3}.txt into the split table.

    Class names are matched case-insensitively: the official clip names say ``HandStandPushups``
    where classInd.txt and the folder say ``HandstandPushups``; the classInd spelling wins, and
    each such match is logged.
    """
    list_dir = Path(list_dir)
    classes = read_class_index(list_dir / "classInd.txt")
    by_lower = {name.lower(): i for i, name in enumerate(classes)}
    rows: dict[str, dict[str, object]] = {}
    case_matches: Counter[tuple[str, str]] = Counter()

    def row_for(rel: str, where: str) -> dict[str, object]:
        rel = rel.replace("\\", "/")
        folder, _, filename = rel.rpartition("/")
        label = by_lower.get(folder.lower())
        if label is None:
            raise SplitError(f"{where}: class folder {folder!r} is not in classInd.txt")
        class_name = classes[label]
        clip_class = _CLIP_CLASS.match(filename)
        for spelling in (folder, clip_class.group(1) if clip_class else class_name):
            if spelling != class_name and spelling.lower() == class_name.lower():
                case_matches[(spelling, class_name)] += 1
        video_id = f"{class_name}/{Path(filename).stem}"
        if video_id not in rows:
            rows[video_id] = {"id": video_id, "path": f"{video_prefix}/{class_name}/{filename}",
                              "label": label, "class": class_name, "group": group_of(filename),
                              **{c: "unused" for c in SPLIT_COLUMNS}}
        return rows[video_id]

    for split in SPLITS:
        train_file = list_dir / f"trainlist0{split}.txt"
        for number, line in enumerate(_read_lines(train_file), 1):
            parts = line.split()
            where = f"{train_file}:{number}"
            row = row_for(parts[0], where)
            if len(parts) > 1 and int(parts[1]) - 1 != row["label"]:
                raise SplitError(f"{where}: label {parts[1]} disagrees with classInd.txt "
                                 f"({row['label'] + 1} {row['class']})")
            row[f"split{split}"] = "train"
        test_file = list_dir / f"testlist0{split}.txt"
        for number, line in enumerate(_read_lines(test_file), 1):
            row = row_for(line.split()[0], f"{test_file}:{number}")
            if row[f"split{split}"] == "train":
                raise SplitError(f"{test_file}:{number}: {row['id']} is in both train and test lists")
            row[f"split{split}"] = "test"
    for (spelling, class_name), count in sorted(case_matches.items()):
        log.warning("%s: %r in %d split-file entries matched class %r of classInd.txt "
                    "case-insensitively (a known quirk of the official UCF-101 files)",
                    list_dir, spelling, count, class_name)
    table = pd.DataFrame(list(rows.values()), columns=list(COLUMNS))
    table = table.sort_values("id", kind="stable").reset_index(drop=True)
    check_groups_disjoint(table)
    return table


def read_hmdb_splits(split_dir: str | Path, video_prefix: str = "hmdb51_org") -> pd.DataFrame:
    """Parse HMDB-51's ``<class>_test_split<N>.txt`` files (``name.avi 1 ``) into the split table.

    1 = train, 2 = test, 0 = unused. Classes are numbered in sorted order. HMDB-51 has no
    ``_gNN_`` groups; ``group`` holds the source-film part of the clip name for reference (the
    official splits are taken as given, not re-checked for it).
    """
    split_dir = Path(split_dir)
    files: dict[str, dict[int, Path]] = {}
    if split_dir.is_dir():
        for path in split_dir.iterdir():
            match = _HMDB_FILE.match(path.name)
            if match:
                files.setdefault(match["cls"], {})[int(match["split"])] = path
    if not files:
        raise SplitError(f"{split_dir}: no <class>_test_split<N>.txt files; point the dataset at the "
                         f"folder testTrainMulti_7030_splits from test_train_splits.rar")
    classes = sorted(files)
    rows: dict[str, dict[str, object]] = {}
    for label, class_name in enumerate(classes):
        for split in SPLITS:
            path = files[class_name].get(split)
            if path is None:
                raise SplitError(f"{split_dir}: {class_name}_test_split{split}.txt is missing; the "
                                 f"split folder is incomplete (re-extract test_train_splits.rar)")
            for number, line in enumerate(_read_lines(path), 1):
                parts = line.split()
                if len(parts) != 2 or parts[1] not in _HMDB_SIDE:
                    raise SplitError(f"{path}:{number}: expected '<video>.avi <0|1|2>', got {line!r}")
                name = parts[0]
                video_id = f"{class_name}/{Path(name).stem}"
                row = rows.setdefault(video_id, {
                    "id": video_id, "path": f"{video_prefix}/{class_name}/{name}", "label": label,
                    "class": class_name, "group": _hmdb_source(name, class_name),
                    **{c: "unused" for c in SPLIT_COLUMNS}})
                row[f"split{split}"] = _HMDB_SIDE[parts[1]]
    table = pd.DataFrame(list(rows.values()), columns=list(COLUMNS))
    return table.sort_values("id", kind="stable").reset_index(drop=True)


def _hmdb_source(name: str, class_name: str) -> str:
    """``April_09_brush_hair_u_nm_np1_ba_goo_0.avi`` -> ``April_09`` (the film it was cut from)."""
    stem = Path(name).stem
    head, sep, _ = stem.partition(f"_{class_name}_")
    return head if sep else stem


def write_ucf_splits(table: pd.DataFrame, classes: Sequence[str], list_dir: str | Path) -> None:
    """Write the table in the official UCF-101 formats (CRLF, 1-based labels in trainlists)."""
    list_dir = Path(list_dir)
    list_dir.mkdir(parents=True, exist_ok=True)

    def write(name: str, lines: Iterable[str]) -> None:
        (list_dir / name).write_bytes("".join(f"{line}\r\n" for line in lines).encode())

    write("classInd.txt", (f"{i + 1} {name}" for i, name in enumerate(classes)))
    for split in SPLITS:
        col = f"split{split}"
        rel = table["id"].map(lambda vid: vid + ".avi")
        train = table[col] == "train"
        write(f"trainlist0{split}.txt",
              (f"{r} {label + 1}" for r, label in zip(rel[train], table.loc[train, "label"])))
        write(f"testlist0{split}.txt", rel[table[col] == "test"])


def write_hmdb_splits(table: pd.DataFrame, classes: Sequence[str], split_dir: str | Path) -> None:
    """Write the table in HMDB-51's formats: ``<class>_test_split<N>.txt``, lines ``name.avi 1 ``
    (1 train, 2 test, 0 unused; with the official files' trailing space)."""
    split_dir = Path(split_dir)
    split_dir.mkdir(parents=True, exist_ok=True)
    codes = {"train": 1, "test": 2, "unused": 0}
    for label, name in enumerate(classes):
        rows = table[table["label"] == label]
        for split in SPLITS:
            lines = (f"{vid.rpartition('/')[2]}.avi {codes[side]} \n"
                     for vid, side in zip(rows["id"], rows[f"split{split}"]))
            (split_dir / f"{name}_test_split{split}.txt").write_text("".join(lines))


def held_out_groups(split: int, n_groups: int) -> range:
    """Groups held out for ``split`` in a UCF-style protocol (UCF-101: 7 of 25 groups each)."""
    per_split = max(1, round(n_groups * 7 / 25))
    if per_split * len(SPLITS) > n_groups:
        per_split = n_groups // len(SPLITS)
    return range((split - 1) * per_split + 1, split * per_split + 1)


def check_groups_disjoint(table: pd.DataFrame) -> None:
    """Fail if any (class, group) has clips on both the train and test side of a split."""
    for col in SPLIT_COLUMNS:
        used = table[table[col] != "unused"]
        sides = used.groupby(["class", "group"])[col].nunique()
        straddling = sides[sides > 1]
        if len(straddling):
            (cls, grp), *_ = straddling.index
            raise SplitError(f"{col}: group g{grp:02d} of class {cls} has clips in both train and "
                             f"test; groups must never straddle the split")


def select(table: pd.DataFrame, split: int, subset: str) -> pd.DataFrame:
    """Rows of one side (``train`` or ``test``) of one split, in table order."""
    return table[table[f"split{split}"] == subset].reset_index(drop=True)


def save_table(table: pd.DataFrame, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, lineterminator="\n")


def load_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise SplitError(f"{path}: split table not found; run the data stage (dvc repro data)")
    table = pd.read_csv(path, dtype={"id": str, "path": str, "class": str})
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise SplitError(f"{path}: missing columns {missing}; regenerate it with the data stage")
    return table


def class_names(table: pd.DataFrame) -> list[str]:
    """Class names ordered by label."""
    pairs = table[["label", "class"]].drop_duplicates().sort_values("label")
    return list(pairs["class"])
