"""HTTP access to the audit-log export: retries, deadline, and one-line errors.

Retries of the request itself (connection errors, and the statuses retry_policy.py says to retry)
are urllib3's `Retry`, taught the Hub's `RateLimit` header and the poll deadline. A body that breaks
midway is downloaded again as a whole (`ExportClient.attempts`), since nothing has been emitted
before the body is complete.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__
from .errors import DataError, HfAuditError, NetworkError
from .hubtext import hub_text
from .readahead import read_ahead
from .retry_policy import RETRY_STATUSES, rule_for
from .settings import Settings, is_loopback_host
from .stream import NotAnArray, iter_json_array

CHUNK_BYTES = 256 * 1024
READ_AHEAD_CHUNKS = 8  # chunks of the body inflated ahead of the parser (2 MiB)
_RATELIMIT_RESET = re.compile(r"(?:^|;)\s*t\s*=\s*(\d+)")
_RATELIMIT_REMAINING = re.compile(r"(?:^|;)\s*r\s*=\s*(\d+)")
# Header numbers are the Hub's text: a 5,000-digit one must not crash int() (Python refuses more
# than 4,300 digits) nor a 64-bit JSON writer. Waits are clamped, counts beyond this are ignored.
MAX_HEADER_NUMBER = 10**12
MAX_HEADER_DIGITS = len(str(MAX_HEADER_NUMBER))


def header_number(digits: str) -> int | None:
    """A header's decimal number, or None when it is beyond MAX_HEADER_NUMBER."""
    if len(digits) > MAX_HEADER_DIGITS or int(digits) > MAX_HEADER_NUMBER:
        return None
    return int(digits)



class DeadlineExceeded(NetworkError):
    pass


class TLSError(NetworkError):
    pass


