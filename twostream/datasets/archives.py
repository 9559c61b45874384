"""Safe, idempotent extraction of dataset archives (RAR, ZIP, TAR; nested RAR-of-RARs).

RAR members are listed by `rarfile` (PyPI) and unpacked in one pass by RARLAB's UnRAR library
(PyPI ``unrar2-cffi``, so ``pip install`` brings a RAR extractor); ``unar`` (Debian package
``unar``) and rarfile's own extraction are the fallbacks. Nothing here parses RAR.

Safety does not depend on the extractor: every member list is checked first
(:func:`check_members`), and an archive with an absolute path, a ``..`` component or a link that
resolves outside the target (directly or through other links in the archive) is refused before a
byte is written. Extraction goes to ``<dest>.partial``; after it, every link on disk is checked
again, the member list is compared with what landed, and only then is the folder renamed to
``<dest>`` with a marker naming the archive. A finished extraction is therefore not redone, and a
killed one leaves only ``.partial``, which the next run deletes and redoes.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import shutil
import stat
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from twostream.errors import UserError

log = logging.getLogger(__name__)
MARKER = ".extracted.json"
_MAX_LINK_DEPTH = 40


class ArchiveError(UserError, RuntimeError):
    """An archive cannot be read or unpacked; the message names it and the fix."""


class UnsafeArchiveError(ArchiveError):
    """An archive would write outside its target folder; it is refused as a whole."""


@dataclass(frozen=True)
class Member:
    name: str
    kind: Literal["file", "dir", "link"]
    size: int = 0
    target: str | None = None  # links only, as stored in the archive


def archive_format(path: Path) -> str:
    """``rar``, ``zip`` or ``tar``, from the file's first bytes (names can lie)."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if tarfile.is_tarfile(path):
        return "tar"
    raise ArchiveError(f"{path}: not a RAR, ZIP or TAR archive (first bytes {head!r}); the download "
                       f"may be an HTML error page - delete it and download again")


# ---------------------------------------------------------------------------------------------
# Member lists


def list_members(path: Path) -> list[Member]:
    kind = archive_format(path)
    try:
        if kind == "rar":
            return _rar_members(path)
        if kind == "zip":
            return _zip_members(path)
        return _tar_members(path)
    except (ArchiveError, KeyError):
        raise
    except Exception as err:  # noqa: BLE001 - each library raises its own family of errors
        raise ArchiveError(f"{path}: cannot read the {kind} archive ({type(err).__name__}: {err}); "
                           f"it is probably truncated - delete it and download again") from err


def _rar_members(path: Path) -> list[Member]:
    import rarfile

    members = []
    with rarfile.RarFile(path) as archive:
        for info in archive.infolist():
            name = info.filename.replace("\\", "/")
            if info.file_redir:  # RAR5 symlink, junction, hard link or file copy
                members.append(Member(name, "link", 0, info.file_redir[2].replace("\\", "/")))
            elif info.is_symlink():  # RAR3 unix symlink: the target is the member's data
                members.append(Member(name, "link", 0, archive.read(info).decode("utf-8", "replace")))
            elif info.is_dir():
                members.append(Member(name.rstrip("/"), "dir"))
            else:
                members.append(Member(name, "file", info.file_size))
    return members


def _zip_members(path: Path) -> list[Member]:
    members = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                members.append(Member(info.filename, "link", 0, archive.read(info).decode("utf-8", "replace")))
            elif info.is_dir():
                members.append(Member(info.filename.rstrip("/"), "dir"))
            else:
                members.append(Member(info.filename, "file", info.file_size))
    return members


def _tar_members(path: Path) -> list[Member]:
    members = []
    with tarfile.open(path) as archive:
        for info in archive.getmembers():
            if info.issym() or info.islnk():
                members.append(Member(info.name, "link", 0, info.linkname))
            elif info.isdir():
                members.append(Member(info.name.rstrip("/"), "dir"))
            elif info.isfile():
                members.append(Member(info.name, "file", info.size))
            else:
                members.append(Member(info.name, "link", 0, f"<{info.type!r} device or fifo>"))
    return members


# ---------------------------------------------------------------------------------------------
# The safety check (pure)


def _is_absolute(path: str) -> bool:
    return path.startswith("/") or (len(path) > 1 and path[1] == ":")


