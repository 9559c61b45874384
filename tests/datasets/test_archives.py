"""Extraction: real RAR fixtures (RAR3, RAR5, solid, links, hostile), nesting, idempotence."""

from __future__ import annotations

import re
import shutil
import zlib
from pathlib import Path

import pytest

from builders import make_zip

from twostream.datasets import archives
from twostream.datasets.archives import (MARKER, ArchiveError, Member, UnsafeArchiveError, check_members,
                                         extract, list_members)

RAR = Path(__file__).parents[1] / "data" / "rar"


def _expected(exp: Path) -> dict[str, tuple[int, int]]:
    """name -> (size, crc32) of the regular files an .exp listing describes."""
    files, entry = {}, {}
    for line in exp.read_text(encoding="utf-8").splitlines():
        if re.match(r"^(R5_)?FILE:", line):
            entry = {"is": line.split("is=")[1].strip()}
        for key, pattern in (("dec", r"\bdec=(\d+)"), ("crc", r"\bcrc=0x([0-9a-f]+)"),
                             ("name", r"^\s+name=(.*)$")):
            match = re.search(pattern, line)
            if match and key not in entry:
                entry[key] = match.group(1)
        if {"is", "dec", "crc", "name"} <= set(entry) and entry["is"].startswith("F"):
            files[entry["name"]] = (int(entry["dec"]), int(entry["crc"], 16))
            entry = {"is": "done"}
    return files


def _extracts_exactly(name: str, dest: Path) -> None:
    archive = RAR / f"{name}.rar"
    assert extract(archive, dest)
    expected = _expected(RAR / f"{name}.rar.exp")
    assert expected
    for member, (size, crc) in expected.items():
        data = (dest / member).read_bytes()
        assert (len(data), zlib.crc32(data)) == (size, crc), member
    got = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file() and p.name != MARKER}
    assert got == set(expected)


@pytest.mark.parametrize("name", ["rar3-subdirs", "rar5-subdirs", "rar3-solid"])
def test_real_rar_archives_extract_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           name: str) -> None:
    """With what `pip install` brings alone (RARLAB's UnRAR library): no unar on the PATH."""
    monkeypatch.setattr(archives.shutil, "which", lambda _: None)
    monkeypatch.setattr(archives, "_rarfile", _must_not_run)
    _extracts_exactly(name, tmp_path / "out")


@pytest.mark.skipif(shutil.which("unar") is None,
                    reason="needs the Debian package 'unar' (apt-get install unar; .ci/run does)")
# Not rar5-subdirs: Debian's unar 1.10 fails to parse it ("Attempted to read more data than was
# available"); the UnRAR library, tried first, unpacks it (test above).
@pytest.mark.parametrize("name", ["rar3-subdirs", "rar3-solid"])
def test_real_rar_archives_extract_exactly_with_unar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     name: str) -> None:
    monkeypatch.setattr(archives, "_unrar_library", lambda *_: False)
    monkeypatch.setattr(archives, "_rarfile", _must_not_run)
    _extracts_exactly(name, tmp_path / "out")


