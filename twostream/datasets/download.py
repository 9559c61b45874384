"""Fetch dataset archives: mirrors in order, HTTP Range resume, retries, sha256 verification.

An archive is written to ``<name>.part`` and only renamed to ``<name>`` once its checksum is
verified, so a truncated, interrupted or tampered download can never feed a later stage. The
checksum is the pinned one when the caller knows it; otherwise the first verified-complete
download records it in ``<name>.sha256`` beside the archive and every later use checks the
file against that record. A ``.part.json`` sidecar remembers where the partial bytes came from
(URL, ETag / Last-Modified), so a restarted run asks for the rest with ``Range`` and
``If-Range`` and never splices bytes of two different files together.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from twostream.errors import UserError
from twostream.progress import progress

log = logging.getLogger(__name__)
CHUNK = 1 << 20
NET_CHUNK = 1 << 16  # small reads: a dropped connection loses at most this much
_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


class DownloadError(UserError, RuntimeError):
    """No URL gave a verified copy; the message lists what each URL did and the fix."""


class ChecksumError(DownloadError):
    """A file's sha256 differs from the pinned or recorded one."""


class _GiveUpOnURL(Exception):
    """This URL cannot serve the file (404, TLS failure...): go to the next mirror at once."""


class _RetryableStatus(Exception):
    """A transient server answer (5xx, 429): retry the same URL after a pause."""


@dataclass(frozen=True)
class FetchOptions:
    """How hard to try. ``insecure_tls`` skips certificate checks (the UCF site's known trouble)."""
    retries: int = 5
    timeout: float = 60.0
    backoff: float = 2.0
    insecure_tls: bool = False


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _record_path(final: Path) -> Path:
    return final.with_name(final.name + ".sha256")


def recorded_sha256(final: Path) -> str | None:
    record = _record_path(final)
    return record.read_text().split()[0] if record.is_file() else None


def fetch(name: str, urls: list[str] | tuple[str, ...], dest_dir: Path, *, sha256: str = "",
          options: FetchOptions = FetchOptions()) -> Path:
    """Return ``dest_dir/name``, verified, downloading it from the first URL that works."""
    if not urls:
        raise DownloadError(f"{name}: no URL to fetch it from; give the official URL or a mirror")
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / name
    sha256 = sha256.lower()
    if final.is_file():
        expected = sha256 or recorded_sha256(final)
        if expected is None:
            # Complete files only ever appear by rename after a download, so it is whole: record it.
            _record_path(final).write_text(f"{sha256_file(final)}  {name}\n")
            return final
        actual = sha256_file(final)
        if actual == expected:
            log.info("%s: present and verified (sha256 %s...)", final, actual[:12])
            return final
        bad = final.with_name(final.name + ".bad")
        os.replace(final, bad)
        log.warning("%s: sha256 %s does not match %s %s; moved to %s and downloading again",
                    final, actual, "pinned" if sha256 else "recorded", expected, bad)

    if options.insecure_tls:
        log.warning("%s: TLS certificate checks are OFF (insecure_tls: true); the sha256 check is "
                    "the only protection against a tampered file", name)
    failures: list[str] = []
    part = final.with_name(final.name + ".part")
    for url in urls:
        try:
            _download_with_retries(url, part, options)
        except (_GiveUpOnURL, _RetryableStatus, requests.RequestException, OSError) as err:
            failures.append(f"  {url}: {_describe(err)}")
            log.warning("%s: %s failed (%s); trying the next URL", name, url, _describe(err))
            continue
        actual = sha256_file(part)
        if sha256 and actual != sha256:
            bad = final.with_name(final.name + ".bad")
            os.replace(part, bad)
            _sidecar(part).unlink(missing_ok=True)
            failures.append(f"  {url}: sha256 {actual} but {sha256} is pinned (file kept as {bad})")
            log.error("%s: checksum mismatch from %s", name, url)
            continue
        os.replace(part, final)
        _sidecar(part).unlink(missing_ok=True)
        _record_path(final).write_text(f"{actual}  {name}\n")
        if not sha256:
            log.info("%s: downloaded, sha256 %s recorded in %s (pin it in params to verify "
                     "future downloads)", name, actual, _record_path(final))
        return final
    kind = ChecksumError if failures and all("sha256" in f for f in failures) else DownloadError
    raise kind(f"{name}: no URL gave a verified copy:\n" + "\n".join(failures) +
               "\nFix: check the network, add a working mirror URL to params.yaml, or place a "
               f"verified copy at {final}")


