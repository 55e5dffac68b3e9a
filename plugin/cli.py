"""`hf-audit-poll`: one invocation is one poll, as Fluent Bit's exec input runs it.

stdout carries only records (one JSON object a line); everything else goes to stderr. Every
setting is a flag and an environment variable; the token is only ever an environment variable or
a file, never a flag. Subcommands `check` and `state` are for the operator, not for Fluent Bit.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from . import __version__, check, statecmd
from .errors import ExitCode, HfAuditError, UsageError
from .logs import Redactor, setup_logging
from .poll import StopSignal
from .enrich import IpEnricher
from .runner import run_poll
from .settings import Backfill, Settings, build_settings, candidate_tokens, default_state_dir, find_token, parse_duration
from .timefmt import parse_time


@dataclass(frozen=True)
class Option:
    """One setting: its flag, its environment variable, its default as documented, and how its
    text becomes a value. README.md's settings table is checked against this tuple."""

    field: str
    flag: str
    env: str
    default: str
    help: str
    convert: Callable[[str], Any] = str


def _seconds(text: str) -> float:
    return parse_duration(text).total_seconds()


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _choice(*allowed: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if text.strip().lower() not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return text.strip().lower()

    return convert


OPTIONS: tuple[Option, ...] = (
    Option("org", "--org", "HF_ORG", "(required)", "organization whose audit log is polled"),
    Option("endpoint", "--endpoint", "HF_ENDPOINT", "https://huggingface.co", "Hub URL; plain http is refused except to a loopback address"),
    Option("token_path", "--token-path", "HF_TOKEN_PATH", "$HF_HOME/token", "file holding the token, read when HF_TOKEN is unset (HF_HOME defaults to ~/.cache/huggingface)"),
    Option("query", "--query", "HF_AUDIT_QUERY", "(none)", "search filter passed as the export's q parameter, e.g. type:repo.create"),
    Option("state_dir", "--state-dir", "HF_AUDIT_STATE_DIR", "$XDG_STATE_HOME/hf-audit or ~/.local/state/hf-audit", "directory of the checkpoints, health and metrics files"),
    Option("backfill", "--backfill", "HF_AUDIT_BACKFILL", "all", "what the first poll emits: all, none, or a window such as 7d", Backfill.parse),
    Option("lookback", "--lookback", "HF_AUDIT_LOOKBACK", "24h", "how late an event may appear in the export and still be emitted", parse_duration),
    Option("clock_skew", "--clock-skew", "HF_AUDIT_CLOCK_SKEW", "5m", "how far past this machine's clock the watermark may go; later events are printed once, counted as future (at most 1d)", parse_duration),
    Option("deadline", "--deadline", "HF_AUDIT_DEADLINE", "240s", "a poll gives up after this long, retries included; keep it below Interval_Sec", parse_duration),
    Option("connect_timeout", "--connect-timeout", "HF_AUDIT_CONNECT_TIMEOUT", "10s", "time to connect to the Hub", _seconds),
    Option("read_timeout", "--read-timeout", "HF_AUDIT_READ_TIMEOUT", "60s", "time without a byte from the Hub before a read fails", _seconds),
    Option("max_retries", "--max-retries", "HF_AUDIT_MAX_RETRIES", "6", "retries on connection errors, 408, 429 and 5xx, with backoff and jitter", int),
    Option("ca_bundle", "--ca-bundle", "HF_AUDIT_CA_BUNDLE", "REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE, else requests' bundle", "CA bundle file for TLS verification; wins over REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE"),
    Option("max_line_bytes", "--max-line-bytes", "HF_AUDIT_MAX_LINE_BYTES", "65535", "longest line printed, newline included; must be below the exec input's Buf_Size", int),
    Option("max_event_bytes", "--max-event-bytes", "HF_AUDIT_MAX_EVENT_BYTES", "33554432", "largest single event accepted in the export", int),
    Option("lock_timeout", "--lock-timeout", "HF_AUDIT_LOCK_TIMEOUT", "5s", "how long to wait for another poll of the same organization", _seconds),
    Option("poll_slots", "--poll-slots", "HF_AUDIT_POLL_SLOTS", "2", "how many polls of one state directory download or print at once (0: no limit); the rest wait", int),
    Option("poll_slot_timeout", "--poll-slot-timeout", "HF_AUDIT_POLL_SLOT_TIMEOUT", "30m", "how long a poll waits for a free poll slot before giving up (0: no limit)", parse_duration),
    Option("workspace_id", "--workspace-id", "HF_AUDIT_WORKSPACE_ID", "default", "value of the workspaceID column"),
    Option("source_id", "--source-id", "HF_AUDIT_SOURCE_ID", "huggingface-<org>", "value of the sourceID column"),
    Option("source_ttl_days", "--source-ttl", "HF_AUDIT_SOURCE_TTL", "365", "value of the sourceTTL column: days a sink keeps a record (0: forever)", int),
    Option("metrics_file", "--metrics-file", "HF_AUDIT_METRICS_FILE", "<state dir>/<org>.prom", "Prometheus text file written after every poll"),
    Option("log_level", "--log-level", "HF_AUDIT_LOG_LEVEL", "info", "debug, info, warning or error", _choice("debug", "info", "warning", "error")),
    Option("log_format", "--log-format", "HF_AUDIT_LOG_FORMAT", "logfmt", "stderr line format: logfmt or json", _choice("logfmt", "json")),
    Option("trace", "--trace", "HF_AUDIT_TRACE", "false", "log every HTTP exchange (credentials and cookies masked)", _flag),
    Option("geoip_city_db", "--geoip-city-db", "HF_AUDIT_GEOIP_CITY_DB", "(none)", "MaxMind DB City database (GeoLite2-City, GeoIP2-City, DB-IP City Lite): fills srcCity, srcLatitude, srcLongitude"),
    Option("geoip_asn_db", "--geoip-asn-db", "HF_AUDIT_GEOIP_ASN_DB", "(none)", "MaxMind DB ASN or ISP database (GeoLite2-ASN, GeoIP2-ISP): fills srcASNumber, srcASOrganization, srcISP"),
    Option("iptoasn_tsv", "--iptoasn-tsv", "HF_AUDIT_IPTOASN_TSV", "(none)", "iptoasn.com ip2asn-combined.tsv, plain or .gz: fills srcASNumber, srcASOrganization, srcASCountryCode"),
)
_LOGGING_FIELDS = ("log_level", "log_format")


class _Parser(argparse.ArgumentParser):
    """argparse quotes the offending argument in its errors, and one could be a pasted token:
    every value from argv that is not an option name is masked in the message."""

    def __init__(self, *args: Any, hidden: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hidden = sorted((v for v in hidden if v and not v.startswith("-")), key=len, reverse=True)

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            names = sorted({arg.split("=", 1)[0] for arg in message.split(":", 1)[1].split() if arg.startswith("-")})
            message = f"unrecognized arguments (values not shown): {' '.join(names) or '(positional)'}"
            if "--token" in names:
                message += "; the token is read only from HF_TOKEN or a token file, never from the command line"
        for value in self.hidden:
            message = message.replace(value, "***")
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def _add_settings(parser: argparse.ArgumentParser, suppress: bool) -> None:
    # Subcommands repeat the options with SUPPRESS defaults, so `hf-audit-poll --org x check` and
    # `hf-audit-poll check --org x` both work and neither overwrites the other with None.
    for option in OPTIONS:
        parser.add_argument(
            option.flag, dest=option.field, metavar=option.env.removeprefix("HF_AUDIT_").removeprefix("HF_"),
            default=argparse.SUPPRESS if suppress else None, help=f"{option.help} [env {option.env}; default {option.default}]",
        )


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; `argv` lists the values its error messages must not repeat."""
    hidden = [arg for arg in argv if not arg.startswith("-")]
    hidden += [arg.split("=", 1)[1] for arg in argv if arg.startswith("-") and "=" in arg]
    parser_class = functools.partial(_Parser, hidden=hidden)
    parser = parser_class(
        prog="hf-audit-poll",
        allow_abbrev=False,  # else `--token x` would silently mean --token-path
        description="Poll a Hugging Face organization's audit-log export once and print the new events as "
        "normalized JSON lines, for Fluent Bit's exec input. The token comes from HF_TOKEN, HF_TOKEN_PATH "
        "or the huggingface-cli token file, never from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"hf-audit {__version__}")
    parser.add_argument("--dry-run", action="store_true", help="poll and print, but commit nothing (checkpoint, health, metrics)")
    _add_settings(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="{poll,check,state}", parser_class=parser_class)
    poll = commands.add_parser("poll", help="one poll (the default)", allow_abbrev=False)
    poll.add_argument("--dry-run", action="store_true", default=argparse.SUPPRESS, help="commit nothing")
    _add_settings(poll, suppress=True)
    checker = commands.add_parser("check", help="verify settings, token, endpoint, permission, state and line bound", allow_abbrev=False)
    checker.add_argument("--fluent-bit-config", type=Path, help="Fluent Bit config whose exec Buf_Size to compare the line bound with")
    _add_settings(checker, suppress=True)
    state = commands.add_parser("state", help="inspect or steer the checkpoint", allow_abbrev=False)
    state_commands = state.add_subparsers(dest="state_command", required=True, parser_class=parser_class)
    for name, help_text in (("show", "print the checkpoint and health as JSON"), ("reset", "forget the checkpoint: the next poll backfills again"), ("set-watermark", "emit again (or skip) from a time on")):
        sub = state_commands.add_parser(name, help=help_text, allow_abbrev=False)
        if name == "set-watermark":
            sub.add_argument("time", help="RFC 3339 time, e.g. 2026-11-01T00:00:00Z")
            sub.add_argument("--force", action="store_true", help="accept a time in the future (the poller then emits nothing until then)")
        if name != "show":
            sub.add_argument("--yes", action="store_true", help="confirm")
        _add_settings(sub, suppress=True)
    return parser


def collect_values(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, Any]:
    """Flag, else environment variable, converted; unset settings keep the model's default."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        text = getattr(args, option.field, None)
        if text is None:
            text = env.get(option.env) or None
        if text is None:
            continue
        try:
            values[option.field] = option.convert(text)
        except ValueError as exc:
            raise UsageError(f"{option.flag} / {option.env}: {exc}") from None
    return values


def load_settings(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    values = collect_values(args, env)
    for name in _LOGGING_FIELDS:
        values.pop(name, None)
    token_path = values.pop("token_path", None)
    if "org" not in values:
        raise UsageError("no organization: set HF_ORG or pass --org")
    values.setdefault("state_dir", default_state_dir(env))
    settings = build_settings({**values, "token": "unset", "token_source": "unset"})  # settings errors first
    found = find_token(env, token_path)
    return settings.model_copy(update={"token": found.token, "token_source": found.source, "token_warning": found.warning})


def _logging_choice(args: argparse.Namespace, env: Mapping[str, str], field: str, default: str) -> str:
    option = next(o for o in OPTIONS if o.field == field)
    text = getattr(args, field, None) or env.get(option.env) or default
    try:
        return option.convert(text)
    except ValueError:
        return default


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    redactor = Redactor()
    redactor.add(env.get("HF_TOKEN", "").strip())
    if argv is None:  # run as a command, not called by a test
        # What is loaded by now lives as long as the process: keeping it out of the collector's
        # full passes saves about 5% of a 100,000-event backfill.
        gc.freeze()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    for token in candidate_tokens(env, getattr(args, "token_path", None)):
        redactor.add(token)
    log = setup_logging(
        _logging_choice(args, env, "log_level", "info"),
        redactor,
        org=getattr(args, "org", None) or env.get("HF_ORG", ""),
        fmt=_logging_choice(args, env, "log_format", "logfmt"),  # type: ignore[arg-type]
    )
    stop = StopSignal()
    # Ctrl-C and a closed terminal stop the reader too, as Fluent Bit's shutdown does: all three
    # stop the poll the same way, committing only what the reader can have stored.
    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        if args.command == "check":
            verdicts = check.run_checks(lambda: _register(load_settings(args, env), redactor), args.fluent_bit_config)
            return check.print_verdicts(verdicts, sys.stdout, redactor.redact)
        settings = _register(load_settings(args, env), redactor)
        if settings.token_warning:
            log.warning("%s", settings.token_warning)
        if args.command == "state":
            return _state_command(args, settings)
        enricher = IpEnricher.from_settings(settings)  # a database that cannot be used is a settings error
        return run_poll(
            settings, sys.stdout.fileno(), log, stop, dry_run=args.dry_run, redact=redactor.redact, enricher=enricher
        )
    except HfAuditError as exc:
        log.error("%s", exc.message)
        return exc.exit_code
    except KeyboardInterrupt:
        log.error("interrupted before any event was printed; the checkpoint is unchanged")
        return ExitCode.INTERRUPTED
    except Exception as exc:  # a bug: one redacted line, the traceback only at debug level
        log.error("internal error (%s): %s; rerun with HF_AUDIT_LOG_LEVEL=debug for details", type(exc).__name__, exc)
        log.debug("traceback", exc_info=True)
        return ExitCode.INTERNAL
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _register(settings: Settings, redactor: Redactor) -> Settings:
    redactor.add(settings.token.get_secret_value())
    return settings


def _state_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.state_command == "show":
        statecmd.show(settings, sys.stdout)
    elif args.state_command == "reset":
        statecmd.reset(settings, sys.stdout, confirmed=args.yes)
    else:
        try:
            when: datetime = parse_time(args.time)
        except ValueError:
            raise UsageError(f"not an RFC 3339 time: {args.time!r} (e.g. 2026-11-01T00:00:00Z)") from None
        statecmd.set_watermark(settings, when, sys.stdout, confirmed=args.yes, force=args.force)
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
