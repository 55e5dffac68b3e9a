"""`hf-audit-poll`: one invocation is one poll, as Fluent Bit's exec input runs it.

stdout carries only records (one JSON object a line); everything else goes to stderr. Every
setting is a flag and an environment variable; the token is only ever an environment variable or
a file, never a flag.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from . import __version__
from .errors import ExitCode, HfAuditError, UsageError
from .logs import Redactor, setup_logging
from .poll import Poll, PollReport, StopSignal
from .settings import Backfill, Settings, build_settings, default_state_dir, find_token, parse_duration


@dataclass(frozen=True)
class Option:
    """One setting: its flag, its environment variable, and how its text becomes a value."""

    field: str
    flag: str
    env: str
    help: str
    convert: Callable[[str], Any] = str


def _seconds(text: str) -> float:
    return parse_duration(text).total_seconds()


OPTIONS: tuple[Option, ...] = (
    Option("org", "--org", "HF_ORG", "organization whose audit log is polled (required)"),
    Option("endpoint", "--endpoint", "HF_ENDPOINT", "Hub URL; plain http only to loopback (default https://huggingface.co)"),
    Option("token_path", "--token-path", "HF_TOKEN_PATH", "file holding the token, when HF_TOKEN is not set (default $HF_HOME/token)"),
    Option("query", "--query", "HF_AUDIT_QUERY", "search filter passed as the export's q parameter, e.g. type:repo.create"),
    Option("state_dir", "--state-dir", "HF_AUDIT_STATE_DIR", "directory of the checkpoints (default $XDG_STATE_HOME/hf-audit or ~/.local/state/hf-audit)"),
    Option("backfill", "--backfill", "HF_AUDIT_BACKFILL", "what the first poll emits: all, none, or a window such as 7d (default all)", Backfill.parse),
    Option("lookback", "--lookback", "HF_AUDIT_LOOKBACK", "how late an event may appear and still be emitted (default 24h)", parse_duration),
    Option("deadline", "--deadline", "HF_AUDIT_DEADLINE", "give up a poll after this long, retries included; keep it below Interval_Sec (default 240s)", parse_duration),
    Option("connect_timeout", "--connect-timeout", "HF_AUDIT_CONNECT_TIMEOUT", "seconds to connect (default 10)", _seconds),
    Option("read_timeout", "--read-timeout", "HF_AUDIT_READ_TIMEOUT", "seconds without a byte from the Hub before a read fails (default 60)", _seconds),
    Option("max_retries", "--max-retries", "HF_AUDIT_MAX_RETRIES", "retries on connection errors, 408, 429 and 5xx (default 6)", int),
    Option("ca_bundle", "--ca-bundle", "HF_AUDIT_CA_BUNDLE", "CA bundle file for TLS verification (default: the system's / REQUESTS_CA_BUNDLE)"),
    Option("max_line_bytes", "--max-line-bytes", "HF_AUDIT_MAX_LINE_BYTES", "longest line printed, newline included; keep below the exec input's Buf_Size (default 65535)", int),
    Option("max_event_bytes", "--max-event-bytes", "HF_AUDIT_MAX_EVENT_BYTES", "largest single event accepted in the export (default 33554432)", int),
    Option("lock_timeout", "--lock-timeout", "HF_AUDIT_LOCK_TIMEOUT", "seconds to wait for another poll of the same organization (default 5)", _seconds),
    Option("workspace_id", "--workspace-id", "HF_AUDIT_WORKSPACE_ID", "value of the workspaceID column (default: default)"),
    Option("source_id", "--source-id", "HF_AUDIT_SOURCE_ID", "value of the sourceID column (default huggingface-<org>)"),
    Option("source_ttl_days", "--source-ttl", "HF_AUDIT_SOURCE_TTL", "value of the sourceTTL column: days the sinks keep a record (default 365)", int),
    Option("log_level", "--log-level", "HF_AUDIT_LOG_LEVEL", "debug, info, warning or error (default info)"),
)


class _Parser(argparse.ArgumentParser):
    """argparse echoes unknown arguments in its error; one of them could be a pasted token."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            names = sorted({arg.split("=", 1)[0] for arg in message.split(":", 1)[1].split() if arg.startswith("-")})
            message = f"unrecognized arguments (values not shown): {' '.join(names) or '(positional)'}"
            if "--token" in names:
                message += "; the token is read only from HF_TOKEN or a token file, never from the command line"
        self.exit(ExitCode.USAGE, f"hf-audit-poll: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hf-audit-poll",
        allow_abbrev=False,  # else `--token x` would silently mean --token-path
        description="Poll a Hugging Face organization's audit-log export once and print new events "
        "as normalized JSON lines, for Fluent Bit's exec input. The token comes from HF_TOKEN, "
        "HF_TOKEN_PATH or the huggingface-cli token file.",
    )
    parser.add_argument("--version", action="version", version=f"hf-audit {__version__}")
    for option in OPTIONS:
        parser.add_argument(option.flag, dest=option.field, metavar=option.env, help=f"{option.help} [env {option.env}]")
    return parser


def collect_values(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, Any]:
    """Flag, else environment variable, converted; unset settings keep the model's default."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        text = getattr(args, option.field)
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
    values.pop("log_level", None)
    token_path = values.pop("token_path", None)
    if "org" not in values:
        raise UsageError("no organization: set HF_ORG or pass --org")
    values.setdefault("state_dir", default_state_dir(env))
    token, source = find_token(env, token_path)
    values.update(token=token, token_source=source)
    return build_settings(values)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    redactor = Redactor()
    redactor.add(env.get("HF_TOKEN", "").strip())
    args = build_parser().parse_args(argv)
    level = (args.log_level or env.get("HF_AUDIT_LOG_LEVEL") or "info").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        level = "INFO"
    log = setup_logging(level, redactor, org=args.org or env.get("HF_ORG", ""))
    stop = StopSignal()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        settings = load_settings(args, env)
        redactor.add(settings.token.get_secret_value())
        report = Poll(settings, sys.stdout.buffer, log, stop).run()
        log_summary(log, report)
        return ExitCode.INTERRUPTED if report.interrupted else ExitCode.OK
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
        signal.signal(signal.SIGTERM, previous)


def log_summary(log: Any, report: PollReport) -> None:
    log.info(
        "poll done: exported=%d new=%d emitted=%d already_seen=%d late=%d malformed=%d not_backfilled=%d "
        "bytes=%d retries=%d%s",
        report.exported, report.new, report.emitted, report.already_seen, report.late, report.malformed,
        report.not_backfilled, report.fetch.bytes_read, report.fetch.retries,
        " interrupted=true" if report.interrupted else "",
    )


if __name__ == "__main__":
    sys.exit(main())
