"""Downloads against a server on 127.0.0.1: mirrors, resume, checksums, TLS."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from http_server import FileServer, Served
from twostream.datasets.download import ChecksumError, DownloadError, FetchOptions, fetch, recorded_sha256

BODY = os.urandom(300_000)
SHA = hashlib.sha256(BODY).hexdigest()
FAST = FetchOptions(retries=3, timeout=5, backoff=0.0)


def _dead_url() -> str:
    """A URL on a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/UCF101.rar"


def test_download_verifies_and_records(tmp_path: Path) -> None:
    served = Served(files={"/a/UCF101.rar": BODY})
    with FileServer(served) as url:
        path = fetch("UCF101.rar", [url + "/a/UCF101.rar"], tmp_path, options=FAST)
    assert path.read_bytes() == BODY
    assert recorded_sha256(path) == SHA
    assert not list(tmp_path.glob("*.part*"))
    # A second call finds the verified file and does not touch the network.
    assert fetch("UCF101.rar", ["http://127.0.0.1:1/never"], tmp_path, options=FAST) == path


def test_resumes_after_dropped_connection(tmp_path: Path) -> None:
    served = Served(files={"/f.rar": BODY}, cut_after={"/f.rar": [200_000, 100_000]})
    with FileServer(served) as url:
        path = fetch("f.rar", [url + "/f.rar"], tmp_path, sha256=SHA, options=FAST)
    assert path.read_bytes() == BODY
    # Each retry asks only for the rest (bytes already on disk are kept).
    assert [r[2] for r in served.requests] == [200, 206, 206]
    starts = [int(r[1][6:-1]) for r in served.requests[1:]]
    assert 0 < starts[0] <= 200_000 < starts[1] <= 300_000


def test_resumes_partial_file_left_by_a_killed_run(tmp_path: Path) -> None:
    served = Served(files={"/f.rar": BODY}, cut_after={"/f.rar": [120_000]})
    with FileServer(served) as url:
        with pytest.raises(DownloadError):
            fetch("f.rar", [url + "/f.rar"], tmp_path, options=FetchOptions(retries=0, backoff=0))
        kept = (tmp_path / "f.rar.part").stat().st_size
        assert 0 < kept <= 120_000
        assert not (tmp_path / "f.rar").exists()  # nothing incomplete under the final name
        path = fetch("f.rar", [url + "/f.rar"], tmp_path, sha256=SHA, options=FAST)
    assert path.read_bytes() == BODY
    assert served.requests[-1][1:] == (f"bytes={kept}-", 206)


def test_restarts_when_server_ignores_range(tmp_path: Path) -> None:
    served = Served(files={"/f.rar": BODY}, cut_after={"/f.rar": [1000]}, ranges=False)
    with FileServer(served) as url:
        path = fetch("f.rar", [url + "/f.rar"], tmp_path, sha256=SHA, options=FAST)
    assert path.read_bytes() == BODY


def test_dead_and_missing_mirrors_fall_through(tmp_path: Path) -> None:
    served = Served(files={"/good/f.rar": BODY}, status={"/busy/f.rar": 503})
    with FileServer(served) as url:
        urls = [_dead_url(), url + "/gone/f.rar", url + "/busy/f.rar", url + "/good/f.rar"]
        path = fetch("f.rar", urls, tmp_path, sha256=SHA, options=FAST)
    assert path.read_bytes() == BODY
    busy = [r for r in served.requests if r[0] == "/busy/f.rar"]
    assert len(busy) == FAST.retries + 1  # 503 is retried, then the next mirror


def test_checksum_mismatch_never_feeds_a_later_stage(tmp_path: Path) -> None:
    served = Served(files={"/f.rar": BODY})
    with FileServer(served) as url:
        with pytest.raises(ChecksumError, match="0000000000") as info:
            fetch("f.rar", [url + "/f.rar"], tmp_path, sha256="0" * 64, options=FAST)
    assert SHA in str(info.value)
    assert not (tmp_path / "f.rar").exists()
    assert (tmp_path / "f.rar.bad").read_bytes() == BODY


def test_bad_first_mirror_checksum_then_good_mirror(tmp_path: Path) -> None:
    served = Served(files={"/evil/f.rar": b"tampered" + BODY[8:], "/ok/f.rar": BODY})
    with FileServer(served) as url:
        path = fetch("f.rar", [url + "/evil/f.rar", url + "/ok/f.rar"], tmp_path, sha256=SHA,
                     options=FAST)
    assert path.read_bytes() == BODY


def test_corrupted_cached_copy_is_replaced(tmp_path: Path) -> None:
    served = Served(files={"/f.rar": BODY})
    with FileServer(served) as url:
        path = fetch("f.rar", [url + "/f.rar"], tmp_path, options=FAST)
        path.write_bytes(BODY[:1000])  # bit rot / a truncating copy after the record was written
        again = fetch("f.rar", [url + "/f.rar"], tmp_path, options=FAST)
    assert again.read_bytes() == BODY
    assert len([r for r in served.requests if r[2] == 200]) == 2


def test_all_urls_failing_names_each(tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as info:
        fetch("f.rar", [_dead_url(), _dead_url()], tmp_path, options=FetchOptions(retries=1, backoff=0))
    message = str(info.value)
    assert message.count("127.0.0.1") == 2 and "mirror" in message


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"openssl cannot make a test certificate: {err}")
    return cert, key


def test_tls_is_verified_unless_explicitly_allowed(tmp_path: Path, self_signed, caplog) -> None:
    cert, key = self_signed
    served = Served(files={"/f.rar": BODY})
    with FileServer(served, cert, key) as url:
        assert url.startswith("https://")
        with pytest.raises(DownloadError, match="insecure_tls"):
            fetch("f.rar", [url + "/f.rar"], tmp_path, options=FAST)
        assert served.requests == []  # the handshake failed before any request
        insecure = FetchOptions(retries=0, backoff=0, insecure_tls=True)
        path = fetch("f.rar", [url + "/f.rar"], tmp_path, sha256=SHA, options=insecure)
    assert path.read_bytes() == BODY
    assert "TLS certificate checks are OFF" in caplog.text


def test_part_sidecar_ties_bytes_to_their_source(tmp_path: Path) -> None:
    """A partial file from another URL is not resumed: its bytes may belong to another file."""
    (tmp_path / "f.rar.part").write_bytes(b"x" * 5000)
    (tmp_path / "f.rar.part.json").write_text(json.dumps({"url": "http://elsewhere/f.rar"}))
    served = Served(files={"/f.rar": BODY})
    with FileServer(served) as url:
        path = fetch("f.rar", [url + "/f.rar"], tmp_path, sha256=SHA, options=FAST)
    assert path.read_bytes() == BODY
    assert served.requests[0][1] is None

