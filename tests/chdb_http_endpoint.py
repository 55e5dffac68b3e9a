"""Enough of ClickHouse's HTTP interface for Fluent Bit's http output, backed by the real engine (chdb).

`POST /?query=INSERT INTO db.t FORMAT JSONEachRow&<setting>=<value>...` with the rows as the body
(gzip or deflate when Content-Encoding says so) is run as
`INSERT INTO db.t FROM INFILE '<body file>' SETTINGS <settings> FORMAT JSONEachRow`, so the rows go
through ClickHouse's own parser and table. Other queries run as `query` + body and answer in
TabSeparated, like ClickHouse. Errors come back the way ClickHouse sends them: its text, the
`X-ClickHouse-Exception-Code` header, and the HTTP status ClickHouse maps that code to (a client
decides what to retry from it). Credentials are checked like ClickHouse does: X-ClickHouse-User /
X-ClickHouse-Key headers, HTTP basic auth, or user/password URL parameters; none means `default`.

It listens on loopback only and is a test fixture, not a server: one chdb session for every
request, one query at a time, table names qualified in the query (no `database` parameter).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hmac
import ipaddress
import json
import os
import re
import shutil
import tempfile
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from chdb import session as chdb_session

# URL parameters ClickHouse reads itself; every other parameter is a query setting.
_NOT_SETTINGS = frozenset({"query", "user", "password", "query_id", "default_format", "quota_key", "buffer_size", "wait_end_of_query"})
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INSERT_WITH_FORMAT = re.compile(
    r"""^\s*INSERT\s+INTO\s+(?:TABLE\s+)?
        (?P<target>[A-Za-z0-9_.`"]+)\s*
        (?P<columns>\([^)]*\))?\s*
        (?:SETTINGS\s+(?P<settings>.+?)\s+)?
        FORMAT\s+(?P<format>[A-Za-z0-9_]+)\s*;?\s*$""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_ERROR_CODE = re.compile(r"Code: (\d+)\. DB::Exception: ")
_ERROR_NAME = re.compile(r"\(([A-Z_]+)\)(?: \(version [^)]*\))?\.?\s*$")

# The HTTP status ClickHouse answers for an error name (its exceptionCodeToHTTPStatus); 500 otherwise.
_STATUS_BY_ERROR: dict[str, int] = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "ACCESS_DENIED"), 403),
    **dict.fromkeys(
        (
            "BAD_ARGUMENTS", "CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE", "CANNOT_PARSE_QUOTED_STRING",
            "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER", "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
            "CANNOT_PARSE_UUID", "CANNOT_PARSE_IPV4", "CANNOT_PARSE_IPV6", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN",
            "THERE_IS_NO_COLUMN", "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH",
            "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
        ),
        400,
    ),
    **dict.fromkeys(
        (
            "UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE", "UNKNOWN_STORAGE",
            "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_FORMAT", "UNKNOWN_TYPE_OF_QUERY",
        ),
        404,
    ),
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}  # fmt: skip


class QueryError(Exception):
    """A failed query, carried the way ClickHouse reports it over HTTP."""

    def __init__(self, status: int, code: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.code = code
        self.text = text


def query_error(exc: Exception) -> QueryError:
    """ClickHouse's own text for a chdb error (chdb repeats the prefix), with the status it maps to."""
    text = str(exc)
    codes = _ERROR_CODE.findall(text)
    code = int(codes[0]) if codes else 1002
    if len(codes) > 1:
        text = _ERROR_CODE.split(text, maxsplit=2)[-1]
        text = f"Code: {code}. DB::Exception: {text}"
    name = _ERROR_NAME.search(text)
    if name is None:
        return QueryError(500, code, text)
    if text.count(f"({name[1]})") > 1:  # chdb repeats the error name at the end too
        text = text[: name.start()].rstrip(" .")
    return QueryError(_STATUS_BY_ERROR.get(name[1], 500), code, text)


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _settings_clauses(settings: Mapping[str, str]) -> list[str]:
    clauses: list[str] = []
    for name, value in settings.items():
        if not _SETTING_NAME.match(name):
            raise QueryError(404, 115, f"Code: 115. DB::Exception: Unknown setting '{name}'. (UNKNOWN_SETTING)")
        clauses.append(f"{name} = {_sql_string(value)}")
    return clauses


def insert_from_file(query: str, settings: Mapping[str, str], data_file: Path) -> str | None:
    """`INSERT INTO t ... FORMAT f` (plus URL settings) as an insert that reads `data_file`.

    None when the query is not an INSERT with a FORMAT clause.
    """
    match = _INSERT_WITH_FORMAT.match(query)
    if not match:
        return None
    clauses = ([match["settings"]] if match["settings"] else []) + _settings_clauses(settings)
    settings_sql = f" SETTINGS {', '.join(clauses)}" if clauses else ""
    path = _sql_string(str(data_file))
    return f"INSERT INTO {match['target']} {match['columns'] or ''} FROM INFILE {path}{settings_sql} FORMAT {match['format']}"


def decoded_body(body: bytes, content_encoding: str) -> bytes:
    """The request body as ClickHouse reads it: decompressed as its Content-Encoding says."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    raise QueryError(415, 0, f"Code: 0. DB::Exception: Unsupported Content-Encoding: {encoding}. (UNSUPPORTED_MEDIA_TYPE)")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


class ChdbHttpEndpoint:
    """A loopback HTTP server in a thread; `with ChdbHttpEndpoint(path, user=..., password=...) as ch:`.

    `server_settings` are the defaults every query starts from (a server's user profile): a request's
    URL settings override them, as on a real server.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        user: str = "default",
        password: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        keep_bodies: bool = False,
        server_settings: Mapping[str, str] | None = None,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the test endpoint listens on loopback only, not {host}")
        self.user = user
        self._password = password
        self._lock = threading.RLock()
        self._session = chdb_session.Session(str(data_dir))
        for clause in _settings_clauses(server_settings or {}):  # the server's defaults, like a user profile
            self._session.query(f"SET {clause}")
        self._spool = Path(tempfile.mkdtemp(prefix="chdb-http-"))
        self.statuses: list[int] = []  # one per request, in arrival order
        self.bodies: list[bytes] = []  # the decoded request bodies, when keep_bodies
        self._keep_bodies = keep_bodies
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, name="chdb-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ChdbHttpEndpoint:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        with self._lock:
            self._session.close()
        shutil.rmtree(self._spool, ignore_errors=True)

    def query(self, sql: str, fmt: str = "TabSeparated") -> bytes:
        """Run one statement directly (no HTTP); raises QueryError like the endpoint would answer."""
        with self._lock:
            try:
                return self._session.query(sql, fmt).bytes()
            except RuntimeError as exc:
                raise query_error(exc) from None

    def query_in(self, database: str, sql: str) -> bytes:
        """Run `sql` with `database` as the current one, like `clickhouse-client --database`."""
        if not _SETTING_NAME.match(database):
            raise ValueError(f"not a plain database name: {database!r}")
        with self._lock:
            self.query(f"USE {database}")
            try:
                return self.query(sql)
            finally:
                self.query("USE default")

    def authorized(self, user: str, password: str) -> bool:
        return hmac.compare_digest(user.encode(), self.user.encode()) and hmac.compare_digest(
            password.encode(), self._password.encode()
        )

    def serve(self, params: Mapping[str, str], raw_body: bytes, content_encoding: str, user: str, password: str) -> Answer:
        """One HTTP request: credentials, then the body decoded, then the query; errors as ClickHouse answers."""
        try:
            if not self.authorized(user, password):
                raise QueryError(
                    403,
                    516,
                    f"Code: 516. DB::Exception: {user}: Authentication failed: password is incorrect, "
                    "or there is no user with such name. (AUTHENTICATION_FAILED)",
                )
            body = decoded_body(raw_body, content_encoding)
            if self._keep_bodies:
                self.bodies.append(body)
            answer = self.execute(params, body)
        except QueryError as error:
            answer = Answer(error.status, (error.text + "\n").encode(), {"X-ClickHouse-Exception-Code": str(error.code)})
        except (OSError, EOFError, zlib.error) as error:  # a body that does not decompress
            answer = Answer(400, f"Code: 0. DB::Exception: Cannot decompress the request body: {error}\n".encode(), {})
        self.statuses.append(answer.status)
        return answer

    def execute(self, params: Mapping[str, str], body: bytes) -> Answer:
        """Run the request's query; the body is the insert's data, or the rest of the query."""
        query = params.get("query")
        settings = {name: value for name, value in params.items() if name not in _NOT_SETTINGS}
        if query is None:
            query, body = body.decode("utf-8", "replace"), b""
        with tempfile.NamedTemporaryFile(dir=self._spool, suffix=".data") as data_file:
            data_file.write(body)
            data_file.flush()
            insert = insert_from_file(query, settings, Path(data_file.name))
            if insert is not None:
                with self._lock:
                    try:
                        result = self._session.query(insert, "TabSeparated")
                    except RuntimeError as exc:
                        raise query_error(exc) from None
                summary = {"written_rows": str(result.rows_written()), "written_bytes": str(result.bytes_written())}
                return Answer(200, b"", {"X-ClickHouse-Summary": json.dumps(summary)})
            if settings:
                query = f"{query.rstrip().rstrip(';')} SETTINGS {', '.join(_settings_clauses(settings))}"
            output = self.query(query + ("\n" + body.decode("utf-8", "replace") if body else ""), "TabSeparated")
            return Answer(200, output, {"Content-Type": "text/tab-separated-values; charset=UTF-8"})


def _credentials(handler: BaseHTTPRequestHandler, params: Mapping[str, str]) -> tuple[str, str]:
    if "X-ClickHouse-User" in handler.headers:
        return handler.headers["X-ClickHouse-User"], handler.headers.get("X-ClickHouse-Key", "")
    authorization = handler.headers.get("Authorization", "")
    if authorization.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(authorization[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return "", "\0"
        return user, password
    return params.get("user", "default"), params.get("password", "")


def _handler_for(endpoint: ChdbHttpEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Fluent Bit's upstream connections expect

        def do_GET(self) -> None:
            if urlsplit(self.path).path == "/ping":
                self._send(Answer(200, b"Ok.\n", {}))
                return
            self._serve(b"")

        def do_POST(self) -> None:
            if "Content-Length" not in self.headers:
                self._send(Answer(411, b"Code: 0. DB::Exception: Content-Length required. (HTTP_LENGTH_REQUIRED)\n", {}))
                return
            self._serve(self.rfile.read(int(self.headers["Content-Length"])))

        def _serve(self, raw_body: bytes) -> None:
            params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            user, password = _credentials(self, params)
            self._send(endpoint.serve(params, raw_body, self.headers.get("Content-Encoding", ""), user, password))

        def _send(self, answer: Answer) -> None:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
            pass

    return Handler


def create_table(endpoint: ChdbHttpEndpoint, ddl_file: Path, database: str) -> None:
    """`CREATE DATABASE`, then the DDL file (unqualified table name) inside it."""
    if not _SETTING_NAME.match(database):
        raise ValueError(f"not a plain database name: {database!r}")
    endpoint.query_in("default", f"CREATE DATABASE IF NOT EXISTS {database}")
    endpoint.query_in(database, ddl_file.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="chdb data directory (created if missing)")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--user", default="default")
    parser.add_argument("--ddl", type=Path, help="a CREATE TABLE file to run in --database first")
    parser.add_argument("--database", default="default")
    args = parser.parse_args()
    password = os.environ.get("CHDB_ENDPOINT_PASSWORD", "")  # not a flag: argv shows in `ps`
    args.data_dir.mkdir(parents=True, exist_ok=True)
    with ChdbHttpEndpoint(args.data_dir, user=args.user, password=password, port=args.port) as endpoint:
        if args.ddl:
            create_table(endpoint, args.ddl, args.database)
        print(f"chdb ClickHouse-HTTP endpoint listening on {endpoint.url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
