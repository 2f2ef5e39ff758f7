"""A real HTTP server on 127.0.0.1 serving fixed bytes per path (404 elsewhere), for download
tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace


@contextmanager
def serve_files(files: dict[str, bytes]) -> Iterator[SimpleNamespace]:
    """Yield (base URL, requests) while serving `files` ({"/path": body}); `requests` counts
    GETs per path."""
    requests: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            requests[self.path] = requests.get(self.path, 0) + 1
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(base=f"http://127.0.0.1:{httpd.server_address[1]}",
                              requests=requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
