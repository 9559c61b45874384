"""The real datasets: where they come from, what they must contain, and how they reach data/raw.

A dataset is fetched (:mod:`twostream.datasets.download`) and unpacked (:mod:`twostream.datasets.archives`) into a
cache outside the repository (``download.cache_dir``), once per archive checksum, so DVC
experiments and queued runs never copy it. Or ``<dataset>.root`` names a folder that already
holds it. Either way the split files are parsed into the split table, checked against the official
counts (:data:`SPECS`), matched to the videos on disk (case-insensitively), and the videos are
hard-linked into ``data/raw`` from the cache so that DVC tracks exactly what the later stages
read without a copy per experiment. A ``root`` folder is first copied into the cache once
(incrementally): linking a user's own files would let DVC's cache protection make them read-only.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from twostream.datasets.archives import extract
from twostream.config import DownloadParams, SourceParams
from twostream.datasets.download import FetchOptions, fetch
from twostream.datasets.splits import SPLITS, SplitError, read_hmdb_splits, read_ucf_splits

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".webm", ".mov")


@dataclass(frozen=True)
class DatasetSpec:
    """Facts about one public dataset, as its authors publish them."""
    name: str
    videos_dir: str                 # folder of <class>/<clip> under the dataset root
    splits_dir: str                 # folder of official split files under the dataset root
    splits_marker: str              # a file that only the split folder has (glob)
    nested: bool                    # videos archive is an archive of per-class archives
    clips: int
    classes: int
    per_split: tuple[int, int, int]  # train, test, unused clips in each official split
    parse: Callable[[Path, str], pd.DataFrame]


SPECS = {
    "ucf101": DatasetSpec("ucf101", "UCF-101", "ucfTrainTestlist", "classInd.txt", False,
                          13320, 101, (0, 0, 0), read_ucf_splits),
    "hmdb51": DatasetSpec("hmdb51", "hmdb51_org", "testTrainMulti_7030_splits",
                          "*_test_split1.txt", True, 6766, 51, (3570, 1530, 1666), read_hmdb_splits),
}
UCF_PER_SPLIT = {1: (9537, 3783), 2: (9586, 3734), 3: (9624, 3696)}


def expected_split_counts(spec: DatasetSpec, split: int) -> tuple[int, int, int]:
    if spec.name == "ucf101":
        train, test = UCF_PER_SPLIT[split]
        return train, test, 0
    return spec.per_split


# ---------------------------------------------------------------------------------------------
# Checks


def count_problems(table: pd.DataFrame, spec: DatasetSpec) -> list[str]:
    """Differences between the parsed split files and the official counts, one line each."""
    problems = []
    if len(table) != spec.clips:
        problems.append(f"{len(table)} clips in the split files, expected {spec.clips}")
    n_classes = table["class"].nunique()
    if n_classes != spec.classes:
        problems.append(f"{n_classes} classes, expected {spec.classes}")
    for split in SPLITS:
        counts = table[f"split{split}"].value_counts()
        got = tuple(int(counts.get(side, 0)) for side in ("train", "test", "unused"))
        want = expected_split_counts(spec, split)
        if got != want:
            problems.append(f"split {split}: {got[0]} train / {got[1]} test / {got[2]} unused, "
                            f"expected {want[0]} / {want[1]} / {want[2]}")
    return problems


def index_videos(videos_dir: Path) -> dict[str, str]:
    """Lower-cased ``<class>/<file>`` -> its real spelling on disk, for every video found."""
    index: dict[str, str] = {}
    for path in videos_dir.rglob("*"):
        if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file():
            rel = path.relative_to(videos_dir).as_posix()
            index[rel.lower()] = rel
    return index


def match_videos(table: pd.DataFrame, spec: DatasetSpec, videos_dir: Path,
                 subset: bool) -> pd.DataFrame:
    """Point each row at its file on disk; fail naming what is missing unless ``subset``."""
    index = index_videos(videos_dir)
    prefix = spec.videos_dir + "/"
    found = []
    for rel in table["path"]:
        on_disk = index.get(rel[len(prefix):].lower())
        found.append(None if on_disk is None else prefix + on_disk)
    table = table.assign(path=found)
    missing = table[table["path"].isna()]
    listed = {p[len(prefix):].lower() for p in table["path"].dropna()}
    extra = len(set(index) - listed)
    if extra:
        log.info("%s: %d video files are in no split file; they are ignored", videos_dir, extra)
    if len(missing) and not subset:
        examples = ", ".join(missing["id"].head(5))
        raise SplitError(
            f"{videos_dir}: {len(missing)} of {len(table)} videos named by the split files are "
            f"missing (e.g. {examples}). Fix: complete the folder (for a download: delete "
            f"{videos_dir} and run again to re-extract), or set {spec.name}.subset: true to run on the {len(table) - len(missing)} "
            f"clips present (a known subset, for debugging)")
    if not len(missing):
        return table
    present = table[table["path"].notna()].reset_index(drop=True)
    log.warning("%s: subset mode: %d of %d clips present (%d classes); the other %d are dropped "
                "from every split", spec.name, len(present), len(table), present["class"].nunique(),
                len(missing))
    # Networks get one output per class present, so labels are renumbered 0..K-1 in the
    # official order; the class names keep their meaning.
    order = sorted(present["label"].unique())
    return present.assign(label=present["label"].map({old: new for new, old in enumerate(order)}))


def load_split_table(spec: DatasetSpec, videos_dir: Path, splits_dir: Path,
                     subset: bool) -> pd.DataFrame:
    """Parse, count-check and match one dataset's official split files."""
    table = spec.parse(splits_dir, spec.videos_dir)
    problems = count_problems(table, spec)
    if problems:
        raise SplitError(f"{splits_dir}: the split files do not match the official {spec.name} "
                         f"counts: " + "; ".join(problems) +
                         ". Fix: re-download the split archive; the official files are unchanged "
                         "since release")
    log.info("%s: split files match the official counts (%d clips, %d classes)", spec.name,
             len(table), spec.classes)
    return match_videos(table, spec, videos_dir, subset)


