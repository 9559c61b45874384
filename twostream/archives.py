"""Safe, idempotent extraction of dataset archives (RAR, ZIP, TAR; nested RAR-of-RARs).

RAR is read by `rarfile` (PyPI) and unpacked in one pass by `unar` (Debian package ``unar``),
with rarfile's own member-by-member extraction as the fallback. Nothing here parses RAR.

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

log = logging.getLogger(__name__)
MARKER = ".extracted.json"
_MAX_LINK_DEPTH = 40


class ArchiveError(RuntimeError):
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
    unar = shutil.which("unar")
    if unar:
        result = subprocess.run([unar, "-q", "-f", "-D", "-nr", "-o", str(staging), str(archive)],
                                capture_output=True, text=True)
        if result.returncode == 0 and _missing(staging, members) == []:
            return
        log.warning("%s: unar failed (%s); extracting member by member with rarfile instead",
                    archive, (result.stderr or result.stdout).strip().splitlines()[-1:] or result.returncode)
        shutil.rmtree(staging)
        staging.mkdir()
    import rarfile

    try:
        with rarfile.RarFile(archive) as handle:
            handle.extractall(staging)
    except rarfile.RarCannotExec as err:
        raise ArchiveError(f"{archive}: no RAR extractor found ({err}); install the Debian package "
                           f"'unar' (apt-get install unar) or 'unrar'") from err
    except rarfile.Error as err:
        raise ArchiveError(f"{archive}: extraction failed ({type(err).__name__}: {err})") from err


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
