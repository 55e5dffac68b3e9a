"""`hf-audit-poll`: one invocation is one poll, as Fluent Bit's exec input runs it.

stdout carries only records (one JSON object a line); everything else goes to stderr. Every
setting is a flag and an environment variable; the token is only ever an environment variable or
a file, never a flag. Subcommands `doctor` (formerly `check`) and `state` are for the operator, not for
Fluent Bit.
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
from typing import Any, NoReturn, cast

from . import __version__, doctor, statecmd
from .declarations import BY_FIELD, DECLARATIONS
from .enrich import IpEnricher
from .errors import ExitCode, HfAuditError, UsageError
from .logs import LogFormat, Redactor, setup_logging
from .poll import StopSignal
from .runner import run_poll
from .settings import Settings, build_settings, converter, default_state_dir
from .timefmt import parse_time
from .token_discovery import candidate_tokens, find_token


@dataclass(frozen=True)
class Option:
    """One setting as the command line reads it: its declaration (declarations.py) with the
    conversion of its text. `default` is the default as README.md and --help state it."""

    field: str
    flag: str
    env: str
    default: str
    help: str
    convert: Callable[[str], Any] = str


OPTIONS: tuple[Option, ...] = tuple(
    Option(d.field, d.flag, d.env, d.shown, d.help, converter(d)) for d in DECLARATIONS
)
_LOGGING_FIELDS = ("log_level", "log_format")
DOCTOR_COMMANDS = ("doctor", "check")  # argparse names the alias used, not the command


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
    # Subcommands repeat the options with SUPPRESS defaults, so `hf-audit-poll --org x doctor` and
    # `hf-audit-poll doctor --org x` both work and neither overwrites the other with None.
    for option in OPTIONS:
        parser.add_argument(
            option.flag, dest=option.field, metavar=option.env.removeprefix("HF_AUDIT_").removeprefix("HF_"),
            default=argparse.SUPPRESS if suppress else None, help=f"{option.help} [env {option.env}; default {option.default}]",
        )


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; `argv` lists the values its error messages must not repeat."""
    hidden = [arg for arg in argv if not arg.startswith("-")]
    hidden += [arg.split("=", 1)[1] for arg in argv if arg.startswith("-") and "=" in arg]
    # argparse only ever calls parser_class(...) for subparsers: a partial of the class serves.
    parser_class = cast("type[_Parser]", functools.partial(_Parser, hidden=hidden))
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
    commands = parser.add_subparsers(dest="command", metavar="{poll,doctor,state}", parser_class=parser_class)
    poll = commands.add_parser("poll", help="one poll (the default)", allow_abbrev=False)
    poll.add_argument("--dry-run", action="store_true", default=argparse.SUPPRESS, help="commit nothing")
    _add_settings(poll, suppress=True)
    # `check` was the doctor's first name: operators' scripts and runbooks still call it.
    checker = commands.add_parser(
        "doctor", aliases=["check"], allow_abbrev=False,
        help="verify settings, token, endpoint, permission, state and line bound (`check` is its old name and still works)",
    )
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


def _logging_choice(args: argparse.Namespace, env: Mapping[str, str], field: str) -> str:
    """A logging setting, read before the settings model (which may refuse the rest): its
    declared default when it is unset or not one of its choices."""
    declaration = BY_FIELD[field]
    default = str(declaration.default)
    text = getattr(args, field, None) or env.get(declaration.env) or default
    try:
        return str(converter(declaration)(text))
    except ValueError:
        return default


def _log_format(args: argparse.Namespace, env: Mapping[str, str]) -> LogFormat:
    return "json" if _logging_choice(args, env, "log_format") == "json" else "logfmt"


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
        _logging_choice(args, env, "log_level"),
        redactor,
        org=getattr(args, "org", None) or env.get(BY_FIELD["org"].env, ""),
        fmt=_log_format(args, env),
    )
    stop = StopSignal()
    # Ctrl-C and a closed terminal stop the reader too, as Fluent Bit's shutdown does: all three
    # stop the poll the same way, committing only what the reader can have stored.
    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        if args.command in DOCTOR_COMMANDS:
            verdicts = doctor.run_checks(lambda: _register(load_settings(args, env), redactor), args.fluent_bit_config)
            return doctor.print_verdicts(verdicts, sys.stdout, redactor.redact)
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