# ---------------------------------------------------------------------------------------------
# Sources: a ready folder, or download + extract into the cache


def _find_dir(root: Path, name_or_glob: str, *, is_marker: bool) -> Path | None:
    """The folder under ``root`` (depth <= 3) named ``name`` or holding a file matching it."""
    candidates = [root] + [p for depth in ("*", "*/*", "*/*/*") for p in sorted(root.glob(depth))
                           if p.is_dir()]
    for folder in candidates:
        if is_marker and any(folder.glob(name_or_glob)):
            return folder
        if not is_marker and folder.name.lower() == name_or_glob.lower():
            return folder
    return None


def locate(spec: DatasetSpec, videos_root: Path, splits_root: Path) -> tuple[Path, Path]:
    """The videos folder (holding <class>/ folders) and the split-file folder."""
    splits = _find_dir(splits_root, spec.splits_marker, is_marker=True)
    if splits is None:
        raise SplitError(f"{splits_root}: no {spec.splits_dir} folder (no {spec.splits_marker}); "
                         f"point {spec.name}.root at a folder holding the official split files")
    videos = _find_dir(videos_root, spec.videos_dir, is_marker=False)
    if videos is None:
        # A folder whose subfolders are class folders (e.g. videos/brush_hair/*.avi).
        for folder in [videos_root] + sorted(p for p in videos_root.glob("*") if p.is_dir()):
            if folder != splits and any(folder.glob("*/*.avi")):
                videos = folder
                break
    if videos is None:
        raise SplitError(f"{videos_root}: no {spec.videos_dir}/<class>/ video folders found; point "
                         f"{spec.name}.root at the dataset folder")
    log.info("%s: videos in %s, split files in %s", spec.name, videos, splits)
    return videos, splits


def _cache(download: DownloadParams) -> Path:
    return Path(os.path.expanduser(download.cache_dir))


