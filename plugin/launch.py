"""The `hf-audit-poll` command as installed: take a poll slot, then run the poller.

A poll waiting for a slot must stay small (a fleet of N organizations has N of them at once), so
this module reads the three settings the slot needs straight from argv and the environment, by
the flag, variable and default declarations.py gives them (the declarations the settings model and
the full command line use, in a module that imports nothing heavy), and imports the poller
(requests, pydantic: about 30 MB) only once it holds a slot. Everything else, including every error
in these three settings, is left to the full command line in `cli`, which validates them again; a
setting it cannot read here simply means no slot is taken.

While a poll waits, nothing has been printed or committed, so Fluent Bit's SIGTERM at shutdown may
end it at once (the default action): no handler is installed before the slot is held.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from .declarations import BY_FIELD, Declaration, default_state_dir, duration_seconds
from .slots import PollSlots, Slot, SlotTimeout

EXIT_LOCKED = 8  # ExitCode.LOCKED, without importing errors' enum here
REPORTED_WAIT_SECONDS = 1.0  # shorter waits are not worth a log line

# Options that take no value; every other `--flag` of the command line takes one.
_VALUELESS = frozenset({"--dry-run", "--yes", "--help", "-h", "--version"})
_NO_POLL = frozenset({"--help", "-h", "--version"})
_POLL_SLOTS, _POLL_SLOT_TIMEOUT, _STATE_DIR = BY_FIELD["poll_slots"], BY_FIELD["poll_slot_timeout"], BY_FIELD["state_dir"]


class SlotRequest:
    """Which slots to take and how long to wait (a plain class: dataclasses would cost 1.5 MB)."""

    __slots__ = ("state_dir", "count", "timeout")

    def __init__(self, state_dir: str, count: int, timeout: float | None) -> None:
        self.state_dir = state_dir
        self.count = count
        self.timeout = timeout  # None: wait as long as it takes

    def _key(self) -> tuple[str, int, float | None]:
        return (self.state_dir, self.count, self.timeout)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SlotRequest) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"SlotRequest{self._key()!r}"


def scan_arguments(argv: Sequence[str]) -> tuple[dict[str, str], str, bool]:
    """(flag values, command, stop early) as the full parser will read them: the command is the
    first bare word (`poll` when there is none), `--flag value` and `--flag=value` both count, and
    --help/--version mean no poll."""
    values: dict[str, str] = {}
    command = ""
    no_poll = False
    tokens = iter(argv)
    for token in tokens:
        if token.startswith("-"):
            name, equals, value = token.partition("=")
            if name in _NO_POLL:
                no_poll = True
            elif name not in _VALUELESS:
                values[name] = value if equals else next(tokens, "")
        elif not command:
            command = token
    return values, command or "poll", no_poll


def _setting(values: Mapping[str, str], env: Mapping[str, str], declaration: Declaration) -> str | None:
    """Flag, else environment variable (an empty one counts as unset), like cli.collect_values."""
    if declaration.flag in values:
        return values[declaration.flag]
    return env.get(declaration.env) or None


def _value_or_default(values: Mapping[str, str], env: Mapping[str, str], declaration: Declaration) -> str:
    return _setting(values, env, declaration) or declaration.default or ""


def slot_request(argv: Sequence[str], env: Mapping[str, str]) -> SlotRequest | None:
    """The slot this invocation must hold, or None: not a poll, slots turned off (0), or a
    setting that does not read (the full command line then reports it)."""
    values, command, no_poll = scan_arguments(argv)
    if no_poll or command != "poll":
        return None
    try:
        count = int(_value_or_default(values, env, _POLL_SLOTS))
        timeout = duration_seconds(_value_or_default(values, env, _POLL_SLOT_TIMEOUT))
    except ValueError:
        return None
    if count <= 0 or count > 1024:
        return None
    state_dir = _setting(values, env, _STATE_DIR) or default_state_dir(env)
    return SlotRequest(state_dir, count, timeout if timeout > 0 else None)


def _report(argv: Sequence[str], env: Mapping[str, str], level: str, message: str, fields: dict[str, object]) -> None:
    """One log line in the poller's own format and masking; imported here, once memory no longer matters."""
    from .logs import Redactor, setup_logging
    from .token_discovery import candidate_tokens

    values, _, _ = scan_arguments(argv)
    redactor = Redactor()
    for token in candidate_tokens(env, _setting(values, env, BY_FIELD["token_path"])):
        redactor.add(token)
    log_level = _value_or_default(values, env, BY_FIELD["log_level"]).strip().lower()
    log_format = _value_or_default(values, env, BY_FIELD["log_format"]).strip().lower()
    log = setup_logging(
        log_level if log_level in BY_FIELD["log_level"].choices else "info",
        redactor,
        org=_setting(values, env, BY_FIELD["org"]) or "",
        fmt="json" if log_format == "json" else "logfmt",
    )
    log.log(_LEVELS[level], "%s", message, extra={"fields": {"event": "poll_slot", **fields}})


_LEVELS = {"info": 20, "error": 40}


def take_slot(argv: Sequence[str], env: Mapping[str, str]) -> Slot | None | int:
    """The held slot, None when this invocation needs none (or the state directory is unusable:
    the poll then reports that itself), or the exit code when waiting timed out."""
    request = slot_request(argv, env)
    if request is None:
        return None
    slots = PollSlots(request.state_dir, request.count)
    try:
        return slots.acquire(request.timeout)
    except SlotTimeout:
        _report(
            argv, env, "error",
            f"all {request.count} poll slots of {request.state_dir} stayed taken for {request.timeout:g} s; this poll did "
            "nothing and the next one tries again (see README: Many organizations)",
            {"slots": request.count, "waited_seconds": request.timeout},
        )
        return EXIT_LOCKED
    except OSError:
        return None


def main() -> int:
    argv, env = sys.argv[1:], os.environ
    slot = take_slot(argv, env)
    if isinstance(slot, int):
        return slot
    if slot is not None and slot.waited_seconds >= REPORTED_WAIT_SECONDS:
        _report(
            argv, env, "info", f"waited {slot.waited_seconds:.1f} s for a poll slot",
            {"slot": slot.index, "waited_seconds": round(slot.waited_seconds, 3)},
        )
    from .cli import main as poll_main  # the heavy imports, once the slot is held

    try:
        return poll_main()
    finally:
        if slot is not None:
            slot.release()


if __name__ == "__main__":
    sys.exit(main())
