"""A local HTTP(S) file server on 127.0.0.1 for download tests: Range, ETag, dropped connections."""

from __future__ import annotations

import hashlib
import re
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Served:
    """What the server holds, and how it misbehaves."""
    files: dict[str, bytes] = field(default_factory=dict)
    cut_after: dict[str, list[int]] = field(default_factory=dict)  # path -> byte counts, one per request
    status: dict[str, int] = field(default_factory=dict)  # path -> forced status code
    ranges: bool = True
    requests: list[tuple[str, str | None, int]] = field(default_factory=list)  # (path, Range, status)


class _Handler(BaseHTTPRequestHandler):
    served: Served

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        served = self.served
        path = self.path.split("?")[0]
        range_header = self.headers.get("Range")
        if path in served.status:
            self._reply(served.status[path], b"forced failure")
            served.requests.append((path, range_header, served.status[path]))
            return
        body = served.files.get(path)
        if body is None:
            self._reply(404, b"not found")
            served.requests.append((path, range_header, 404))
            return
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        start = 0
        status = 200
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if served.ranges and match and self.headers.get("If-Range", etag) == etag:
            start = int(match.group(1))
            if start >= len(body):
                served.requests.append((path, range_header, 416))
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        payload = body[start:]
        served.requests.append((path, range_header, status))
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes" if served.ranges else "none")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        cuts = served.cut_after.get(path)
        if cuts:
            self.wfile.write(payload[:cuts.pop(0)])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)

    def _reply(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FileServer:
    """``with FileServer(served) as base_url:`` serves ``served.files`` until the block ends."""

    def __init__(self, served: Served, certfile: Path | None = None, keyfile: Path | None = None):
        handler = type("Handler", (_Handler,), {"served": served})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        scheme = "http"
        if certfile is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