@contextlib.contextmanager
def cache_lock(cache: Path, name: str) -> Iterator[None]:
    """One process at a time per dataset in the shared cache (queued experiments run in parallel)."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{name}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("%s: another run holds %s; waiting for it", name, handle.name)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch_and_extract(spec: DatasetSpec, source: SourceParams, download: DownloadParams) -> tuple[Path, Path]:
    """Download (resumably, verified) and extract both archives into the cache; return roots."""
    cache = _cache(download)
    with cache_lock(cache, spec.name):
        return _fetch_and_extract(spec, source, download, cache)


def download_name(dataset: str, what: str, urls: Sequence[str]) -> str:
    """The cache's name for one archive: ``<dataset>-<videos|splits>-<file name of the URL>``,
    unique per dataset and role, so two URLs that end alike (``.../a/archive.zip`` and
    ``.../b/archive.zip``) never share, or swap, a file."""
    basename = Path(urls[0].split("?")[0]).name if urls else "archive"
    return f"{dataset}-{what}-{basename}"


def _fetch_and_extract(spec: DatasetSpec, source: SourceParams, download: DownloadParams,
                       cache: Path) -> tuple[Path, Path]:
    options = FetchOptions(retries=download.retries, timeout=download.timeout,
                           backoff=download.backoff, insecure_tls=source.insecure_tls)
    roots = []
    for what, urls, sha in (("videos", source.videos_urls, source.videos_sha256),
                            ("splits", source.splits_urls, source.splits_sha256)):
        name = download_name(spec.name, what, urls)
        archive = fetch(name, list(urls), cache / "downloads", sha256=sha, options=options)
        dest = cache / spec.name / what
        extract(archive, dest, nested=spec.nested and what == "videos")
        roots.append(dest)
    return roots[0], roots[1]


def source_roots(spec: DatasetSpec, source: SourceParams, download: DownloadParams,
                 base: Path) -> tuple[Path, Path]:
    """(videos root, splits root): ``root`` as given (relative to ``base``), or the download cache."""
    if source.root:
        root = Path(os.path.expanduser(source.root))
        root = root if root.is_absolute() else base / root
        if not root.is_dir():
            raise SplitError(f"{spec.name}.root={source.root!r}: {root} is not a folder; give a "
                             f"folder holding the dataset, or '' to download it")
        return root, root
    return fetch_and_extract(spec, source, download)


# ---------------------------------------------------------------------------------------------
# data/raw


def import_videos(table: pd.DataFrame, videos_dir: str, videos: Path, cache_videos: Path) -> Path:
    """Copy the table's videos (paths under ``videos_dir``) from a user's folder into the cache,
    skipping unchanged ones."""
    prefix = videos_dir + "/"
    copied = 0
    for rel in table["path"]:
        source, target = videos / rel[len(prefix):], cache_videos / rel[len(prefix):]
        st = source.stat()
        try:
            have = target.stat()
            if (have.st_size, have.st_mtime_ns) == (st.st_size, st.st_mtime_ns):
                continue
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        shutil.copy2(source, tmp)
        os.replace(tmp, target)
        copied += 1
    log.info("%s: %d videos copied into the cache %s (%d already there)", videos, copied,
             cache_videos, len(table) - copied)
    return cache_videos


def link_or_copy(source: Path, target: Path) -> bool:
    """Hard-link ``source`` to ``target`` (no extra space); copy if linking fails. True if linked."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
        return True
    except OSError:
        shutil.copy2(source, target)
        return False


def materialise(table: pd.DataFrame, spec: DatasetSpec, videos: Path, splits: Path,
                raw_dir: Path) -> None:
    """Fill ``raw_dir`` with the table's videos and the split files, in the dataset's layout."""
    prefix = spec.videos_dir + "/"
    copied = 0
    for rel in table["path"]:
        copied += not link_or_copy(videos / rel[len(prefix):], raw_dir / rel)
    if copied:
        log.warning("%d of %d videos were copied, not hard-linked (different filesystems?); set "
                    "download.cache_dir on the repository's filesystem to save the space",
                    copied, len(table))
    shutil.copytree(splits, raw_dir / spec.splits_dir)


def prepare_dataset(name: str, source: SourceParams, download: DownloadParams, raw_dir: Path,
                    base: Path) -> pd.DataFrame:
    """Fetch or find dataset ``name``, check it, fill ``raw_dir``; return its split table."""
    spec = SPECS[name]
    videos_root, splits_root = source_roots(spec, source, download, base)
    videos, splits = locate(spec, videos_root, splits_root)
    table = load_split_table(spec, videos, splits, source.subset)
    if source.root:
        key = hashlib.sha1(str(videos.resolve()).encode()).hexdigest()[:10]
        with cache_lock(_cache(download), spec.name):
            videos = import_videos(table, spec.videos_dir, videos,
                                   _cache(download) / spec.name / f"root-{key}")
    materialise(table, spec, videos, splits, raw_dir)
    return table
