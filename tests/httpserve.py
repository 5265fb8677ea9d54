"""A real HTTP server on 127.0.0.1 serving a folder, for the download tests (nothing downloads from the
internet in tests; the ``server`` and ``cache`` fixtures of ``conftest.py`` use it). Besides the files:
``/hub/PATH`` redirects to ``/PATH`` as the Hub redirects to its CDN; ``/slow/PATH`` answers after 3 s;
``/cut/PATH`` promises the whole file and sends half; ``/nolength/PATH`` streams it without a
Content-Length; ``/loop`` redirects to ``/loop2`` and back; a path listed in :attr:`Handler.ETAGS` is sent
with the Hub's ``X-Linked-Etag``."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path


class Handler(http.server.SimpleHTTPRequestHandler):
    ETAGS: dict[str, str] = {}

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def end_headers(self) -> None:
        tag = self.ETAGS.get(self.path)
        if tag:
            self.send_header("X-Linked-Etag", f'"{tag}"')
        super().end_headers()

    def do_GET(self) -> None:
        if self.path.startswith("/hub/"):  # the Hub: a redirect to the CDN, stating the file's SHA-256
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/hub"))
            self.end_headers()
            return
        if self.path in ("/loop", "/loop2"):
            self.send_response(302)
            self.send_header("Location", "/loop2" if self.path == "/loop" else "/loop")
            self.end_headers()
            return
        if self.path.startswith("/slow/"):
            time.sleep(3)
        for prefix in ("/cut/", "/nolength/"):
            if self.path.startswith(prefix):
                data = (Path(self.directory) / self.path.removeprefix(prefix)).read_bytes()
                self.send_response(200)
                if prefix == "/cut/":
                    self.send_header("Content-Length", str(len(data)))
                    data = data[: len(data) // 2]
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                self.close_connection = True
                return
        super().do_GET()


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` until the block ends; yields the base URL."""
    Handler.ETAGS = {}
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        srv.server_close()
