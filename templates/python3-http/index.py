"""One worker of the pool: an HTTP server on 127.0.0.1:$PORT calling handler.handle per request.

Standard library only, so the template builds without reaching a package index.
"""
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from function import handler


class Event:
    def __init__(self, body, headers, method, query, path):
        self.body = body
        self.headers = headers
        self.method = method
        self.query = query
        self.path = path


class Context:
    def __init__(self):
        self.hostname = socket.gethostname()


CONTEXT = Context()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self):
        url = urlsplit(self.path)
        event = Event(
            body=self._body(),
            headers=dict(self.headers.items()),
            method=self.command,
            query=parse_qs(url.query),
            path=url.path,
        )
        try:
            result = handler.handle(event, CONTEXT)
            status, headers, body = 200, {}, result
            if isinstance(result, dict):
                status = int(result.get("statusCode", 200))
                headers = result.get("headers") or {}
                body = result.get("body", "")
        except Exception as error:  # the caller gets a 500, the worker lives on
            print(f"handler failed: {error!r}", file=sys.stderr, flush=True)
            status, headers, body = 500, {"Content-Type": "text/plain"}, f"{error}\n"
        if body is None:
            body = b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format, *args):
        # One line per call would cost more than the call; the watchdog logs what matters.
        pass


def main():
    port = int(os.environ.get("PORT", "5000"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
