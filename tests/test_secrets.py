"""Secret hygiene and input safety.

- The token never appears, raw, URL-encoded or base64-encoded, in stdout, stderr, any file of the
  state directory (checkpoint, lock, health, metrics) or an exception's text: after a success,
  after each kind of failure, at debug level with HTTP tracing, in `check` and `state show`, when
  the token is pasted on the command line, when it comes from a file, and when the poller crashes.
- Organization names that are not Hub names are refused with exit 2 before any request is made,
  and never reach a shell.
- TLS is verified unless a CA bundle is given; plain http is allowed only to loopback addresses.

The token here has characters that URL encoding changes (`+ / % ~`), so its encoded forms differ
from it.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import filelock
import pytest

from conftest import BIN_DIR, ORG, PollRun, poller_env
from hf_audit.cli import main
from hf_audit.errors import ExitCode
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import Fault, SimulatedHub

SECRET = "hf_Odd+Secret/Token%41~0123456789abcdefXYZ"


def secret_forms(token: str) -> dict[str, bytes]:
    """Every shape in which a token could slip out: as is, URL- or form-encoded, base64."""
    forms = {
        "raw": token,
        "url-encoded": quote(token, safe=""),
        "form-encoded": quote_plus(token),
        "base64": base64.b64encode(token.encode()).decode(),
        "base64url": base64.urlsafe_b64encode(token.encode()).decode().rstrip("="),
        "base64 header": base64.b64encode(f"Bearer {token}".encode()).decode(),
    }
    return {name: text.encode() for name, text in forms.items()}


def assert_secret_absent(token: str, *outputs: bytes | str, directories: tuple[Path, ...] = ()) -> None:
    blobs = [(f"output {i}", o.encode() if isinstance(o, str) else o) for i, o in enumerate(outputs)]
    for directory in directories:
        if directory.exists():
            blobs += [(str(path), path.read_bytes()) for path in directory.rglob("*") if path.is_file()]
    for where, blob in blobs:
        for form, needle in secret_forms(token).items():
            assert needle not in blob, f"the token ({form}) leaked into {where}"


@pytest.fixture
def secret_hub() -> Iterator[SimulatedHub]:
    with SimulatedHub(org=ORG, token=SECRET, events=generate_events(30, seed=21)) as running:
        yield running


def run_against(hub: SimulatedHub, home: Path, *argv: str, files: bool = True, **overrides: str) -> PollRun:
    """hf-audit-poll with `argv` (no shell: arguments arrive verbatim) and environment overrides;
    the outputs and (with `files`) every file of the state directory are checked for the token."""
    state_dir = home / "state"
    env = poller_env(hub.url, state_dir, home, **{"HF_TOKEN": SECRET, **overrides})
    proc = subprocess.run([str(BIN_DIR / "hf-audit-poll"), *argv], env=env, capture_output=True, timeout=60)
    assert_secret_absent(SECRET, proc.stdout, proc.stderr, directories=(state_dir,) if files else ())
    return PollRun(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))


@contextlib.contextmanager
def restored_loggers(*names: str) -> Iterator[None]:
    """cli.main configures these loggers for its process; put them back as they were."""
    loggers = [logging.getLogger(name) for name in names]
    saved = [(lg.handlers[:], lg.propagate, lg.level) for lg in loggers]
    try:
        yield
    finally:
        for lg, (handlers, propagate, level) in zip(loggers, saved, strict=True):
            lg.handlers[:], lg.propagate, lg.level = handlers, propagate, level


class Poller:
    """run_against the secret hub, with the state directory at hand."""

    def __init__(self, hub: SimulatedHub, home: Path) -> None:
        self.hub, self.home, self.state_dir = hub, home, home / "state"

    def __call__(self, *argv: str, files: bool = True, **overrides: str) -> PollRun:
        return run_against(self.hub, self.home, *argv, files=files, **overrides)

    def in_process(self, capfd: pytest.CaptureFixture[str], *argv: str, **overrides: str) -> PollRun:
        """The same command through `cli.main` in this process: no interpreter start-up, for long
        tables of inputs. Outputs are checked for the token like a subprocess run's."""
        env = poller_env(self.hub.url, self.state_dir, self.home, **{"HF_TOKEN": SECRET, **overrides})
        with restored_loggers("hf_audit", "urllib3"):
            try:
                code = main(list(argv), env)
            except SystemExit as exc:  # argparse's own errors exit from inside main
                code = int(exc.code or 0)
        out, err = capfd.readouterr()
        assert_secret_absent(SECRET, out, err, directories=(self.state_dir,))
        return PollRun(code, out.encode(), err)


