"""Things the tests build: archives in memory (ZIP: RAR cannot be written without the non-free
tool) and edits of a copied project's source."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def edit_source(path: Path, old: str, new: str) -> str:
    """Replace the first ``old`` in ``path`` with ``new``; returns the text before the edit."""
    text = path.read_text()
    assert old in text, f"{path}: the edit's anchor {old!r} is gone; pick another"
    path.write_text(text.replace(old, new, 1))
    return text