def test_no_rar_extractor_names_both_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archives, "_unrar_library", lambda *_: False)
    monkeypatch.setattr(archives, "_unar", lambda *_: False)
    monkeypatch.setattr(archives, "_rarfile", lambda *_: False)
    with pytest.raises(ArchiveError, match="unrar2-cffi.*'unar'"):
        extract(RAR / "rar3-solid.rar", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_damaged_rar_data_fails_naming_the_archive(tmp_path: Path) -> None:
    """A flipped byte in the packed data: the CRC check fails, nothing lands under the name."""
    data = bytearray((RAR / "rar3-solid.rar").read_bytes())
    data[100] ^= 0xFF  # inside the compressed data of its first file (the archive is 221 bytes)
    damaged = tmp_path / "damaged.rar"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="damaged.rar"):
        extract(damaged, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _must_not_run(*_: object) -> bool:
    raise AssertionError("this extractor should not have been needed")


def test_hostile_rar_is_refused_before_writing(tmp_path: Path) -> None:
    dest = tmp_path / "target" / "out"
    with pytest.raises(UnsafeArchiveError, match=r"'up' -> '\.\.'"):
        extract(RAR / "rar5-evil-symlink-traversal.rar", dest)
    assert not any(tmp_path.rglob("pwned.txt"))
    assert not dest.exists() and not dest.with_name("out.partial").exists()


def test_link_pointing_out_is_refused(tmp_path: Path) -> None:
    members = list_members(RAR / "rar3-symlink-unix.rar")
    assert Member("data_link", "link", 0, "data.txt") in members
    with pytest.raises(UnsafeArchiveError, match="random_link"):
        extract(RAR / "rar3-symlink-unix.rar", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("members, bad", [
    ([Member("/etc/passwd", "file", 1)], "absolute"),
    ([Member("C:/Windows/x", "file", 1)], "absolute"),
    ([Member("a/../../x", "file", 1)], "'..'"),
    ([Member("up", "link", 0, "..")], "outside"),
    ([Member("abs", "link", 0, "/tmp")], "outside"),
    # Each link looks harmless on its own; followed in turn they leave the folder.
    ([Member("b", "link", 0, "."), Member("a", "link", 0, "b/.."), Member("a/x", "file", 1)], "outside"),
    ([Member("d", "dir"), Member("d/l", "link", 0, "../.."), Member("d/l/x", "file", 1)], "outside"),
    ([Member("loop1", "link", 0, "loop2"), Member("loop2", "link", 0, "loop1"),
      Member("loop1/x", "file", 1)], "outside"),
])
def test_check_members_refuses_escapes(members: list[Member], bad: str) -> None:
    with pytest.raises(UnsafeArchiveError, match=bad):
        check_members(members, "test.rar")


def test_check_members_accepts_links_that_stay_inside() -> None:
    check_members([Member("sub/dir", "dir"), Member("sub/dir/f", "file", 3),
                   Member("sub/l", "link", 0, "dir/f"), Member("top", "link", 0, "sub/dir"),
                   Member("top/g", "file", 2), Member("sub/up", "link", 0, "../sub")], "ok.rar")




def test_finished_extraction_is_not_redone_and_half_finished_is_redone(tmp_path: Path) -> None:
    archive = tmp_path / "splits.zip"
    archive.write_bytes(make_zip({"lists/a.txt": b"1", "lists/b.txt": b"22"}))
    dest = tmp_path / "out"
    assert extract(archive, dest) is True
    assert extract(archive, dest) is False
    # A killed run leaves a .partial folder and maybe a stale dest: both are cleaned.
    (dest / MARKER).unlink()
    partial = tmp_path / "out.partial"
    (partial / "lists").mkdir(parents=True)
    (partial / "lists" / "a.txt").write_text("half")
    (dest / "lists" / "junk.txt").write_text("from an older archive")
    assert extract(archive, dest) is True
    assert not partial.exists()
    assert sorted(p.name for p in (dest / "lists").iterdir()) == ["a.txt", "b.txt"]
    # A different archive at the same path (re-downloaded) is extracted again.
    archive.write_bytes(make_zip({"lists/c.txt": b"333"}))
    assert extract(archive, dest) is True
    assert [p.name for p in (dest / "lists").iterdir()] == ["c.txt"]


def test_hostile_zip_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    archive.write_bytes(make_zip({"ok.txt": b"x", "../evil.txt": b"y"}))
    with pytest.raises(UnsafeArchiveError, match="evil.txt"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out").exists()


def test_nested_archive_of_per_class_archives(tmp_path: Path) -> None:
    """HMDB-51's layout: one outer archive of per-class archives, each holding <class>/*.avi."""
    outer = tmp_path / "hmdb51_org.rar"  # names can lie: the format is read from the bytes
    outer.write_bytes(make_zip({"brush_hair.rar": make_zip({"brush_hair/a.avi": b"aa", "brush_hair/b.avi": b"b"}),
                            "wave.rar": make_zip({"wave/c (1)!.avi": b"ccc"})}))
    dest = tmp_path / "videos"
    assert extract(outer, dest, nested=True)
    got = sorted(str(p.relative_to(dest)) for p in dest.rglob("*.avi"))
    assert got == ["brush_hair/a.avi", "brush_hair/b.avi", "wave/c (1)!.avi"]
    assert not list(dest.glob("*.rar"))


def test_nested_hostile_inner_archive_is_refused(tmp_path: Path) -> None:
    outer = tmp_path / "outer.zip"
    outer.write_bytes(make_zip({"ok.rar": make_zip({"ok/a.avi": b"a"}),
                            "evil.rar": (RAR / "rar5-evil-symlink-traversal.rar").read_bytes()}))
    dest = tmp_path / "videos"
    with pytest.raises(UnsafeArchiveError, match=r"outer.zip!evil.rar"):
        extract(outer, dest, nested=True)
    assert not any(tmp_path.rglob("pwned.txt")) and not dest.exists()


def test_not_an_archive_names_the_file(tmp_path: Path) -> None:
    page = tmp_path / "UCF101.rar"
    page.write_bytes(b"<html>503 Service Unavailable</html>")
    with pytest.raises(ArchiveError, match="UCF101.rar.*HTML error page"):
        extract(page, tmp_path / "out")


def test_truncated_rar_names_the_file(tmp_path: Path) -> None:
    cut = tmp_path / "cut.rar"
    cut.write_bytes((RAR / "rar3-subdirs.rar").read_bytes()[:300])
    with pytest.raises(ArchiveError, match="cut.rar"):
        extract(cut, tmp_path / "out")
    assert not (tmp_path / "out").exists()
