"""One uncompressed zip per video: JPEG members plus a ``meta.json`` record.

Why: DVC and file systems crawl on millions of per-frame files; one archive per video keeps
hashing cheap and gives random access by member name. Archives are written to a temp file and
renamed, so a killed stage never leaves a half-written archive under its final name, and the
``recipe`` in the metadata tells a resumed stage whether an archive is still current.

An archive's bytes are a function of its members alone (members in name order, one fixed
timestamp and mode, no extra fields), so the same frames give the same file on every run and
machine, and DVC's hashes, run cache and remotes can be shared.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from twostream.errors import UserError

META = "meta.json"
# zip's earliest representable time: any fixed value would do, this one says "not a real time".
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _member(name: str) -> zipfile.ZipInfo:
    """A member header that records nothing about when or where it was written."""
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3  # Unix, on every platform
    info.external_attr = 0o644 << 16
    return info


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def decode_jpeg(data: bytes, grayscale: bool = False) -> np.ndarray:
    flags = cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise ValueError("corrupt JPEG member")
    return image


def write_archive(path: str | Path, members: Mapping[str, bytes], meta: Mapping[str, Any]) -> None:
    """Write members and meta.json atomically and reproducibly to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for name in sorted(members):
                archive.writestr(_member(name), members[name])
            archive.writestr(_member(META), json.dumps(dict(meta), indent=1, sort_keys=True))
        os.replace(tmp, path)
    except BaseException:  # a full disk or a kill mid-write: no half-written file stays behind
        tmp.unlink(missing_ok=True)
        raise


def read_meta(path: str | Path) -> dict[str, Any] | None:
    """The archive's metadata, or None when it is missing or unreadable (then: recompute)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(META))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def is_current(path: str | Path, recipe: Mapping[str, Any]) -> bool:
    """True when ``path`` exists and was made by exactly this recipe (resume check)."""
    meta = read_meta(path)
    return meta is not None and meta.get("recipe") == json.loads(json.dumps(dict(recipe)))


class DamagedArchiveError(UserError, OSError):
    """A frames or flow archive that cannot be read (truncated, overwritten, bad CRC)."""


def damaged(path: Path, err: BaseException) -> DamagedArchiveError:
    return DamagedArchiveError(
        f"{path}: damaged archive ({type(err).__name__}: {err}); delete it and run `dvc repro`: "
        f"the stage that made it computes missing videos again (docs/reproducing.md, "
        f"'A damaged archive')")


class ArchiveReader:
    """Lazy, fork-safe reader: the zip is (re)opened in whichever process first reads it. A
    damaged archive fails naming it and the fix (:class:`DamagedArchiveError`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        self._pid = -1
        self._meta: dict[str, Any] | None = None

    def _archive(self) -> zipfile.ZipFile:
        if self._zip is None or self._pid != os.getpid():
            if not self.path.is_file():
                raise FileNotFoundError(f"{self.path}: archive not found; rerun the stage that makes it")
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, EOFError, ValueError) as err:
                raise damaged(self.path, err) from None
            self._pid = os.getpid()
        return self._zip

    @property
    def meta(self) -> dict[str, Any]:
        if self._meta is None:
            try:
                self._meta = json.loads(self.read(META))
            except ValueError as err:
                raise damaged(self.path, err) from None
        return self._meta

    def read(self, name: str) -> bytes:
        archive = self._archive()
        try:
            return archive.read(name)
        except (zipfile.BadZipFile, EOFError, zlib.error) as err:
            raise damaged(self.path, err) from None
        except KeyError:
            raise damaged(self.path, KeyError(f"no member {name}")) from None

    def image(self, name: str, grayscale: bool = False) -> np.ndarray:
        return decode_jpeg(self.read(name), grayscale)

    def close(self) -> None:
        if self._zip is not None and self._pid == os.getpid():
            self._zip.close()
        self._zip = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_zip": None, "_pid": -1, "_meta": self._meta}

    def __enter__(self) -> "ArchiveReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def archive_name(video_id: str) -> str:
    """Archive file name for a video id (``Class/v_x`` -> ``Class/v_x.zip``)."""
    return f"{video_id}.zip"


def frame_member(index: int) -> str:
    return f"rgb/{index:05d}.jpg"


def flow_members(index: int, backward: bool = False) -> tuple[str, str]:
    """Members of field ``index``: forward is frame i -> i+1; backward is frame i+1 -> i."""
    prefix = "b" if backward else ""
    return f"{prefix}x/{index:05d}.jpg", f"{prefix}y/{index:05d}.jpg"
