"""A simulated Hugging Face Hub serving an organization's audit-log export (or several: SimulatedFleet).

It answers like the real endpoint (auth, plan checks, headers, gzip, `q` search, rate-limit
headers) and can be told to misbehave (`queue_fault`) so a poller's error handling can be
tested against a real socket. A small control API under `/_sim/` lets a process that only
has the URL add events.
"""

from __future__ import annotations

import gzip
import random
import re
import secrets
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field

from .events import DataProfile, generate_events

__all__ = ["Fault", "FaultKind", "Order", "Plan", "RecordedRequest", "SimulatedFleet", "SimulatedHub"]

Order = Literal["newest-first", "oldest-first", "random"]
Plan = Literal["enterprise", "team", "free"]
FaultKind = Literal[
    "status",
    "rate_limited",
    "cut_body",
    "cut_body_no_length",
    "stall",
    "reset",
    "invalid_json",
    "html_page",
    "json_object",
    "empty_array",
    "not_json",
    "slow_body",
]

CHUNK_SIZE = 64 * 1024  # bytes per socket write when streaming a body
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
FORBIDDEN = "Audit logs are only available to admins of Team and Enterprise organizations"
ORG_NOT_FOUND = "Organization not found"
_EXPORT_PATH = re.compile(r"^/api/organizations/(?P<org>[^/]+)/audit-log/export/?$")
_HTML_HOME = (
    b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Hugging Face \xe2\x80\x93 "
    b"The AI community building the future.</title></head><body><main><h1>Sign in</h1>"
    b"</main></body></html>\n"
)