@pytest.fixture
def run(secret_hub: SimulatedHub, tmp_path: Path) -> Poller:
    return Poller(secret_hub, tmp_path)


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the token never shows ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "overrides", "code"),
    [
        pytest.param((), {}, ExitCode.OK, id="success"),
        pytest.param((), {"HF_AUDIT_LOG_LEVEL": "debug", "HF_AUDIT_TRACE": "true"}, ExitCode.OK, id="debug_and_trace"),
        pytest.param((), {"HF_AUDIT_LOG_LEVEL": "debug", "HF_AUDIT_TRACE": "true", "HF_AUDIT_LOG_FORMAT": "json"},
                     ExitCode.OK, id="debug_and_trace_as_json"),
        pytest.param(("--dry-run",), {}, ExitCode.OK, id="dry_run"),
        pytest.param(("check",), {"HF_AUDIT_LOG_LEVEL": "debug"}, ExitCode.OK, id="check"),
        pytest.param((), {"HF_ORG": "someone-else", "HF_AUDIT_LOG_LEVEL": "debug"}, ExitCode.NOT_FOUND, id="not_found"),
        pytest.param((), {"HF_AUDIT_DEADLINE": "soon"}, ExitCode.USAGE, id="usage_error"),
        pytest.param((), {"HF_AUDIT_LOG_LEVEL": "debug", "HF_AUDIT_MAX_RETRIES": "0", "HF_ENDPOINT": "unreachable"},
                     ExitCode.USAGE, id="bad_endpoint"),
        pytest.param(("--token", SECRET), {}, ExitCode.USAGE, id="token_flag"),
        pytest.param((f"--token={SECRET}",), {}, ExitCode.USAGE, id="token_flag_with_equals"),
        pytest.param((SECRET,), {}, ExitCode.USAGE, id="token_as_a_positional_argument"),
        pytest.param(("--max-retries", SECRET), {}, ExitCode.USAGE, id="token_as_a_flag_value"),
        pytest.param(("--endpoint", SECRET), {}, ExitCode.USAGE, id="token_as_the_endpoint"),
        pytest.param(("state", "set-watermark", SECRET, "--yes"), {}, ExitCode.USAGE, id="token_as_a_time"),
    ],
)  # fmt: skip
def test_the_token_never_shows(run, argv, overrides, code):
    result = run(*argv, **overrides)
    assert result.returncode == code, result.stderr


def test_the_token_never_shows_when_the_network_fails(run):
    result = run(HF_ENDPOINT=f"http://127.0.0.1:{free_loopback_port()}", HF_AUDIT_MAX_RETRIES="0", HF_AUDIT_LOG_LEVEL="debug")
    assert result.returncode == ExitCode.NETWORK, result.stderr


def test_the_token_never_shows_when_it_is_refused(run, secret_hub):
    secret_hub.token = "hf_the_right_one"
    result = run(HF_AUDIT_LOG_LEVEL="debug", HF_AUDIT_TRACE="true")
    assert result.returncode == ExitCode.AUTH, result.stderr


