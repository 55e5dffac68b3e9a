"""The classes behind issue 9's items 9-14, swept rather than sampled.

- Hub-controlled text in every log path: each place where the Hub's words reach stderr, the health
  file or the summary (error bodies, error headers, request ids, a non-array body, a malformed
  event, a redirect target, rate-limit headers, the HTTP trace), fed each kind of hostile text (a
  lone surrogate, a forged log line, terminal escapes, Unicode line separators, 100 KB), in both
  log formats. The poll must end with its documented exit code, one well-formed line per log
  record, exactly one summary, and health and metrics written.
- The log formatter: any organization, message or field value gives one line that reads back.
- Settings at their extremes: every setting fed huge, tiny, negative, non-numeric, non-UTF-8 and
  line-breaking values exits with a settings error (2) on one line, or runs; never 1.

Example counts scale with HF_AUDIT_FUZZ_SCALE like tests/test_fuzz.py.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ORG, assert_no_secret, poller_env
from hf_audit.cli import OPTIONS, main
from hf_audit.errors import ExitCode
from hf_audit.events import parse_event
from hf_audit.line import to_line
from hf_audit.logs import Redactor, StructuredFormatter
from hf_audit.normalize import RecordContext, normalize
from hf_audit.simhub.events import generate_events
from scripted_server import Answer, ScriptedServer, json_answer
from strategies import hub_events
from test_hardening import health_path
from test_secrets import restored_loggers

SCALE = max(1, int(os.environ.get("HF_AUDIT_FUZZ_SCALE", "1")))
LINE_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e")
FORGED = 'x\nts=2026-01-01T00:00:00.000Z level=info msg="poll finished" outcome=ok exit_code=0\n'


def examples(count: int) -> int:
    return count * SCALE


# --- Hub text in every log path ---------------------------------------------------------------------

# (name, text as a JSON string literal's inside, usable in a header)
HOSTILE = [
    ("lone_surrogate", r"token revoked \ud800 \udfff", False),
    ("forged_line", json.dumps(FORGED)[1:-1], False),
    ("terminal_escape", r"\u001b[2J\u001b]0;owned\u0007 red", True),
    ("line_separators", r"a\u2028b\u2029c\u0085d", True),
    ("hundred_kilobytes", "x" * 100_000, True),
]


def header_text(literal: str) -> str:
    """The same hostile text as a header value can carry it (latin-1, no CR or LF, and under
    http.client's limit of 64 KiB a header line)."""
    text = json.loads(f'"{literal}"')
    return "".join(ch for ch in text if ord(ch) < 256 and ch not in "\r\n")[:30_000]


def export(count: int = 2) -> list[dict]:
    return generate_events(count, seed=5, end=datetime.now(UTC) - timedelta(minutes=5), span=timedelta(hours=1))


@dataclass(frozen=True)
class Place:
    """One way Hub text reaches a log, the exit code it ends with, and whether events print."""

    name: str
    code: ExitCode
    prints: bool = False
    header: bool = False  # the text travels in a header
    env: tuple[tuple[str, str], ...] = ()

    def answers(self, literal: str) -> list[Answer]:
        text = header_text(literal)
        body = f'{{"error":"{literal}"}}'.encode()
        good = orjson.dumps(export())
        if self.name == "error_body_401":
            return [json_answer(401, body)]
        if self.name == "errors_list_404":
            return [json_answer(404, f'{{"errors":[{{"message":"{literal}"}}]}}'.encode())]
        if self.name == "error_header_403":
            return [json_answer(403, b"{}", ("X-Error-Message", text))]
        if self.name == "ids_on_500":
            return [json_answer(500, b"{}", ("X-Request-Id", text), ("X-Error-Code", text))]
        if self.name == "object_instead_of_array":
            return [json_answer(200, body)]
        if self.name == "malformed_event":
            bad = f'{{"_id":"bad1","type":"{literal}","createdAt":"{literal}"}}'.encode()
            return [json_answer(200, b"[" + bad + b"," + good[1:])]
        if self.name == "redirect_target":
            return [Answer(302, (("Location", f"http://hub.example.com/{text}"),), b"")]
        if self.name == "rate_limit_headers":
            return [json_answer(429, body, ("RateLimit", f'"api";r={text};t={text}'), ("Retry-After", text))]
        if self.name == "traced_headers":
            return [json_answer(200, good, ("X-Request-Id", text), ("X-Anything", text))]
        raise AssertionError(self.name)


PLACES = [
    Place("error_body_401", ExitCode.AUTH),
    Place("errors_list_404", ExitCode.NOT_FOUND),
    Place("error_header_403", ExitCode.AUTH, header=True),
    Place("ids_on_500", ExitCode.NETWORK, header=True),
    Place("object_instead_of_array", ExitCode.DATA),
    Place("malformed_event", ExitCode.OK, prints=True),
    Place("redirect_target", ExitCode.NETWORK, header=True),
    Place("rate_limit_headers", ExitCode.NETWORK),
    Place("traced_headers", ExitCode.OK, prints=True, header=True, env=(("HF_AUDIT_TRACE", "true"), ("HF_AUDIT_LOG_LEVEL", "debug"))),
]


def assert_log_lines(stderr: str, log_format: str) -> list[str]:
    lines = stderr.split("\n")
    assert lines[-1] == "", "stderr ends with a newline"
    lines = lines[:-1]
    for line in lines:
        line.encode("utf-8")  # strict: no lone surrogate reached the log
        assert not any(ch in line for ch in LINE_BREAKS), line[:200]
        assert "\x1b" not in line and "\x07" not in line
        if log_format == "json":
            assert json.loads(line)["level"]
        else:
            assert line.startswith("ts=") and " level=" in line, line[:200]
    return lines


@pytest.mark.parametrize("log_format", ["logfmt", "json"])
@pytest.mark.parametrize(("kind", "literal", "fits_a_header"), HOSTILE, ids=[h[0] for h in HOSTILE])
@pytest.mark.parametrize("place", PLACES, ids=[p.name for p in PLACES])
def test_hub_text_in_every_log_path_is_reported_on_well_formed_lines(place, kind, literal, fits_a_header, log_format, tmp_path, capfd):
    if place.header and not fits_a_header and not header_text(literal):
        pytest.skip("nothing of this text survives in a header")
    state_dir = tmp_path / "state"
    with ScriptedServer(queue=place.answers(literal)) as endpoint:
        env = poller_env(endpoint.url, state_dir, tmp_path, HF_AUDIT_LOG_FORMAT=log_format, HF_AUDIT_MAX_RETRIES="0",
                         HF_AUDIT_DEADLINE="10s", **dict(place.env))  # fmt: skip
        with restored_loggers("hf_audit", "urllib3"):
            code = main([], env)
    out, err = capfd.readouterr()
    assert_no_secret(out, err)
    assert code == place.code, err[:2000]
    assert bool(out) == place.prints
    lines = assert_log_lines(err, log_format)
    assert sum("poll finished" in line and "poll_summary" in line for line in lines) == 1
    assert "internal error" not in err
    assert len(err) < 60_000 if place.name == "traced_headers" else len(err) < 8_000  # Hub text is cut
    health = json.loads(health_path(state_dir).read_text())
    assert health["polls"] == 1 and health["last_poll"]["exit_code"] == place.code
    assert (state_dir / f"{ORG}.prom").read_text().count("hf_audit_up") >= 1


# --- oversize events: cut by encoded bytes, rawLog still JSON ----------------------------------------

wide_chars = st.sampled_from(["a", "\u0000", "\x1f", "é", "😀", '"', "\\", "\u2028", "\ud800"])
long_text = st.builds(lambda chars, n: "".join(chars) * n, st.lists(wide_chars, min_size=1, max_size=4), st.integers(1, 40_000))
big_values = st.recursive(
    st.one_of(long_text, st.integers(), st.integers(min_value=2**64, max_value=10**40), st.booleans(), st.none()),
    lambda children: st.lists(children, max_size=30) | st.dictionaries(st.text(max_size=20) | long_text, children, max_size=30),
    max_leaves=60,
)
oversize_events = st.builds(
    lambda event, message, data: {**event, "message": message, "data": data}, hub_events, long_text, big_values
)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(event=oversize_events, bound=st.sampled_from([4096, 8192, 65535]))
def test_any_oversize_event_gives_a_line_within_the_bound_whose_raw_log_is_json(event, bound):
    ctx = RecordContext(org=ORG, workspace_id="w", source_id="s", source_ttl_days=1,
                        received_at=datetime(2026, 11, 25, tzinfo=UTC))  # fmt: skip
    line = to_line(normalize(parse_event(event), event, ctx), bound)
    assert len(line) <= bound and line.endswith(b"\n") and line.count(b"\n") == 1
    record = json.loads(line.decode("utf-8"))
    raw = json.loads(record["rawLog"])
    assert isinstance(raw, dict)
    cut = record["tags"].get("truncatedFields", "").split(",")
    if "rawLog" not in cut:
        assert raw == json.loads(json.dumps(event).replace("\\ud800", "\\ufffd"))
    if "message" in cut:
        assert event["message"].replace("\ud800", "\ufffd").startswith(record["message"])
    else:
        assert record["message"] == event["message"].replace("\ud800", "\ufffd")


# --- the log formatter ---------------------------------------------------------------------------

any_text = st.text() | st.sampled_from(["acme\n", "a b", 'q"uote', "back\\slash", "=", "", " ", "\x85", "\u2028", "\udcff"])
field_values = st.one_of(any_text, st.none(), st.booleans(), st.integers(), st.integers(min_value=2**64, max_value=10**40),
                         st.floats(allow_nan=False, allow_infinity=False))  # fmt: skip


def read_logfmt(line: str) -> dict[str, str]:
    """A reader for the formatter's logfmt: key=plain or key="JSON string"."""
    decoder, fields, at = json.JSONDecoder(), {}, 0
    while at < len(line):
        key_end = line.index("=", at)
        key, at = line[at:key_end], key_end + 1
        if line.startswith('"', at):
            fields[key], at = decoder.raw_decode(line, at)
        else:
            end = line.find(" ", at)
            end = len(line) if end < 0 else end
            fields[key], at = line[at:end], end
        assert line[at : at + 1] in ("", " ")
        at += 1
    return fields


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(org=any_text, message=any_text, fields=st.dictionaries(st.sampled_from(["error", "event", "n", "x"]), field_values, max_size=4),
       log_format=st.sampled_from(["logfmt", "json"]))  # fmt: skip
def test_any_org_message_or_field_gives_one_line_that_reads_back(org, message, fields, log_format):
    formatter = StructuredFormatter(log_format, org, Redactor())
    record = logging.LogRecord("hf_audit", logging.ERROR, __file__, 1, "%s", (message,), None)
    record.fields = fields
    line = formatter.format(record)
    line.encode("utf-8")
    assert not any(ch in line for ch in LINE_BREAKS) and not any(ord(ch) < 0x20 for ch in line)
    parsed = json.loads(line) if log_format == "json" else read_logfmt(line)
    readable = all(not 0xD800 <= ord(ch) <= 0xDFFF for ch in org + message)
    if readable:
        assert parsed["org"] == org and parsed["msg"] == message
    for key, value in fields.items():
        if isinstance(value, str) and all(not 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            assert parsed[key] == value


# --- settings at their extremes --------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens here once the socket is closed


CLOSED_PORT = closed_port()
extreme_text = st.one_of(
    st.sampled_from(["0", "-1", "0s", "0ms", "-5m", "1e400", "nan", "inf", "-inf", " ", "", "true", "none", "all",
                     "9" * 30, "9" * 5000, "1" + "0" * 400, "99999999999999999999d", "100000000d", "1000000d",
                     "3651d", "3650d", "86401s", "0.0000001ms", "1.5", "١٢", "2w\n", "7d\n", "acme\n", "x" * 5000,
                     "\udcff", "a\x7f", "65536", "4095", "4096", str(2**31), str(2**63), "50", "51"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.from_regex(r"\A[0-9]{1,25}(\.[0-9]{1,25})?(ms|s|m|h|d|w)?\Z"),
    st.text(max_size=30),
)  # fmt: skip
endpoints = st.one_of(
    st.sampled_from([f"http://127.0.0.1:{CLOSED_PORT}/?", f"http://127.0.0.1:{CLOSED_PORT}/#", "http://127.0.0.1:99999",
                     "http://127.0.0.1:0", "http://127.0.0.1:-1", "http://127.0.0.1:abc", "http://[::1", "http://",
                     "ftp://127.0.0.1", "http://10.0.0.1", f"http://user@127.0.0.1:{CLOSED_PORT}", "http://127.0.0.1:" + "9" * 5000,
                     f"http://127.0.0.1:{CLOSED_PORT}\n", f"http://localhost:{CLOSED_PORT}/x"]),
    st.text(max_size=20).map(lambda tail: f"http://127.0.0.1:{CLOSED_PORT}/{tail}"),
)  # fmt: skip
FUZZED = [option for option in OPTIONS if option.field not in ("endpoint", "state_dir", "metrics_file", "token_path", "ca_bundle")]


def run_main(env: dict[str, str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capfd.readouterr()
    with restored_loggers("hf_audit", "urllib3"):
        try:
            code = main([], env)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, capfd.readouterr().err


@pytest.fixture(scope="module")
def settings_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("settings")


def assert_settled(code: int, stderr: str) -> None:
    assert code != ExitCode.INTERNAL and "Traceback" not in stderr, stderr[:2000]
    assert code in (ExitCode.USAGE, ExitCode.AUTH, ExitCode.NETWORK, ExitCode.STATE), (code, stderr[:2000])
    lines = stderr.split("\n")[:-1]
    assert lines and all(not any(ch in line for ch in LINE_BREAKS) for line in lines)
    if code == ExitCode.USAGE:
        assert len(lines) == 1, stderr[:2000]


@settings(max_examples=examples(250), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(FUZZED), text=extreme_text, log_format=st.sampled_from(["logfmt", "json"]))
def test_any_setting_at_its_extremes_is_a_settings_error_or_runs(settings_home, capfd, option, text, log_format):
    env = poller_env(f"http://127.0.0.1:{CLOSED_PORT}", settings_home / "state", settings_home,
                     HF_AUDIT_MAX_RETRIES="0", HF_AUDIT_DEADLINE="2s", HF_AUDIT_LOG_FORMAT=log_format)  # fmt: skip
    env[option.env] = text
    assert_settled(*run_main(env, capfd))


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(endpoint=endpoints, log_format=st.sampled_from(["logfmt", "json"]))
def test_any_endpoint_is_a_settings_error_or_reached(settings_home, capfd, endpoint, log_format):
    env = poller_env(endpoint, settings_home / "state", settings_home, HF_AUDIT_MAX_RETRIES="0",
                     HF_AUDIT_DEADLINE="2s", HF_AUDIT_LOG_FORMAT=log_format)  # fmt: skip
    assert_settled(*run_main(env, capfd))


def test_the_extremes_of_every_setting_are_swept():
    assert {option.field for option in FUZZED} | {"endpoint", "state_dir", "metrics_file", "token_path", "ca_bundle"} == {
        option.field for option in OPTIONS
    }

