"""Issue 9, items 5-15: a hostile Hub, a bad setting or a signal must not leak the token, trust the
wrong party or crash instead of reporting. One regression test (or a small table) per item; each
failed on the code before the fix. The classes behind them (Hub text in every log path, settings at
their extremes) are swept in tests/test_hardening_fuzz.py.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from conftest import BIN_DIR, ORG, TOKEN, PollRun, assert_no_secret, poller_env
from hf_audit.errors import ExitCode
from hf_audit.events import parse_event
from hf_audit.line import to_line
from hf_audit.normalize import RecordContext, normalize
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import Fault, SimulatedHub
from scripted_server import Answer, ScriptedServer, json_answer
from test_operator import metrics_of
from test_secrets import certificates  # noqa: F401  (a fixture: self-signed certificates)

POLL = str(BIN_DIR / "hf-audit-poll")
SUMMARY = "poll finished"
SHORTENED_MARK = "…[truncated]"  # how rawLog marks a value it shortened (README, Reliability)


def run_poll(env: dict, *argv: str, timeout: float = 60, **popen: object) -> PollRun:
    proc = subprocess.run([POLL, *argv], env=env, capture_output=True, timeout=timeout, **popen)  # type: ignore[call-overload]  # the caller's extra subprocess.run arguments, passed through
    stderr = proc.stderr.decode("utf-8", "replace")
    assert_no_secret(proc.stdout, stderr)
    return PollRun(proc.returncode, proc.stdout, stderr)


def summary_lines(run: PollRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if SUMMARY in line]


def health_path(state_dir: Path) -> Path:
    """The health file; the name before item 13 is looked at too, so that a test of another item
    fails on the old code for its own reason."""
    path = state_dir / f"{ORG}.health"
    return path if path.exists() or not (state_dir / f"{ORG}.health.json").exists() else state_dir / f"{ORG}.health.json"


def health_of(state_dir: Path) -> dict:
    return json.loads(health_path(state_dir).read_text())


def export_body(count: int = 3, seed: int = 11) -> tuple[bytes, list[str]]:
    events = generate_events(count, seed=seed, end=datetime.now(UTC) - timedelta(minutes=5), span=timedelta(hours=2))
    return orjson.dumps(events), [e["_id"] for e in events]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def tls_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


# --- 5. a plain-http endpoint never goes through a proxy ------------------------------------------


def test_a_plain_http_endpoint_never_sends_its_requests_to_a_proxy(hub, state_dir, home):
    with ScriptedServer(Answer(502, (), b"proxy")) as proxy:
        proxies = {name: proxy.url for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")}
        run = run_poll(poller_env(hub.url, state_dir, home, **proxies))
        checked = run_poll(poller_env(hub.url, state_dir, home, **proxies), "check")
    assert run.returncode == ExitCode.OK, run.stderr
    assert len(run.event_ids) == 300
    assert checked.returncode == ExitCode.OK, checked.stdout
    assert proxy.seen == []  # the token never went to the proxy


# --- 6. HF_AUDIT_CA_BUNDLE wins over REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE ------------------------


@pytest.fixture
def tls_hub(certificates) -> Iterator[SimulatedHub]:  # noqa: F811
    with SimulatedHub(org=ORG, token=TOKEN, events=generate_events(10, seed=3), ssl_context=tls_context(certificates["loopback"])) as running:
        yield running


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_hf_audit_ca_bundle_wins_over_the_requests_environment(tls_hub, certificates, state_dir, home, variable):  # noqa: F811
    good, wrong = str(certificates["loopback"][0]), str(certificates["elsewhere"][0])
    env = poller_env(tls_hub.url, state_dir, home, HF_AUDIT_CA_BUNDLE=good, **{variable: wrong})
    run = run_poll(env)
    assert run.returncode == ExitCode.OK, run.stderr
    assert len(run.event_ids) == 10
    checked = run_poll(env, "check")
    tls_line = next(line for line in checked.stdout.decode().splitlines() if line.startswith(("PASS  tls", "FAIL  tls")))
    assert tls_line.startswith("PASS") and good in tls_line and "HF_AUDIT_CA_BUNDLE" in tls_line


def test_check_names_the_bundle_from_the_requests_environment_when_it_is_the_one_used(tls_hub, certificates, state_dir, home):  # noqa: F811
    good = str(certificates["loopback"][0])
    checked = run_poll(poller_env(tls_hub.url, state_dir, home, REQUESTS_CA_BUNDLE=good), "check")
    assert checked.returncode == ExitCode.OK, checked.stdout
    assert any(line.startswith("PASS  tls") and good in line and "REQUESTS_CA_BUNDLE" in line for line in checked.stdout.decode().splitlines())


# --- 7. a redirect that leaves https, or leaves loopback from plain http, is refused --------------


def test_a_redirect_from_https_to_plain_http_is_refused_and_nothing_is_printed(certificates, state_dir, home):  # noqa: F811
    body, _ = export_body()
    with ScriptedServer(json_answer(200, body)) as elsewhere:
        moved = Answer(302, (("Location", f"{elsewhere.url}/api/organizations/{ORG}/audit-log/export"),), b"")
        with ScriptedServer(moved, ssl_context=tls_context(certificates["loopback"])) as endpoint:
            run = run_poll(poller_env(endpoint.url, state_dir, home, HF_AUDIT_CA_BUNDLE=str(certificates["loopback"][0])))
    assert run.returncode == ExitCode.NETWORK, run.stderr
    assert run.stdout == b""
    assert "refused the Hub's redirect" in run.stderr and "leaves https" in run.stderr
    assert elsewhere.seen == []
    assert not (state_dir / f"{ORG}.json").exists()


def test_a_redirect_from_a_plain_http_endpoint_off_loopback_is_refused(state_dir, home):
    moved = Answer(307, (("Location", "http://hub.example.com/api/export"),), b"")
    with ScriptedServer(moved) as endpoint:
        run = run_poll(poller_env(endpoint.url, state_dir, home, HF_AUDIT_MAX_RETRIES="0"))
    assert run.returncode == ExitCode.NETWORK and run.stdout == b""
    assert "refused the Hub's redirect" in run.stderr and "loopback" in run.stderr


def test_a_redirect_that_stays_on_https_is_followed(certificates, state_dir, home):  # noqa: F811
    body, ids = export_body()
    answers = [Answer(302, (("Location", "/moved/export"),), b""), json_answer(200, body)]
    with ScriptedServer(json_answer(200, body), ssl_context=tls_context(certificates["loopback"]), queue=answers) as endpoint:
        run = run_poll(poller_env(endpoint.url, state_dir, home, HF_AUDIT_CA_BUNDLE=str(certificates["loopback"][0])))
        assert [seen.target for seen in endpoint.seen][1] == "/moved/export"
    assert run.returncode == ExitCode.OK, run.stderr
    assert sorted(run.event_ids) == sorted(ids)


# --- 8. token files -----------------------------------------------------------------------------


def login_token_file(home: Path) -> Path:
    path = home / ".cache" / "huggingface" / "token"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize("fifo_at", ["login file", "HF_TOKEN_PATH"])
def test_a_token_file_that_is_not_used_is_never_opened(hub, state_dir, home, fifo_at):
    fifo = login_token_file(home) if fifo_at == "login file" else home / "fifo"
    os.mkfifo(fifo)
    overrides = {"HF_TOKEN_PATH": str(fifo)} if fifo_at == "HF_TOKEN_PATH" else {}
    run = run_poll(poller_env(hub.url, state_dir, home, **overrides), timeout=30)  # a read of the FIFO would hang
    assert run.returncode == ExitCode.OK, run.stderr


def test_the_login_file_is_not_read_when_hf_token_path_is_used(hub, state_dir, home):
    os.mkfifo(login_token_file(home))
    token_file = home / "token.txt"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    env = poller_env(hub.url, state_dir, home, HF_TOKEN_PATH=str(token_file))
    del env["HF_TOKEN"]
    assert run_poll(env, timeout=30).returncode == ExitCode.OK


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # a runaway read fails here, not the machine


@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        pytest.param(lambda home: (os.mkfifo(home / "t"), home / "t")[1], "not a regular file", id="fifo"),
        pytest.param(lambda home: Path("/dev/zero"), "not a regular file", id="dev_zero"),
        pytest.param(lambda home: (home / "t").write_bytes(b"x" * 1_000_000) and home / "t", "larger than", id="one_megabyte"),
        pytest.param(lambda home: (home / "t").write_bytes(b"hf_\xff\xfe") and home / "t", "not UTF-8", id="invalid_utf8"),
    ],
)  # fmt: skip
def test_a_token_file_that_cannot_hold_a_token_is_a_token_error(hub, state_dir, home, make, phrase):
    env = poller_env(hub.url, state_dir, home, HF_TOKEN_PATH=str(make(home)))
    del env["HF_TOKEN"]
    run = run_poll(env, timeout=30, preexec_fn=_limit_memory)
    assert run.returncode == ExitCode.AUTH, run.stderr
    assert phrase in run.stderr and "internal error" not in run.stderr
    assert len(run.stderr.splitlines()) == 1
    assert hub.requests_seen == []


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o640, True), (0o600, False), (0o400, False)])
def test_a_token_file_open_to_group_or_others_is_warned_about_in_the_poll_and_in_check(hub, state_dir, home, mode, warned):
    token_file = home / "token.txt"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(mode)
    env = poller_env(hub.url, state_dir, home, HF_TOKEN_PATH=str(token_file))
    del env["HF_TOKEN"]
    run = run_poll(env)
    checked = run_poll(env, "check")
    assert run.returncode == ExitCode.OK and checked.returncode == ExitCode.OK
    warnings = [line for line in run.stderr.splitlines() if "level=warning" in line and "chmod 600" in line]
    assert len(warnings) == int(warned)
    token_line = next(line for line in checked.stdout.decode().splitlines() if line.startswith("PASS  token"))
    assert ("WARNING" in token_line and f"{mode:04o}" in token_line) == warned


# --- 9. a lone surrogate in the Hub's error text ------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(401, ExitCode.AUTH), (200, ExitCode.DATA), (500, ExitCode.NETWORK)])
@pytest.mark.parametrize("log_format", ["logfmt", "json"])
def test_a_lone_surrogate_in_the_hubs_error_text_is_reported_with_summary_health_and_metrics(state_dir, home, status, code, log_format):
    with ScriptedServer(json_answer(status, rb'{"error":"token revoked \ud800"}')) as endpoint:
        env = poller_env(endpoint.url, state_dir, home, HF_AUDIT_LOG_FORMAT=log_format, HF_AUDIT_MAX_RETRIES="0")
        for poll_number in (1, 2, 3):
            run = run_poll(env)
            assert run.returncode == code, run.stderr
            assert len(summary_lines(run)) == 1, run.stderr
            assert "internal error" not in run.stderr and "token revoked" in run.stderr
            if log_format == "json":
                assert all(json.loads(line)["level"] for line in run.stderr.splitlines())
            health = health_of(state_dir)
            assert health["consecutive_failures"] == poll_number and "token revoked" in health["last_error"]
    metrics = metrics_of(state_dir / f"{ORG}.prom")
    assert metrics["hf_audit_up"] == 0 and metrics["hf_audit_consecutive_failures"] == 3
    assert metrics["hf_audit_last_exit_code"] == code


# --- 10. unbounded numbers in RateLimit headers ----------------------------------------------------


@pytest.mark.parametrize("remaining", ["9" * 5000, str(2**64), str(2**63)])
@pytest.mark.parametrize("log_format", ["logfmt", "json"])
def test_an_unbounded_rate_limit_remaining_is_ignored(state_dir, home, remaining, log_format):
    body, ids = export_body()
    headers = (("RateLimit", f'"api";r={remaining};t=10'), ("RateLimit-Policy", '"api";q=500;w=300'))
    with ScriptedServer(json_answer(200, body, *headers)) as endpoint:
        env = poller_env(endpoint.url, state_dir, home, HF_AUDIT_LOG_FORMAT=log_format)
        run = run_poll(env)
        shown = run_poll(env, "state", "show")
    assert run.returncode == ExitCode.OK, run.stderr
    assert sorted(run.event_ids) == sorted(ids)
    assert shown.returncode == ExitCode.OK, shown.stderr
    assert json.loads(shown.stdout)["health"]["last_poll"]["rate_limit_remaining"] is None
    assert metrics_of(state_dir / f"{ORG}.prom")["hf_audit_rate_limit_remaining"] == -1


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param((("Retry-After", "9" * 5000),), id="retry_after"),
        pytest.param((("RateLimit", f'"api";r=0;t={"9" * 5000}'),), id="ratelimit_reset"),
        pytest.param((("Retry-After", str(2**64)), ("RateLimit", f'"api";r=0;t={2**64}')), id="beyond_64_bits"),
    ],
)  # fmt: skip
def test_an_unbounded_wait_from_the_hub_gives_up_at_once(state_dir, home, headers):
    with ScriptedServer(json_answer(429, b'{"error":"slow down"}', *headers)) as endpoint:
        started = time.monotonic()
        run = run_poll(poller_env(endpoint.url, state_dir, home))
    assert run.returncode == ExitCode.NETWORK, run.stderr
    assert time.monotonic() - started < 20 and "past the poll deadline" in run.stderr
    assert len(summary_lines(run)) == 1


def test_state_show_reads_a_health_file_holding_a_number_beyond_64_bits(hub, state_dir, home):
    env = poller_env(hub.url, state_dir, home)
    assert run_poll(env).returncode == ExitCode.OK
    health = health_of(state_dir)
    health["last_poll"]["rate_limit_remaining"] = 2**70
    health_path(state_dir).write_text(json.dumps(health))
    shown = run_poll(env, "state", "show")
    assert shown.returncode == ExitCode.OK, shown.stderr
    assert json.loads(shown.stdout)["health"]["polls"] == 1


# --- 11. oversize fields are cut by encoded bytes, and rawLog stays JSON --------------------------

EVENT = {"_id": "6740c3a5e0f1a2b3c4d5e6f7", "createdAt": "2026-11-25T17:03:34.123Z", "type": "repo.create",
         "author": {"_id": "u1", "user": "alice", "type": "user"}, "data": {"repo": {"name": "acme/m", "type": "model"}}}  # fmt: skip


def line_for(event: dict, bound: int = 65535) -> tuple[bytes, dict]:
    ctx = RecordContext(org=ORG, workspace_id="w", source_id="s", source_ttl_days=1,
                        received_at=datetime(2026, 11, 25, tzinfo=UTC))  # fmt: skip
    line = to_line(normalize(parse_event(event), event, ctx), bound)
    assert len(line) <= bound and line.count(b"\n") == 1
    return line, json.loads(line)


def encoded(text: str) -> int:
    return len(orjson.dumps(text)) - 2


@pytest.mark.parametrize("message", ["\u0000" * 100_000, "é😀" * 50_000, "a" * 100_000, "\"\\" * 50_000])
@pytest.mark.parametrize("bound", [4096, 65535])
def test_an_oversize_message_keeps_as_much_of_itself_and_of_raw_log_as_the_bound_allows(message, bound):
    line, record = line_for(dict(EVENT, message=message), bound)
    assert set(record["tags"]["truncatedFields"].split(",")) == {"message", "rawLog"}
    assert len(line) >= bound - 64  # the line is filled, not left mostly empty
    assert encoded(record["message"]) >= bound // 3 and message.startswith(record["message"])
    raw = json.loads(record["rawLog"])  # still the JSON of the event
    assert raw["_id"] == EVENT["_id"] and raw["type"] == EVENT["type"]
    assert raw["message"].endswith(SHORTENED_MARK) and message.startswith(raw["message"].removesuffix(SHORTENED_MARK))
    assert encoded(record["rawLog"]) >= bound // 4  # its share of the line, measured as printed


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(list(range(100_000)), id="a_long_array_of_numbers"),
        pytest.param({f"key{i}": i for i in range(20_000)}, id="an_object_with_many_keys"),
        pytest.param({"k" * 200_000: "v"}, id="a_huge_key"),
        pytest.param([{"deep": ["x" * 50_000] * 3}] * 4, id="nested_long_strings"),
    ],
)  # fmt: skip
def test_a_raw_log_too_large_to_fit_is_the_event_shortened_and_marked_not_an_empty_string(data):
    event = dict(EVENT, data=data)
    _, record = line_for(event)
    assert "rawLog" in record["tags"]["truncatedFields"]
    raw = json.loads(record["rawLog"])
    assert {key: raw[key] for key in ("_id", "createdAt", "type")} == {key: event[key] for key in ("_id", "createdAt", "type")}
    assert SHORTENED_MARK in record["rawLog"]
    assert len(record["rawLog"]) > 10_000


def test_a_normal_size_line_is_the_plain_dump_of_the_record():
    ctx = RecordContext(org=ORG, workspace_id="w", source_id="s", source_ttl_days=1,
                        received_at=datetime(2026, 11, 25, tzinfo=UTC))  # fmt: skip
    for event in generate_events(200, seed=9):
        record = normalize(parse_event(event), event, ctx)
        assert to_line(record, 65535) == orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


# --- 12. logfmt: a trailing newline cannot split a line -----------------------------------------


@pytest.mark.parametrize("org", ["acme\n", "acme\r", "acme\u2028x", "acme\x85"])
def test_a_line_break_at_the_end_of_the_organization_cannot_split_a_log_line(hub, state_dir, home, org):
    run = run_poll(poller_env(hub.url, state_dir, home, HF_ORG=org))
    assert run.returncode == ExitCode.USAGE
    assert len(run.stderr.rstrip("\n").split("\n")) == 1 and "\r" not in run.stderr, run.stderr
    assert "\u2028" not in run.stderr and "\x85" not in run.stderr
    assert hub.requests_seen == []


# --- 13. state file names never collide -------------------------------------------------------------


def test_organizations_whose_file_names_collided_keep_apart(state_dir, home):
    events = {org: generate_events(20, seed=seed, end=datetime.now(UTC) - timedelta(minutes=5)) for seed, org in enumerate((ORG, f"{ORG}.health"))}
    with SimulatedHub(org=ORG, token=TOKEN, events=events[ORG]) as first, SimulatedHub(org=f"{ORG}.health", token=TOKEN, events=events[f"{ORG}.health"]) as second:
        for hub, org in ((first, ORG), (second, f"{ORG}.health"), (first, ORG), (second, f"{ORG}.health")):
            run = run_poll(poller_env(hub.url, state_dir, home, HF_ORG=org))
            assert run.returncode == ExitCode.OK, run.stderr
            hub.generate_newer(2)
    assert sorted(p.name for p in state_dir.iterdir() if not p.name.endswith(".lock")) == sorted(
        [f"{ORG}.json", f"{ORG}.health", f"{ORG}.prom", f"{ORG}.health.json", f"{ORG}.health.health", f"{ORG}.health.prom"]
    )
    assert json.loads((state_dir / f"{ORG}.health.json").read_text())["org"] == f"{ORG}.health"  # a checkpoint
    assert health_of(state_dir)["polls"] == 2


def test_the_old_layout_is_taken_over_without_losing_or_repeating_an_event(hub, state_dir, home):
    env = poller_env(hub.url, state_dir, home)
    assert len(run_poll(env).event_ids) == 300
    (state_dir / f"{ORG}.health").rename(state_dir / f"{ORG}.health.json")  # as the old version named it
    added = hub.generate_newer(4)
    run = run_poll(env)
    assert run.returncode == ExitCode.OK, run.stderr
    assert sorted(run.event_ids) == sorted(e["_id"] for e in added)
    health = health_of(state_dir)
    assert health["polls"] == 2 and health["emitted_total"] == 304
    assert not (state_dir / f"{ORG}.health.json").exists()


def test_an_old_layout_file_of_another_organization_is_left_alone(hub, state_dir, home):
    state_dir.mkdir()
    other = json.dumps({"version": 1, "org": f"{ORG}.health", "watermark": None, "seen": {}})
    (state_dir / f"{ORG}.health.json").write_text(other)
    run = run_poll(poller_env(hub.url, state_dir, home))
    assert run.returncode == ExitCode.OK, run.stderr
    assert (state_dir / f"{ORG}.health.json").read_text() == other
    assert health_of(state_dir)["polls"] == 1


# --- 14. endpoint and settings validation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        pytest.param({"HF_ENDPOINT": "http://127.0.0.1:18080/?"}, "query string", id="endpoint_empty_query"),
        pytest.param({"HF_ENDPOINT": "http://127.0.0.1:18080/#"}, "fragment", id="endpoint_empty_fragment"),
        pytest.param({"HF_ENDPOINT": "http://127.0.0.1:99999"}, "port", id="endpoint_port_out_of_range"),
        pytest.param({"HF_ENDPOINT": "https://huggingface.co:0"}, "port", id="endpoint_port_zero"),
        pytest.param({"HF_AUDIT_CONNECT_TIMEOUT": "0"}, "connect_timeout", id="connect_timeout_zero"),
        pytest.param({"HF_AUDIT_READ_TIMEOUT": "0s"}, "read_timeout", id="read_timeout_zero"),
        pytest.param({"HF_AUDIT_READ_TIMEOUT": "1" + "0" * 400}, "HF_AUDIT_READ_TIMEOUT", id="read_timeout_beyond_a_float"),
        pytest.param({"HF_AUDIT_LOOKBACK": "100000000d"}, "lookback", id="lookback_beyond_the_calendar"),
        pytest.param({"HF_AUDIT_LOOKBACK": "99999999999999999999d"}, "HF_AUDIT_LOOKBACK", id="lookback_beyond_a_timedelta"),
        pytest.param({"HF_AUDIT_BACKFILL": "1000000d"}, "backfill", id="backfill_beyond_the_calendar"),
        pytest.param({"HF_AUDIT_DEADLINE": "100000000d"}, "deadline", id="deadline_beyond_a_day"),
        pytest.param({"HF_AUDIT_MAX_LINE_BYTES": "9" * 30}, "max_line_bytes", id="line_bound_beyond_memory"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("log_format", ["logfmt", "json"])
def test_a_setting_out_of_range_is_a_settings_error_on_one_line(hub, state_dir, home, overrides, phrase, log_format):
    run = run_poll(poller_env(hub.url, state_dir, home, HF_AUDIT_LOG_FORMAT=log_format, **overrides))
    assert run.returncode == ExitCode.USAGE, run.stderr
    assert len(run.stderr.splitlines()) == 1 and phrase in run.stderr, run.stderr
    assert "organization" not in run.stderr
    assert hub.requests_seen == []


@pytest.mark.parametrize(
    ("variable", "phrase"),
    [("HF_ORG", "not a valid Hugging Face organization name"), ("HF_AUDIT_QUERY", "not UTF-8"),
     ("HF_AUDIT_WORKSPACE_ID", "not UTF-8"), ("HF_AUDIT_SOURCE_ID", "not UTF-8"), ("HF_ENDPOINT", "not UTF-8")],
)  # fmt: skip
@pytest.mark.parametrize("log_format", ["logfmt", "json"])
def test_a_text_setting_that_is_not_utf8_is_a_settings_error_on_one_line(hub, state_dir, home, variable, phrase, log_format):
    env = {**poller_env(hub.url, state_dir, home, HF_AUDIT_LOG_FORMAT=log_format), variable: b"ac\xffme"}
    if variable == "HF_ENDPOINT":
        env[variable] = hub.url.encode() + b"/\xff"
    run = run_poll(env)  # type: ignore[arg-type]  # an undecodable bytes value in the environment is the test
    assert run.returncode == ExitCode.USAGE, run.stderr
    assert len(run.stderr.splitlines()) == 1 and phrase in run.stderr
    if log_format == "json":
        json.loads(run.stderr)
    assert hub.requests_seen == []


# --- 15. a signal ends a blocked read at once -------------------------------------------------------


@pytest.mark.parametrize("where", ["headers", "body"])
def test_sigterm_while_the_hub_stalls_ends_the_poll_at_once_and_commits_nothing(hub, poll, state_dir, home, where):
    hub.set_order("oldest-first")
    assert poll().returncode == ExitCode.OK
    checkpoint = (state_dir / f"{ORG}.json").read_bytes()
    added = hub.generate_newer(5)
    hub.queue_fault(Fault(kind="stall", where=where, fraction=0.5, seconds=30))
    env = poller_env(hub.url, state_dir, home, HF_AUDIT_READ_TIMEOUT="60", HF_AUDIT_MAX_RETRIES="0")
    proc = subprocess.Popen([POLL], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while len(hub.requests_seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the poll is now blocked: before the headers, or half way through the body
    proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    stdout, stderr = proc.communicate(timeout=40)
    took = time.monotonic() - signalled
    assert took < 3, f"the poll took {took:.1f}s to stop"
    assert proc.returncode == ExitCode.INTERRUPTED and stdout == b""
    assert SUMMARY in stderr.decode()
    assert (state_dir / f"{ORG}.json").read_bytes() == checkpoint
    hub.clear_faults()
    run = poll()
    assert run.returncode == ExitCode.OK and sorted(run.event_ids) == sorted(e["_id"] for e in added)