def hub_echoes_the_token(hub: SimulatedHub, kind: str) -> ExitCode:
    """Make the next answer an error whose text quotes the token; returns the exit code it means."""
    if kind == "401":
        echo = {"X-Error-Message": f"token {SECRET} is not valid"}
        hub.queue_fault(Fault(kind="status", status=401, headers=echo, body={"error": f"bad token {SECRET}"}))
        return ExitCode.AUTH
    hub.queue_fault(Fault(kind="json_object", body={"error": f"Authorization: Bearer {SECRET}"}))
    return ExitCode.DATA


@pytest.mark.parametrize("kind", ["401", "json_object"])
def test_the_token_is_masked_on_stderr_when_the_hub_echoes_it(run, secret_hub, kind):
    code = hub_echoes_the_token(secret_hub, kind)
    result = run(files=False)
    assert result.returncode == code and "***" in result.stderr


@pytest.mark.parametrize("kind", ["401", "json_object"])
def test_the_token_never_reaches_the_state_directory_when_the_hub_echoes_it(run, secret_hub, kind):
    code = hub_echoes_the_token(secret_hub, kind)
    assert run(files=False).returncode == code
    assert run("state", "show").returncode == ExitCode.OK


def test_the_token_never_shows_in_state_show_or_after_a_corrupt_checkpoint(run):
    assert run().returncode == ExitCode.OK
    assert run("state", "show").returncode == ExitCode.OK
    (run.state_dir / f"{ORG}.json").write_text("{broken")
    assert run().returncode == ExitCode.STATE


def test_the_token_never_shows_when_another_poll_holds_the_lock(run):
    run.state_dir.mkdir(parents=True)
    with filelock.FileLock(run.state_dir / f"{ORG}.lock"):
        assert run(HF_AUDIT_LOCK_TIMEOUT="0").returncode == ExitCode.LOCKED


@pytest.mark.parametrize("where", ["HF_TOKEN_PATH", "HF_HOME"])
def test_a_token_from_a_file_works_and_never_shows(run, tmp_path, where):
    home = tmp_path / "hf-home"
    home.mkdir()
    (home / "token").write_text(SECRET + "\n")
    source = {"HF_TOKEN_PATH": str(home / "token")} if where == "HF_TOKEN_PATH" else {"HF_HOME": str(home)}
    result = run(HF_TOKEN="", HF_AUDIT_LOG_LEVEL="debug", HF_AUDIT_TRACE="true", **source)
    assert result.returncode == ExitCode.OK and len(result.event_ids) == 30
    checked = run("check", HF_TOKEN="", **source)
    assert checked.returncode == ExitCode.OK and str(home) in checked.stdout.decode()


_CRASHING_POLLER = textwrap.dedent(
    """
    import os, sys
    import hf_audit.poll
    def crash(self, checkpoint, now):
        try:
            raise ValueError("inner detail " + os.environ["HF_TOKEN"])
        except ValueError as inner:
            raise RuntimeError("the header was Bearer " + os.environ["HF_TOKEN"]) from inner
    hf_audit.poll.Poll.run = crash
    from hf_audit.cli import main
    sys.exit(main())
    """
)


def test_the_token_never_shows_when_the_poller_crashes(secret_hub, tmp_path):
    state_dir = tmp_path / "state"
    env = poller_env(secret_hub.url, state_dir, tmp_path, HF_TOKEN=SECRET, HF_AUDIT_LOG_LEVEL="debug")
    proc = subprocess.run([sys.executable, "-c", _CRASHING_POLLER], env=env, capture_output=True, timeout=60)
    assert proc.returncode == ExitCode.INTERNAL
    assert b"internal error (RuntimeError)" in proc.stderr and b"inner detail ***" in proc.stderr
    assert_secret_absent(SECRET, proc.stdout, proc.stderr, directories=(state_dir,))


# Leaks found here, in code owned by another engineer (cli.py, logs.py, check.py).


@pytest.mark.parametrize("flag", ["--max-retries", "--deadline", "--endpoint"])
def test_a_token_from_a_file_pasted_as_a_flag_value_never_shows(run, tmp_path, flag):
    (tmp_path / "token").write_text(SECRET)
    assert run(flag, SECRET, HF_TOKEN="", HF_TOKEN_PATH=str(tmp_path / "token")).returncode == ExitCode.USAGE


