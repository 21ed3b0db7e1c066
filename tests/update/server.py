"""A real HTTP server on 127.0.0.1 serving bundles for the update tests: `/<name>` from a
dict of bytes or files (streamed: QEMU tests serve 200 MB bundles), HEAD too;
`/short/<name>` announces the full length, sends half, hangs up."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class BundleServer:
    def __init__(self, files: dict[str, bytes | Path]) -> None:
        self.files = files
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Authorization
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                served.requests.append((self.command, self.path,
                                        self.headers.get("Authorization")))
                short = self.path.startswith("/short/")
                name = self.path.removeprefix("/short/").lstrip("/")
                data = served.files.get(name)
                if data is None:
                    self.send_error(404, "no such bundle")
                    return
                size = data.stat().st_size if isinstance(data, Path) else len(data)
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                if not body:
                    return
                if isinstance(data, Path):
                    with open(data, "rb") as source:
                        shutil.copyfileobj(source, self.wfile, 1 << 20)
                else:
                    self.wfile.write(data[:size // 2] if short else data)
                self.wfile.flush()
                self.close_connection = short

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@contextmanager
def serve(files: dict[str, bytes | Path]) -> Iterator[BundleServer]:
    server = BundleServer(files)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