def _describe(err: BaseException) -> str:
    """One readable line: the innermost cause of a requests/urllib3 error, not its whole chain."""
    if isinstance(err, requests.exceptions.SSLError):
        return "TLS certificate check failed; set insecure_tls: true only if you trust this host"
    if isinstance(err, requests.ConnectionError) and not isinstance(
            err, requests.exceptions.ChunkedEncodingError):
        cause = err.args[0] if err.args else err
        reason = getattr(cause, "reason", cause)
        text = str(reason)
        return "connection failed: " + (text.split("] ", 1)[1] if "] " in text else text)
    return str(err)


def _sidecar(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _download_with_retries(url: str, part: Path, options: FetchOptions) -> None:
    attempt = 0
    while True:
        try:
            _download_once(url, part, options)
            return
        except _GiveUpOnURL:
            raise
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                _RetryableStatus) as err:
            if isinstance(err, requests.exceptions.SSLError):
                raise _GiveUpOnURL(f"TLS failure ({err}); if this is the UCF site's known certificate "
                                   f"problem, set insecure_tls: true for this dataset") from err
            attempt += 1
            if attempt > options.retries:
                raise
            delay = min(options.backoff * 2 ** (attempt - 1), 60.0)
            have = part.stat().st_size if part.exists() else 0
            log.warning("%s: %s; retry %d/%d in %.0f s from byte %d", url, _describe(err), attempt,
                        options.retries, delay, have)
            time.sleep(delay)


def _validator(response: requests.Response) -> str | None:
    return response.headers.get("ETag") or response.headers.get("Last-Modified")


def _download_once(url: str, part: Path, options: FetchOptions) -> None:
    """Append the missing bytes of ``url`` to ``part``; restart from zero if that is unsafe."""
    state: dict[str, Any] = {}
    if part.exists() and _sidecar(part).is_file():
        state = json.loads(_sidecar(part).read_text())
    offset = part.stat().st_size if part.exists() and state.get("url") == url else 0
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if state.get("validator"):
            headers["If-Range"] = state["validator"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Unverified HTTPS request")
        response = requests.get(url, headers=headers, stream=True, timeout=options.timeout,
                                verify=not options.insecure_tls)
    with response:
        if response.status_code == 416 and offset:
            total = state.get("total")
            if total is not None and offset == total:
                return  # already complete: a kill came after the last byte, before the rename
            part.unlink()  # our part is longer than the file: start over
            raise _RetryableStatus("416 range not satisfiable; restarting from byte 0")
        if response.status_code in _RETRYABLE_STATUS:
            raise _RetryableStatus(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise _GiveUpOnURL(f"HTTP {response.status_code} {response.reason}")
        if response.status_code == 206:
            start = _content_range_start(response)
            if start != offset:
                raise _GiveUpOnURL(f"server resumed at byte {start}, asked for {offset}")
            total = _content_range_total(response)
            mode = "ab"
        else:  # 200: the whole file (no Range support, or it changed since the partial download)
            if offset:
                log.info("%s: server sent the whole file; restarting from byte 0", url)
            offset = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
            mode = "wb"
        _sidecar(part).write_text(json.dumps({"url": url, "validator": _validator(response),
                                              "total": total}))
        with open(part, mode) as out, progress(total=total, initial=offset, unit="B", unit_scale=True,
                                               unit_divisor=1024, desc=part.name[:-5]) as bar:
            for chunk in response.iter_content(NET_CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        raise requests.exceptions.ChunkedEncodingError(f"connection closed at byte {size} of {total}")


def _content_range_start(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Range", "")  # "bytes 100-199/200"
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _content_range_total(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Range", "")
    total = value.rpartition("/")[2]
    return int(total) if total.isdigit() else None