def test_a_token_pasted_as_the_organization_never_shows(run):
    assert run("--org", SECRET).returncode == ExitCode.USAGE


def test_a_token_pasted_as_the_token_path_never_shows(run):
    assert run("--token-path", SECRET, HF_TOKEN="").returncode == ExitCode.AUTH


def test_a_token_pasted_as_the_fluent_bit_config_of_check_never_shows(run):
    assert run("check", "--fluent-bit-config", SECRET).returncode == ExitCode.USAGE


def test_a_pasted_token_containing_an_equals_sign_never_shows_in_argparse_errors(secret_hub, tmp_path):
    token = "hf_EqualsIn=TheMiddle0123456789"
    env = poller_env(secret_hub.url, tmp_path / "state", tmp_path, HF_TOKEN=token)
    proc = subprocess.run([str(BIN_DIR / "hf-audit-poll"), token], env=env, capture_output=True, timeout=60)
    assert proc.returncode == ExitCode.USAGE
    assert token.split("=")[0].encode() not in proc.stderr


def test_a_token_that_cannot_be_an_http_header_is_an_auth_error(run):
    result = run(HF_TOKEN="hf_t€ken0123456789")
    assert result.returncode == ExitCode.AUTH and "internal error" not in result.stderr


# --- organization names --------------------------------------------------------------------------

INVALID_ORGS = [
    "acme/other", "../etc", "..", "a..b", "acme/../other", "acme corp", " acme", "acme ", "acme\tx",
    "acme;id", "acme|cat", "acme&&id", "$(id)", "`id`", "${HOME}", "acme'", 'acme"', "acme>x",
    "%2e%2e", "acme%2Fother", "acme%00", "acme\nother", "acme\r", "-acme", "acme-", ".acme", "acme.",
    "a" * 97, "a" * 5000, "ácme", "🤗", "acme?x=1", "acme#x", "acme\\x", "",
]  # fmt: skip


@pytest.mark.parametrize("org", INVALID_ORGS, ids=[repr(o)[:30] for o in INVALID_ORGS])
def test_an_invalid_organization_is_refused_before_any_request(run, secret_hub, capfd, org):
    from_env = run.in_process(capfd, HF_ORG=org)
    from_flag = run.in_process(capfd, "--org", org) if org else from_env
    for result in (from_env, from_flag):
        assert result.returncode == ExitCode.USAGE, result.stderr
        assert result.stdout == b""
    assert secret_hub.requests_seen == []
    assert not run.state_dir.exists()


def test_an_organization_with_a_trailing_newline_is_refused_before_any_request(run, secret_hub):
    assert run(HF_ORG="acme\n").returncode == ExitCode.USAGE
    assert secret_hub.requests_seen == []


def test_control_characters_in_the_organization_never_reach_the_log_raw(run):
    result = run(HF_ORG="acme\r\x1b[2Kforged line")
    assert result.returncode == ExitCode.USAGE
    assert "\r" not in result.stderr and "\x1b" not in result.stderr


@pytest.mark.parametrize("org", ["a", "my-org", "my_org", "my.org", "A1", "a" * 96])
def test_a_valid_organization_name_reaches_the_hub(run, secret_hub, capfd, org):
    assert run.in_process(capfd, HF_ORG=org).returncode == ExitCode.NOT_FOUND  # the Hub knows only acme
    assert len(secret_hub.requests_seen) == 1


def test_shell_metacharacters_in_the_organization_are_never_executed(secret_hub, tmp_path):
    sentinel = tmp_path / "executed"
    for org in (f"$(touch {sentinel})", f"`touch {sentinel}`", f"acme;touch {sentinel}"):
        env = poller_env(secret_hub.url, tmp_path / "state", tmp_path, HF_TOKEN=SECRET, HF_ORG=org)
        proc = subprocess.run(["/bin/sh", "-c", "hf-audit-poll"], env=env, capture_output=True, timeout=60)
        assert proc.returncode == ExitCode.USAGE
    assert not sentinel.exists()


