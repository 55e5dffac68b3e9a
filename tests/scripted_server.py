"""A loopback HTTP(S) server that answers with exactly the bytes a test scripts, and records what it got.

The simulated Hub builds its answers from models (JSON it serializes, headers it derives), so it
cannot send what a hostile or broken Hub might: a lone surrogate escape in an error body, a header
with a 5,000-digit number, a redirect to another scheme. This server sends any status, headers and
body given, and doubles as a proxy that must never be reached.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    body: bytes = b"[]"


@dataclass
class Seen:
    method: str
    target: str  # the request line's target: a full URL when the request came for a proxy
    headers: dict[str, str]


@dataclass
class ScriptedServer:
    """Answers every request with `answer` (or the next of `queue` while it lasts)."""

    answer: Answer = field(default_factory=Answer)
    ssl_context: ssl.SSLContext | None = None
    queue: list[Answer] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ScriptedServer:
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _answer(self) -> None:
                script.seen.append(Seen(self.command, self.path, dict(self.headers.items())))
                answer = script.queue.pop(0) if script.queue else script.answer
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_CONNECT = _answer

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.ssl_context is not None:
            self._server.socket = self.ssl_context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up early is what some tests do; stderr belongs to the poller


def json_answer(status: int, body: bytes, *headers: tuple[str, str]) -> Answer:
    return Answer(status, (("Content-Type", "application/json; charset=utf-8"), *headers), body)


def iter_lines(stderr: str) -> Iterator[str]:
    yield from (line for line in stderr.split("\n") if line)