def check_members(members: list[Member], label: str) -> None:
    """Refuse the archive if any member could write or point outside the target folder."""
    links: dict[str, str] = {}

    def resolve(parts: list[str], depth: int) -> list[str] | None:
        """Archive-relative path after following the archive's own links; None if it escapes."""
        if depth > _MAX_LINK_DEPTH:
            return None
        current: list[str] = []
        for i, part in enumerate(parts):
            if part in ("", "."):
                continue
            if part == "..":
                if not current:
                    return None
                current.pop()
                continue
            current.append(part)
            target = links.get("/".join(current))
            if target is not None:
                if _is_absolute(target):
                    return None
                resolved = resolve(current[:-1] + target.split("/"), depth + 1)
                if resolved is None:
                    return None
                current = resolved
        return current

    for member in members:
        name = member.name
        if not name or _is_absolute(name):
            raise UnsafeArchiveError(f"{label}: member {name!r} has an absolute path; refusing "
                                     f"the whole archive (nothing was extracted)")
        parts = name.split("/")
        if ".." in parts:
            raise UnsafeArchiveError(f"{label}: member {name!r} contains '..'; refusing the whole "
                                     f"archive (nothing was extracted)")
        if resolve(parts[:-1], 0) is None:
            raise UnsafeArchiveError(f"{label}: member {name!r} would be written through a link that "
                                     f"points outside the target folder; refusing the whole archive "
                                     f"(nothing was extracted)")
        if member.kind == "link":
            target = (member.target or "").replace("\\", "/")
            if not target or _is_absolute(target) or \
                    resolve(parts[:-1] + target.split("/"), 0) is None:
                raise UnsafeArchiveError(f"{label}: link {name!r} -> {member.target!r} points outside "
                                         f"the target folder; refusing the whole archive (nothing "
                                         f"was extracted)")
            links[posixpath.normpath(name)] = target


def check_tree(root: Path) -> None:
    """After extraction: every link on disk must resolve inside ``root``."""
    real_root = os.path.realpath(root)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                real = os.path.realpath(path)
                if os.path.commonpath([real, real_root]) != real_root:
                    raise UnsafeArchiveError(f"{path}: extracted link resolves to {real}, outside "
                                             f"{root}")


# ---------------------------------------------------------------------------------------------
# Extraction