class HubRetry(Retry):
    """urllib3 Retry that also waits for the Hub's `RateLimit: ...;t=<seconds>` and never
    sleeps past the poll deadline (it gives up instead, so the poll ends inside its interval)."""

    def __init__(self, *args: Any, deadline: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # Retry's own arguments, passed through as given
        self.deadline = deadline

    def new(self, **kw: object) -> HubRetry:
        kw.setdefault("deadline", self.deadline)
        return super().new(**kw)

    def parse_retry_after(self, retry_after: str) -> float:
        if re.fullmatch(r"\s*[0-9]+\s*", retry_after) and header_number(retry_after.strip()) is None:
            return float(self.retry_after_max)  # absurdly long: past any deadline, so give up
        return super().parse_retry_after(retry_after)

    def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
        retry_after = super().get_retry_after(response)
        reset = _RATELIMIT_RESET.search(response.headers.get("RateLimit", ""))
        if reset is not None and response.status == 429:
            seconds = header_number(reset.group(1))
            return max(retry_after or 0.0, float(MAX_HEADER_NUMBER if seconds is None else seconds))
        return retry_after

    def sleep(self, response: urllib3.BaseHTTPResponse | None = None) -> None:
        wait = (self.get_retry_after(response) if response is not None else None) or self.get_backoff_time()
        if self.deadline is not None and time.monotonic() + wait > self.deadline:
            status = f"HTTP {response.status}" if response is not None else "a connection error"
            raise DeadlineExceeded(
                f"gave up after {status}: the next retry would wait {wait:.0f}s, past the poll deadline"
            )
        if wait > 0:
            time.sleep(wait)


@dataclass
class FetchStats:
    attempts: int = 0
    bytes_read: int = 0
    status: int = 0
    request_id: str = ""
    rate_limit_remaining: int | None = None
    retries: int = 0


def user_agent() -> str:
    return f"hf-audit/{__version__} (Fluent Bit exec input; +https://github.com/hf-audit) python-requests/{requests.__version__}"


class RedirectRefused(NetworkError):
    pass


def tls_verify(settings: Settings, environ: Mapping[str, str] = os.environ) -> tuple[str | bool, str]:
    """What verifies the Hub's certificate (requests' `verify`), and where that choice came from.

    Passed with every request: requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE override a
    Session's own `verify`, so setting it on the Session alone would lose HF_AUDIT_CA_BUNDLE.
    """
    if settings.ca_bundle is not None:
        return str(settings.ca_bundle), f"{settings.ca_bundle} (HF_AUDIT_CA_BUNDLE)"
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if environ.get(name):
            return environ[name], f"{environ[name]} ({name})"
    return True, f"{requests.utils.DEFAULT_CA_BUNDLE_PATH} (the bundle requests ships)"


class GuardedSession(requests.Session):
    """A Session that follows a redirect only where the endpoint itself may go: from an https
    endpoint only to https, from a plain-http (loopback) endpoint only to loopback hosts."""

    def __init__(self, endpoint: str) -> None:
        super().__init__()
        self.endpoint_scheme = urlsplit(endpoint).scheme

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        try:
            target = super().get_redirect_target(resp)
        except UnicodeDecodeError:  # requests reads Location as UTF-8
            resp.close()
            raise RedirectRefused(
                f"refused the Hub's redirect (HTTP {resp.status_code}): its target is not UTF-8 text; nothing was printed"
            ) from None
        if target is not None:
            self._refuse_unsafe(resp, target)
        return target

    def _refuse_unsafe(self, resp: requests.Response, target: str) -> None:
        location = urljoin(resp.url, f"{urlsplit(resp.url).scheme}:{target}" if target.startswith("//") else target)
        parts = urlsplit(location)
        if self.endpoint_scheme == "https":
            safe = parts.scheme == "https"
            why = "it leaves https"
        else:
            safe = parts.scheme in ("http", "https") and is_loopback_host(parts.hostname or "")
            why = "it leaves the loopback address a plain-http endpoint is limited to"
        if not safe:
            resp.close()
            raise RedirectRefused(
                f"refused the Hub's redirect (HTTP {resp.status_code}) to {hub_text(location, 200)!r}: {why}; "
                "nothing was printed. Check HF_ENDPOINT and any proxy or gateway in front of the Hub"
            )


def build_session(settings: Settings, deadline: float) -> requests.Session:
    session = GuardedSession(settings.endpoint)
    if settings.endpoint.startswith("http://"):
        # Plain http is allowed to loopback only: a proxy from HTTP_PROXY/ALL_PROXY would carry
        # the token in clear across the network, so the environment is not consulted at all.
        session.trust_env = False
    retry = HubRetry(
        deadline=deadline,
        total=settings.max_retries,
        connect=settings.max_retries,
        read=settings.max_retries,
        status=settings.max_retries,
        other=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=1.0,
        backoff_max=60,
        backoff_jitter=1.0,
        respect_retry_after_header=True,
        raise_on_status=False,  # the last answer is turned into a clear error below
    )
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.headers["User-Agent"] = user_agent()
    session.headers["Accept"] = "application/json"
    session.headers["Accept-Encoding"] = "gzip"
    session.verify = tls_verify(settings)[0]
    return session


def error_text_of(body: object) -> str:
    """The Hub's error text in a JSON body: {"error": ...}, {"error": [...]} or {"errors": [...]}."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, list):
        return "; ".join(str(item) for item in error)
    if error:
        return str(error)
    errors = body.get("errors")
    if isinstance(errors, list):
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
    return ""


def hub_error_text(response: requests.Response, body_text: str | None = None) -> str:
    """The Hub's own explanation: X-Error-Message, or a JSON error body; never an HTML page."""
    header = response.headers.get("X-Error-Message", "").strip()
    if header:
        return hub_text(header)
    try:
        body = json.loads(body_text) if body_text is not None else response.json()
    except (ValueError, RecursionError):
        return ""
    return hub_text(error_text_of(body))


def _with_context(message: str, response: requests.Response, body_text: str | None = None) -> str:
    text = hub_error_text(response, body_text)
    request_id = hub_text(response.headers.get("X-Request-Id", ""), 100)
    code = hub_text(response.headers.get("X-Error-Code", ""), 100)
    parts = [message]
    if text:
        parts.append(f"Hub says: {text}")
    if code:
        parts.append(f"code {code}")
    if request_id:
        parts.append(f"request id {request_id}")
    return "; ".join(parts)


def error_for_status(response: requests.Response, org: str) -> HfAuditError:
    """The error a final answer that is no success ends the poll with, as retry_policy.py says."""
    status = response.status_code
    rule = rule_for(status)
    error = rule.error or DataError  # only a success has none, and a success is no error
    return error(_with_context(rule.failure(status, org), response))


class ExportClient:
    def __init__(self, settings: Settings, deadline: float, log: logging.Logger | None = None) -> None:
        """`deadline` is a time.monotonic() value by which the whole fetch gives up."""
        self.settings = settings
        self.deadline = deadline
        self.session = build_session(settings, deadline)
        if settings.trace and log is not None:
            self.session.hooks["response"].append(_tracer(log))
        self.url = f"{settings.endpoint}/api/organizations/{quote(settings.org, safe='')}/audit-log/export"
        self.stats = FetchStats()

    def attempts(self) -> Generator[Body, None, None]:
        """The export's body, once per download attempt, each an iterable of its raw items.

        Read each body as far as needed, then ask for the next: there is one only when the body
        broke off midway (its iteration then simply ends), and its items start afresh, so what was
        built from the broken one must be dropped. When every attempt broke, or the deadline is
        near, NetworkError. Errors of the request and of the body's JSON raise as they come.
        A body is read while this iterator is open and has not moved on: closing it (or asking it
        for the next) closes the body's connection.
        """
        deadline = self.deadline
        body_attempts = 1 + min(self.settings.max_retries, 2)
        for attempt in range(1, body_attempts + 1):
            with self._open() as response:
                body = self._body(response)
                try:
                    yield body
                finally:
                    body.close()
            if body.broken is None:
                return
            if attempt == body_attempts or time.monotonic() + 1 > deadline:
                raise NetworkError(f"the export download broke off midway ({body.broken}); nothing was emitted")
            self.stats.retries += 1
            time.sleep(min(2.0**attempt, max(0.0, deadline - time.monotonic() - 1)))

    @contextlib.contextmanager
    def _open(self) -> Iterator[requests.Response]:
        """GET the export (retried per HubRetry); yields the 200 response, raises a clear error otherwise."""
        settings = self.settings
        params = {"q": settings.query} if settings.query else None
        self.stats.attempts += 1
        try:
            response = self.session.get(
                self.url,
                params=params,
                headers={"Authorization": f"Bearer {settings.token.get_secret_value()}"},
                timeout=(settings.connect_timeout, settings.read_timeout),
                stream=True,
                verify=self.session.verify,  # else REQUESTS_CA_BUNDLE would win over HF_AUDIT_CA_BUNDLE
            )
        except requests.exceptions.SSLError as exc:
            raise TLSError(
                f"TLS verification of {settings.endpoint} failed: {_reason(exc)} (CA bundle: {tls_verify(settings)[1]})"
            ) from None
        except requests.exceptions.ConnectionError as exc:
            raise NetworkError(f"cannot reach {settings.endpoint}: {_reason(exc)}") from None
        except requests.exceptions.Timeout:
            raise NetworkError(f"{settings.endpoint} did not answer within {settings.read_timeout:.0f}s") from None
        except requests.exceptions.RequestException as exc:
            raise NetworkError(f"request to {settings.endpoint} failed: {_reason(exc)}") from None
        with response:
            self._record(response)
            if rule_for(response.status_code).action != "success":
                raise error_for_status(response, settings.org)
            yield response

    def _body(self, response: requests.Response) -> Body:
        content_type = response.headers.get("Content-Type", "")
        if "html" in content_type.lower():
            raise DataError(_with_context("the Hub answered an HTML page instead of the JSON export", response))
        return Body(response, self._chunks(response), self.settings.max_event_bytes)

    def probe(self) -> bytes:
        """One request, for `doctor`: the first bytes of the export body (errors raise as in a poll)."""
        with self._open() as response:
            chunks: Iterator[bytes] = response.iter_content(256)
            return next(chunks, b"")

    def _chunks(self, response: requests.Response) -> Generator[bytes, None, None]:
        try:
            for chunk in read_ahead(response.iter_content(CHUNK_BYTES), READ_AHEAD_CHUNKS):
                self.stats.bytes_read += len(chunk)
                yield chunk
                if time.monotonic() > self.deadline:
                    raise DeadlineExceeded("the export download did not finish before the poll deadline")
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as exc:
            raise _BodyBroken(_reason(exc)) from None
        except requests.exceptions.ContentDecodingError:
            raise DataError("the export body could not be decompressed (corrupt gzip)") from None

    def _record(self, response: requests.Response) -> None:
        self.stats.status = response.status_code
        self.stats.request_id = response.headers.get("X-Request-Id", "")
        remaining = _RATELIMIT_REMAINING.search(response.headers.get("RateLimit", ""))
        self.stats.rate_limit_remaining = header_number(remaining.group(1)) if remaining else None
        retries = getattr(response.raw, "retries", None)
        history = retries.history if retries else ()
        self.stats.retries += len(history)


class _BodyBroken(Exception):
    pass


@dataclass
class Body:
    """One download attempt's items, parsed from the body as it streams in. A body that breaks off
    midway ends its items early and says why in `broken`."""

    response: requests.Response
    chunks: Generator[bytes, None, None]
    max_item_chars: int
    broken: str | None = field(default=None, init=False)

    def __iter__(self) -> Iterator[object]:
        try:
            yield from iter_json_array(self.chunks, max_item_chars=self.max_item_chars)
        except _BodyBroken as exc:
            self.broken = str(exc)
        except NotAnArray as exc:
            # The body was read by the stream already: its start is all there is to quote.
            message = f"the export is not a JSON array; it starts with {exc.snippet[:80]!r}"
            raise DataError(_with_context(message, self.response, exc.snippet)) from None

    def close(self) -> None:
        self.chunks.close()  # stops the read-ahead thread when the poll stopped reading early
        _sever(self.response)  # and ends its read if it is blocked on a stalled body


def _sever(response: requests.Response) -> None:
    """Shut the response's socket down, if it is still open. A read blocked on it in the read-ahead
    thread returns at once; without this, closing the response waits for that read (the buffered
    reader's lock), so a signal would take effect only when the Hub sends bytes again."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, also under TLS


_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})


def redacted_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: "***" if name.lower() in _SECRET_HEADERS else value for name, value in headers.items()}


def _tracer(log: logging.Logger) -> Callable[..., None]:
    """A requests response hook logging each exchange, with credentials and cookies masked."""

    def trace(response: requests.Response, *args: object, **kwargs: object) -> None:
        request = response.request
        log.info(
            "http exchange",
            extra={
                "fields": {
                    "event": "http_trace",
                    "method": request.method,
                    "url": hub_text(request.url or "", 1000),
                    "status": response.status_code,
                    "elapsed_ms": round(response.elapsed.total_seconds() * 1000, 1),
                    "request_headers": redacted_headers(request.headers),
                    # The Hub's headers, and the URL a redirect of the Hub's led to, are its text.
                    "response_headers": {name: hub_text(value, 1000) for name, value in redacted_headers(response.headers).items()},
                }
            },
        )

    return trace


def _reason(exc: BaseException) -> str:
    """The innermost cause, without the URL-and-object noise requests wraps around it."""
    inner: BaseException = exc
    while True:
        nested = inner.args[0] if inner.args and isinstance(inner.args[0], BaseException) else None
        nested = nested or getattr(inner, "reason", None) or inner.__cause__ or inner.__context__
        if not isinstance(nested, BaseException) or nested is inner:
            break
        inner = nested
    return hub_text(str(inner) or type(inner).__name__)
