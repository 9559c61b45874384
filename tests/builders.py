"""Archives built in memory by the tests (ZIP: RAR cannot be written without the non-free tool)."""

from __future__ import annotations

import io
import zipfile


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()