class Fault(BaseModel):
    """One way for the next export request to go wrong.

    Parameters by kind (others are ignored):
    - status: `status`, `headers`, `body` (JSON value, default `{"error": <reason>}`), `html`.
    - rate_limited: `reset` (seconds, the `t` of RateLimit), `retry_after` (adds Retry-After).
    - cut_body: `nbytes` or `fraction` of the real body sent under its full Content-Length.
    - cut_body_no_length: the same prefix, no Content-Length, `Connection: close`.
    - stall: wait `seconds`, `where` = "headers" (before any byte) or "body" (after `nbytes` or
      `fraction` of the body, then the rest follows).
    - reset: TCP RST, `where` = "headers" (right after the request) or "body" (mid-body).
    - slow_body: the real body in `chunk_size` pieces with `seconds` between them.
    - invalid_json, html_page, not_json, empty_array: 200 with such a body;
      json_object: 200 with `body` (default `{"error": "something went wrong"}`).
    """

    model_config = ConfigDict(frozen=True)

    kind: FaultKind
    status: int = Field(default=500, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    html: bool = False
    reset: int = Field(default=55, ge=0)
    retry_after: int | None = None
    nbytes: int | None = Field(default=None, ge=0)
    fraction: float = Field(default=0.5, ge=0.0, le=1.0)
    seconds: float = Field(default=5.0, ge=0.0)
    where: Literal["headers", "body"] = "headers"
    chunk_size: int = Field(default=1024, ge=1)

    def prefix_length(self, total: int) -> int:
        """How many bytes of a `total`-byte body to send before misbehaving (always < total)."""
        wanted = self.nbytes if self.nbytes is not None else int(total * self.fraction)
        return max(0, min(wanted, total - 1))


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the hub saw it, with the Authorization value redacted."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass
class _Export:
    """A serialized export ready to send; gzip computed at most once."""

    raw: bytes
    _gzipped: bytes | None = field(default=None, repr=False)

    def gzipped(self) -> bytes:
        if self._gzipped is None:
            # Level 1: several times faster than the default on 50 MB, still ~8x smaller.
            self._gzipped = gzip.compress(self.raw, compresslevel=1, mtime=0)
        return self._gzipped


def _sort_key(event: dict[str, Any]) -> tuple[datetime, str]:
    """Chronological key; unparsable timestamps sort first rather than crash the hub."""
    try:
        moment = datetime.fromisoformat(str(event.get("createdAt")))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        moment = datetime.min.replace(tzinfo=UTC)
    return moment, str(event.get("_id", ""))


def _term_matcher(term: str) -> Callable[[dict[str, Any]], bool]:
    """One `q` term: `type:X` (`X*` = prefix), `author:NAME`, `ip:ADDR`, else message text."""
    key, sep, value = term.partition(":")
    if sep and key == "type":
        if value.endswith("*"):
            return lambda e: str(e.get("type", "")).startswith(value[:-1])
        return lambda e: e.get("type") == value
    if sep and key == "author":
        return lambda e: isinstance(e.get("author"), dict) and e["author"].get("user") == value
    if sep and key == "ip":
        return lambda e: e.get("ip") == value
    needle = term.casefold()
    return lambda e: needle in str(e.get("message", "")).casefold()


def _matches_all(q: str) -> Callable[[dict[str, Any]], bool] | None:
    """The `q` filter (terms ANDed), or None when there is nothing to filter."""
    matchers = [_term_matcher(term) for term in q.split()]
    if not matchers:
        return None
    return lambda event: all(match(event) for match in matchers)


def _break_json(body: bytes) -> bytes:
    """A JSON array with one comma missing near the middle: valid-looking, unparsable."""
    middle = len(body) // 2
    at = body.find(b"},{", middle)
    at = at if at >= 0 else body.rfind(b"},{", 0, middle)
    if at < 0:  # fewer than two events: hand-made breakage
        return b'[{"_id":"6650a1b2c3d4e5f6a7b8c9d0" "type":"repo.create"}]'
    return body[: at + 1] + body[at + 2 :]


def _request_id() -> str:
    """An AWS-style trace id, like the one the Hub's load balancer adds."""
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"


class _RateWindow:
    """The Hub's fixed-window limiter: `quota` requests per `window` seconds."""

    def __init__(self, quota: int, window: int) -> None:
        self.quota, self.window = quota, window
        self._start = time.monotonic()
        self._used = 0

    def take(self) -> tuple[bool, int, int]:
        """Count one request; returns (allowed, remaining, seconds until reset)."""
        now = time.monotonic()
        if now - self._start >= self.window:
            self._start, self._used = now, 0
        self._used += 1
        reset = max(1, int(self._start + self.window - now))
        return self._used <= self.quota, max(0, self.quota - self._used), reset

    def policy(self) -> str:
        return f'"fixed window";"api";q={self.quota};w={self.window}'


class SimulatedHub:
    """An HTTP server pretending to be huggingface.co for one organization's audit-log export.

    Thread-safe; use as a context manager or call `start()`/`stop()`. `token`, `plan` and
    `admin` may be changed while running.
    """

    def __init__(
        self,
        org: str = "acme",
        token: str = "hf_simulated_token",
        events: list[dict[str, Any]] | None = None,
        order: Order = "newest-first",
        limit: int = 100_000,
        plan: Plan = "enterprise",
        admin: bool = True,
        gzip: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: int = 0,
        rate_limit_quota: int = 500,
        rate_limit_window: int = 300,
        ssl_context: ssl.SSLContext | None = None,
        data_profile: DataProfile = "plain",
    ) -> None:
        """`ssl_context` (a server-side context holding a certificate) serves HTTPS instead of HTTP;
        `host` may be an IPv6 address such as "::1"; `data_profile` is that of the events the hub
        generates itself (generate_newer, generate_late)."""
        self.org, self.token, self.plan, self.admin, self.gzip = org, token, plan, admin, gzip
        self.ssl_context = ssl_context
        self.data_profile: DataProfile = data_profile
        self.limit = limit
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._order: Order = order
        self._events: list[dict[str, Any]] = sorted(events or [], key=_sort_key)  # oldest first
        self._cache: dict[tuple[str, str, int], _Export] = {}  # (q, order, limit) -> body
        self._faults: deque[Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._rng = random.Random(seed)
        self._rate = _RateWindow(rate_limit_quota, rate_limit_window)
        self._server: _HubServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> str:
        """Bind and serve in a background thread; returns the base URL."""
        if self._server is not None:
            return self.url
        self._stopping.clear()
        self._server = _HubServer((self._host, self._port), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="simhub", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and drop open connections (including stalled and keep-alive ones)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a stall
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        _close_server(server, connections, self._thread)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulated hub is not running")
        return _server_url(self._server, "https" if self.ssl_context is not None else "http")

    def __enter__(self) -> SimulatedHub:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- content --------------------------------------------------------------------------

    @property
    def events(self) -> list[dict[str, Any]]:
        """All stored events, oldest first (the export serves the newest `limit` of them)."""
        with self._lock:
            return list(self._events)

    def add_events(self, events: Iterable[dict[str, Any]]) -> None:
        """Add new or late-arriving events; they take their chronological place."""
        with self._lock:
            self._events = sorted([*self._events, *events], key=_sort_key)
            self._cache.clear()

    def set_order(self, order: Order) -> None:
        with self._lock:
            self._order = order
            self._cache.clear()

    @property
    def order(self) -> Order:
        return self._order

    def generate_newer(self, count: int) -> list[dict[str, Any]]:
        """Add `count` generated events newer than the current newest one; returns them."""
        now = datetime.now(UTC)
        with self._lock:
            newest = _sort_key(self._events[-1])[0] if self._events else now - timedelta(minutes=1)
            seed = self._rng.getrandbits(32)
        ms = timedelta(milliseconds=1)
        # Within the last second or so before now, as fresh events are; but always after the
        # newest, one millisecond apart if the clock is behind it.
        end = max(now, newest + (count + 1) * ms)
        span = min(max(count * ms, timedelta(seconds=1)), end - newest - ms)
        added = generate_events(count, seed=seed, end=end, span=span, org=self.org, data_profile=self.data_profile)
        self.add_events(added)
        return added

    def generate_late(self, count: int, age: timedelta) -> list[dict[str, Any]]:
        """Add `count` generated events created `age` before the current newest one."""
        with self._lock:
            newest = _sort_key(self._events[-1])[0] if self._events else datetime.now(UTC)
            seed = self._rng.getrandbits(32)
        span = timedelta(milliseconds=max(count, 1000))  # a burst within about a second
        added = generate_events(count, seed=seed, end=newest - age, span=span, org=self.org, data_profile=self.data_profile)
        self.add_events(added)
        return added

    # --- faults and recording -------------------------------------------------------------

    def queue_fault(self, fault: Fault, times: int = 1) -> None:
        """Make the next `times` export requests fail with `fault` (FIFO after earlier ones)."""
        with self._lock:
            self._faults.extend([fault] * times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    @property
    def requests_seen(self) -> list[RecordedRequest]:
        """Requests to the Hub API so far (control calls under /_sim/ are not recorded)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # --- used by the request handler ------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _take_rate(self) -> tuple[bool, int, int]:
        """Count one export against the rate limit: (allowed, remaining, seconds to reset)."""
        with self._lock:
            return self._rate.take()

    def _rate_headers(self, remaining: int, reset: int) -> dict[str, str]:
        return {"RateLimit": f'"api";r={remaining};t={reset}', "RateLimit-Policy": self._rate.policy()}

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            (self._connections.add if alive else self._connections.discard)(conn)

    def _serialized_export(self, q: str) -> _Export:
        """The export body for `q`: filter, keep the newest `limit`, order, serialize."""
        with self._lock:
            events, key = self._events, (q, self._order, self.limit)
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        _, order, limit = key
        match = _matches_all(q)
        selected = [e for e in events if match(e)] if match else events
        selected = selected[-limit:] if limit > 0 else []  # slicing copies: safe to reorder
        if order == "newest-first":
            selected.reverse()
        elif order == "random":
            with self._lock:
                self._rng.shuffle(selected)
        export = _Export(orjson.dumps(selected))
        if order != "random":
            with self._lock:
                if self._events is events:  # nothing changed meanwhile: safe to reuse
                    if len(self._cache) >= 16:
                        self._cache.clear()
                    self._cache[key] = export
        return export


class _HubServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], hub: SimulatedHub) -> None:
        self.hub = hub
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """With TLS, the handshake runs here, in the connection's own thread: a client that never
        completes it (or rejects the certificate) holds up only that thread."""
        context = self.hub.ssl_context
        if context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)  # for the handshake; the handler sets its own timeout after it
        tls = context.wrap_socket(request, server_side=True)
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-response are expected here (faults, timeouts): stay quiet."""


class _ClientGone(Exception):
    """The client closed the connection, or the hub is stopping."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real Hub behind its load balancer
    server_version = "SimulatedHub/1.0"
    timeout = 60  # idle keep-alive connections end eventually
    server: _HubServer

    def version_string(self) -> str:
        return self.server_version

    # --- plumbing -------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.hub._track(self.connection, alive=True)

    def finish(self) -> None:
        self.server.hub._track(self.connection, alive=False)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silent: test output stays readable."""

    @property
    def hub(self) -> SimulatedHub:
        return self.server.hub

    def _begin(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("X-Request-Id", _request_id())
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _write(self, body: bytes | memoryview) -> None:
        """Stream `body` in chunks so a 50 MB export never sits in one giant send."""
        view = memoryview(body)
        try:
            for start in range(0, len(view), CHUNK_SIZE):
                self.wfile.write(view[start : start + CHUNK_SIZE])
        except OSError as exc:
            self.close_connection = True
            raise _ClientGone from exc

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self._begin(status, {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})})
        self._write(body)

    def _send_error_json(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        body = orjson.dumps({"error": message})
        extra = {"X-Error-Message": " ".join(message.split()), **(headers or {})}  # one header line
        self._send(status, body, "application/json; charset=utf-8", extra)

    def _pause(self, seconds: float) -> None:
        if self.hub._stopping.wait(seconds):
            self.close_connection = True
            raise _ClientGone

    def _abort_with_reset(self) -> None:
        """Close with SO_LINGER 0 so the kernel sends RST instead of a clean FIN."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()  # the descriptor really closes once rfile/wfile do, in finish()

    # --- routing --------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        # Always consume a request body, or it would be read as the next keep-alive request.
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            if parts.path.startswith("/_sim/"):
                self._control(method, parts.path, query, body)
                return
            self.hub._record(self._recorded(method, parts.path, query))
            found = _EXPORT_PATH.match(parts.path)
            if method == "GET" and found:
                self._export(unquote(found["org"]), query.get("q", ""))
            else:
                self._send_error_json(404, "Not Found")
        except _ClientGone:
            pass

    def _recorded(self, method: str, path: str, query: dict[str, str]) -> RecordedRequest:
        headers = dict(self.headers.items())
        for name in headers:
            if name.lower() == "authorization":
                scheme = headers[name].split(" ", 1)[0] if " " in headers[name] else ""
                headers[name] = f"{scheme} ***".strip()
        return RecordedRequest(method, path, query, headers)

    # --- the export endpoint --------------------------------------------------------------

    def _accepts_gzip(self) -> bool:
        for item in self.headers.get("Accept-Encoding", "").split(","):
            name, _, params = item.strip().partition(";")
            if name.strip().lower() in ("gzip", "*") and params.replace(" ", "") not in ("q=0", "q=0.0"):
                return True
        return False

    def _export(self, org: str, q: str) -> None:
        fault = self.hub._next_fault()
        if fault is not None:
            _FaultPlayer(self, fault).play(q)
            return
        hub = self.hub
        if self.headers.get("Authorization") != f"Bearer {hub.token}":
            self._send_error_json(401, INVALID_CREDENTIALS)
        elif org != hub.org:
            self._send_error_json(404, ORG_NOT_FOUND)
        elif hub.plan == "free" or not hub.admin:
            self._send_error_json(403, FORBIDDEN)
        else:
            allowed, remaining, reset = hub._take_rate()
            if not allowed:  # the quota is real too, not only a fault
                _FaultPlayer(self, Fault(kind="rate_limited", reset=reset)).play(q)
                return
            body, headers = self._export_payload(q)
            headers.update(hub._rate_headers(remaining, reset))
            self._send(200, body, "application/json; charset=utf-8", headers)

    def _export_payload(self, q: str) -> tuple[bytes, dict[str, str]]:
        """The normal 200 body (gzip when both sides want it) and its headers."""
        export = self.hub._serialized_export(q)
        date = datetime.now(UTC).strftime("%Y-%m-%d")
        headers = {
            "Content-Disposition": f'attachment; filename="audit-logs-{self.hub.org}-{date}.json"',
            "Vary": "Accept-Encoding",
        }
        if self.hub.gzip and self._accepts_gzip():
            headers["Content-Encoding"] = "gzip"
            return export.gzipped(), headers
        return export.raw, headers

    # --- control API ----------------------------------------------------------------------

    def _control(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        try:
            count = int(query.get("count", "1"))
            age = timedelta(minutes=float(query.get("age_minutes", "10")))
            times = int(query.get("times", "1"))
            if count < 0 or times < 0:
                raise ValueError("negative")
        except ValueError:
            self._send_error_json(400, "count, age_minutes and times must be non-negative numbers")
            return
        json_type = "application/json"
        match method, path:
            case "GET", "/_sim/health":
                self._send(200, orjson.dumps({"ok": True}), json_type)
            case "POST", "/_sim/events":
                self._send(200, orjson.dumps(self.hub.generate_newer(count)), json_type)
            case "POST", "/_sim/late":
                self._send(200, orjson.dumps(self.hub.generate_late(count, age)), json_type)
            case "POST", "/_sim/fault":
                self._queue_fault_from_body(body, times)
            case _:
                self._send_error_json(404, "Not Found")

    def _queue_fault_from_body(self, body: bytes, times: int) -> None:
        try:
            fault = Fault.model_validate_json(body)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            self._send_error_json(400, f"invalid fault: {exc}")
            return
        self.hub.queue_fault(fault, times)
        self._send(200, orjson.dumps({"queued": times, "fault": fault.model_dump()}), "application/json")


class _FaultPlayer:
    """Plays one fault on a handler's connection instead of the normal answer."""

    def __init__(self, handler: _Handler, fault: Fault) -> None:
        self.h, self.fault = handler, fault

    def play(self, q: str) -> None:
        getattr(self, f"_{self.fault.kind}")(q)

    def _json_200(self, body: bytes) -> None:
        self.h._send(200, body, "application/json; charset=utf-8")

    def _status(self, q: str) -> None:
        f = self.fault
        try:
            reason = HTTPStatus(f.status).phrase
        except ValueError:  # a code http.HTTPStatus does not name
            reason = "Error"
        if f.html:  # what a CDN or proxy in front of the Hub answers
            title = f"{f.status} {reason}"
            body = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            body += "<hr><center>cloudfront</center>\r\n</body>\r\n</html>\r\n"
            self.h._send(f.status, body.encode(), "text/html", f.headers)
            return
        payload = f.body if f.body is not None else {"error": reason}
        headers = dict(f.headers)
        if isinstance(payload, dict) and isinstance(payload.get("error"), str):
            headers.setdefault("X-Error-Message", payload["error"])
        self.h._send(f.status, orjson.dumps(payload), "application/json; charset=utf-8", headers)

    def _rate_limited(self, q: str) -> None:
        f = self.fault
        message = f"You have exceeded the rate limit for this endpoint. Retry in {f.reset} seconds."
        headers = self.h.hub._rate_headers(0, f.reset)
        if f.retry_after is not None:
            headers["Retry-After"] = str(f.retry_after)
        self.h._send_error_json(429, message, headers)

    def _payload_begin(self, q: str, *, with_length: bool = True) -> bytes:
        """Send the normal 200 headers; returns the body the fault will mangle."""
        body, headers = self.h._export_payload(q)
        headers["Content-Type"] = "application/json; charset=utf-8"
        if with_length:
            headers["Content-Length"] = str(len(body))
        else:
            headers["Connection"] = "close"
            self.h.close_connection = True
        self.h._begin(200, headers)
        return body

    def _cut_body(self, q: str) -> None:
        body = self._payload_begin(q)
        self.h._write(body[: self.fault.prefix_length(len(body))])
        self.h.close_connection = True  # the client still expects the rest: only closing ends it

    def _cut_body_no_length(self, q: str) -> None:
        body = self._payload_begin(q, with_length=False)
        self.h._write(body[: self.fault.prefix_length(len(body))])

    def _stall(self, q: str) -> None:
        if self.fault.where == "headers":
            self.h._pause(self.fault.seconds)
            body, headers = self.h._export_payload(q)
            self.h._send(200, body, "application/json; charset=utf-8", headers)
            return
        body = self._payload_begin(q)
        cut = self.fault.prefix_length(len(body))
        self.h._write(body[:cut])
        self.h._pause(self.fault.seconds)
        self.h._write(body[cut:])

    def _reset(self, q: str) -> None:
        if self.fault.where == "body":
            body = self._payload_begin(q)
            self.h._write(body[: self.fault.prefix_length(len(body))])
        self.h._abort_with_reset()

    def _slow_body(self, q: str) -> None:
        body = self._payload_begin(q)
        size = self.fault.chunk_size
        for start in range(0, len(body), size):
            self.h._write(body[start : start + size])
            self.h._pause(self.fault.seconds)

    def _invalid_json(self, q: str) -> None:
        self._json_200(_break_json(self.h.hub._serialized_export(q).raw))

    def _html_page(self, q: str) -> None:
        self.h._send(200, _HTML_HOME, "text/html; charset=utf-8")

    def _json_object(self, q: str) -> None:
        body = self.fault.body if self.fault.body is not None else {"error": "something went wrong"}
        self._json_200(orjson.dumps(body))

    def _empty_array(self, q: str) -> None:
        self._json_200(b"[]")

    def _not_json(self, q: str) -> None:
        self.h._send(200, b"Service temporarily unavailable, please try again later.\n", "text/plain; charset=utf-8")


class _FleetHandler(_Handler):
    """Answers each export request from the hub of the organization in its path."""

    server: _FleetServer
    _chosen: SimulatedHub | None = None

    @property
    def hub(self) -> SimulatedHub:
        return self._chosen or self.server.hub

    def _route(self, method: str) -> None:
        found = _EXPORT_PATH.match(urlsplit(self.path).path)
        # An unknown organization goes to the first hub, which answers 404 "Organization not found".
        self._chosen = self.server.hubs.get(unquote(found["org"])) if found else None
        super()._route(method)


class _FleetServer(_HubServer):
    def __init__(self, address: tuple[str, int], hubs: dict[str, SimulatedHub]) -> None:
        self.hubs = hubs
        super().__init__(address, _FleetHandler, next(iter(hubs.values())))

def _close_server(server: ThreadingHTTPServer, connections: list[socket.socket], thread: threading.Thread | None) -> None:
    """After `server.shutdown()`: end open connections (idle keep-alive handlers would otherwise
    outlive the server), close it and wait for its thread."""
    for conn in connections:
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    server.server_close()
    if thread is not None:
        thread.join(timeout=5)


def _server_url(server: ThreadingHTTPServer, scheme: str) -> str:
    host, port = server.server_address[:2]
    if not isinstance(host, str):  # typeshed allows a bytes host; format it as text, not as b'...'
        host = bytes(host).decode("ascii")
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


class SimulatedFleet:
    """Several organizations behind one endpoint, as on the real Hub: each `SimulatedHub` (not
    started itself) keeps its own events, token, faults and recorded requests; `/_sim/` control
    calls go to the first one. `with SimulatedFleet(hubs) as fleet:` then `fleet.url`."""

    def __init__(self, hubs: Iterable[SimulatedHub], host: str = "127.0.0.1", port: int = 0) -> None:
        self.hubs = {hub.org: hub for hub in hubs}
        if not self.hubs:
            raise ValueError("a fleet needs at least one organization")
        self._address = (host, port)
        self._server: _FleetServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        if self._server is None:
            self._server = _FleetServer(self._address, self.hubs)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="simhub-fleet", daemon=True
            )
            self._thread.start()
        return self.url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        for hub in self.hubs.values():
            hub._stopping.set()
        server.shutdown()
        first = next(iter(self.hubs.values()))
        with first._lock:
            connections = list(first._connections)
        _close_server(server, connections, self._thread)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulated fleet is not running")
        return _server_url(self._server, "http")

    def __enter__(self) -> SimulatedFleet:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