# --- TLS and plain http ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Self-signed certificates made with the openssl CLI: one for 127.0.0.1, one for another host."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed (needed to make a self-signed certificate)")
    directory = tmp_path_factory.mktemp("tls")
    made = {}
    for name, san in (("loopback", "IP:127.0.0.1,IP:::1"), ("elsewhere", "DNS:hub.example.com")):
        cert, key = directory / f"{name}.pem", directory / f"{name}.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        made[name] = (cert, key)
    return made


def https_hub(certificate: tuple[Path, Path]) -> SimulatedHub:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return SimulatedHub(org=ORG, token=SECRET, events=generate_events(10, seed=3), ssl_context=context)


@pytest.fixture
def tls_hub(certificates) -> Iterator[SimulatedHub]:
    with https_hub(certificates["loopback"]) as running:
        yield running


def test_https_with_a_self_signed_certificate_fails_without_a_ca_bundle(tls_hub, tmp_path):
    result = run_against(tls_hub, tmp_path)
    assert result.returncode == ExitCode.NETWORK and result.stdout == b""
    assert "TLS" in result.stderr and "certificate" in result.stderr
    assert tls_hub.requests_seen == []  # refused during the handshake: the token was never sent


def test_https_with_the_ca_bundle_given_succeeds(tls_hub, certificates, tmp_path):
    result = run_against(tls_hub, tmp_path, HF_AUDIT_CA_BUNDLE=str(certificates["loopback"][0]))
    assert result.returncode == ExitCode.OK, result.stderr
    assert len(result.event_ids) == 10


def test_check_reports_a_failed_tls_verification(tls_hub, tmp_path):
    result = run_against(tls_hub, tmp_path, "check")
    assert result.returncode == ExitCode.NETWORK
    assert any(line.startswith("FAIL  tls") for line in result.stdout.decode().splitlines())


def test_https_with_a_certificate_for_another_host_fails_even_with_its_ca_bundle(certificates, tmp_path):
    with https_hub(certificates["elsewhere"]) as other:
        result = run_against(other, tmp_path, HF_AUDIT_CA_BUNDLE=str(certificates["elsewhere"][0]))
        assert other.requests_seen == []
    assert result.returncode == ExitCode.NETWORK and "TLS" in result.stderr


@pytest.mark.parametrize(
    "endpoint",
    ["http://10.0.0.1", "http://hub.example.com:8080", "http://0.0.0.0", "http://127.0.0.1.nip.io",
     "http://[::ffff:127.0.0.1]", "http://2130706433", "http://localhost.example.com"],
)  # fmt: skip
def test_plain_http_to_anything_but_a_loopback_address_is_refused(run, secret_hub, capfd, endpoint):
    result = run.in_process(capfd, HF_ENDPOINT=endpoint)
    assert result.returncode == ExitCode.USAGE and "loopback" in result.stderr
    assert secret_hub.requests_seen == []


def test_plain_http_to_localhost_is_accepted(run, secret_hub):
    endpoint = secret_hub.url.replace("127.0.0.1", "localhost")
    assert run(HF_ENDPOINT=endpoint).returncode == ExitCode.OK


def test_plain_http_to_ipv6_loopback_is_accepted(tmp_path):
    try:
        hub = SimulatedHub(org=ORG, token=SECRET, events=generate_events(5, seed=4), host="::1")
        hub.start()
    except OSError as exc:
        pytest.skip(f"IPv6 loopback is not available here: {exc}")
    with hub:
        assert hub.url.startswith("http://[::1]:")
        result = run_against(hub, tmp_path)
    assert result.returncode == ExitCode.OK, result.stderr
    assert len(result.event_ids) == 5