def _fingerprint(archive: Path) -> dict[str, object]:
    st = archive.stat()
    return {"archive": archive.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def is_extracted(archive: Path, dest: Path) -> bool:
    marker = dest / MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("source") == _fingerprint(archive)
    except ValueError:
        return False


def _unpack(archive: Path, staging: Path, members: list[Member]) -> None:
    kind = archive_format(archive)
    if kind == "zip":
        with zipfile.ZipFile(archive) as handle:
            handle.extractall(staging)
        return
    if kind == "tar":
        with tarfile.open(archive) as handle:
            handle.extractall(staging, filter="data")
        return
    _unpack_rar(archive, staging, members)


def _unpack_rar(archive: Path, staging: Path, members: list[Member]) -> None:
    """Try each RAR extractor in turn until one lands every member: RARLAB's UnRAR library
    (PyPI ``unrar2-cffi``, installed with twostream), ``unar`` (Debian), then rarfile's own
    extraction (which needs an ``unrar``/``unar``/``7z`` program for compressed members)."""
    tried = []
    for name, unpack in (("unrar2-cffi", _unrar_library), ("unar", _unar), ("rarfile", _rarfile)):
        try:
            if not unpack(archive, staging, members):
                continue  # this extractor is not installed here
            missing = _missing(staging, members)
            if not missing:
                return
            tried.append(f"{name}: {len(missing)} member(s) missing afterwards")
        except Exception as err:  # noqa: BLE001 - each extractor fails in its own way
            tried.append(f"{name}: {type(err).__name__}: {err}")
        log.warning("%s: %s; trying the next RAR extractor", archive, tried[-1])
        shutil.rmtree(staging)
        staging.mkdir()
    if not tried:
        raise ArchiveError(f"{archive}: no RAR extractor found; `pip install unrar2-cffi` (a "
                           f"dependency of twostream) or install the Debian package 'unar'")
    raise ArchiveError(f"{archive}: extraction failed ({'; '.join(tried)}); the archive is "
                       f"probably damaged - delete it and download again")


def _unrar_library(archive: Path, staging: Path, members: list[Member]) -> bool:
    """One pass over the archive with RARLAB's own decoder (solid archives included), writing
    each checked member ourselves: folders, then links, then the files as they stream out."""
    try:
        from unrar.cffi.unrarlib import RarArchive
    except ImportError:
        return False
    by_name = {m.name: m for m in members}
    for member in members:
        if member.kind == "dir":
            (staging / member.name).mkdir(parents=True, exist_ok=True)
    for member in members:
        if member.kind == "link":
            (staging / member.name).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(member.target or "", staging / member.name)
    with RarArchive.open_for_processing(str(archive)) as rar:
        for header in rar.iterate_headers():
            name = header.FileNameW.replace("\\", "/").rstrip("/")
            member = by_name.get(name)
            if member is None:
                raise UnsafeArchiveError(f"{archive}: member {name!r} is not in the checked list")
            if member.kind != "file":
                header.skip()
                continue
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as out:
                header.test(out.write)  # decodes, checks the CRC, streams the data to us
    return True


def _unar(archive: Path, staging: Path, members: list[Member]) -> bool:
    unar = shutil.which("unar")
    if not unar:
        return False
    result = subprocess.run([unar, "-q", "-f", "-D", "-nr", "-o", str(staging), str(archive)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise ArchiveError(f"unar exited {result.returncode} ({' '.join(last)})")
    return True


def _rarfile(archive: Path, staging: Path, members: list[Member]) -> bool:
    import rarfile

    try:
        with rarfile.RarFile(archive) as handle:
            handle.extractall(staging)
    except rarfile.RarCannotExec:
        return False
    return True


def _missing(staging: Path, members: list[Member]) -> list[str]:
    """Files the member list promises that are not on disk with their stated size."""
    missing = []
    for member in members:
        if member.kind != "file":
            continue
        path = staging / member.name
        if not path.is_file() or path.stat().st_size != member.size:
            missing.append(member.name)
    return missing


def extract(archive: Path, dest: Path, *, nested: bool = False) -> bool:
    """Unpack ``archive`` into ``dest`` (replacing it) unless that was already done.

    ``nested``: the archive holds one archive per class (HMDB-51's ``hmdb51_org.rar``); each inner
    archive is checked and unpacked into ``dest/<its stem>/`` and the inner archives are dropped.
    Returns True if it extracted, False if ``dest`` was already complete.
    """
    if is_extracted(archive, dest):
        log.info("%s: already extracted into %s", archive.name, dest)
        return False
    members = list_members(archive)
    check_members(members, str(archive))
    staging = dest.with_name(dest.name + ".partial")
    if staging.exists():
        log.info("%s: removing a half-finished extraction", staging)
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    _unpack(archive, staging, members)
    check_tree(staging)
    missing = _missing(staging, members)
    if missing:
        raise ArchiveError(f"{archive}: {len(missing)} member(s) missing or short after extraction "
                           f"(first: {missing[0]!r}); the archive is probably damaged - delete it "
                           f"and download again")
    if nested:
        _unpack_inner(archive, staging, members)
    (staging / MARKER).write_text(json.dumps({"source": _fingerprint(archive)}, indent=1) + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(staging, dest)
    log.info("%s: extracted %d members into %s", archive.name, len(members), dest)
    return True


def _unpack_inner(outer: Path, staging: Path, members: list[Member]) -> None:
    inner_names = [m.name for m in members if m.kind == "file"]
    for name in inner_names:
        inner = staging / name
        try:
            archive_format(inner)
        except ArchiveError:
            continue  # a plain file beside the per-class archives (a readme): keep it
        label = f"{outer}!{name}"
        inner_members = list_members(inner)
        check_members(inner_members, label)
        target = staging / Path(name).stem
        holding = staging / (Path(name).stem + ".inner")
        holding.mkdir()
        _unpack(inner, holding, inner_members)
        check_tree(holding)
        missing = _missing(holding, inner_members)
        if missing:
            raise ArchiveError(f"{label}: {len(missing)} member(s) missing after extraction "
                               f"(first: {missing[0]!r})")
        inner.unlink()
        entries = list(holding.iterdir())
        # brush_hair.rar usually holds brush_hair/...: do not nest the class folder twice.
        if len(entries) == 1 and entries[0].is_dir() and entries[0].name == target.name:
            os.replace(entries[0], target)
            holding.rmdir()
        else:
            os.replace(holding, target)
