"""Exit codes and the errors that map to them.

Fluent Bit ignores the command's exit code (it only shows it in its debug log), so every error
also prints one actionable line on stderr. The codes are distinct so a wrapper or a test can tell
the kinds apart; README.md documents them.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1  # a bug: please report it
    USAGE = 2  # bad flag, setting or organization name; nothing was requested
    AUTH = 3  # 401/403: the token is missing, wrong, or not an admin of a Team/Enterprise org
    NOT_FOUND = 4  # 404: no such organization
    NETWORK = 5  # connection, timeout, 5xx or 429 past the poll deadline
    DATA = 6  # the Hub answered with something that is not a complete JSON array
    STATE = 7  # the checkpoint cannot be read or written
    LOCKED = 8  # another poll of the same organization holds the lock
    OUTPUT = 9  # stdout's reader went away or got stuck: what it may not have stored is printed again next poll
    INTERRUPTED = 143  # SIGTERM, SIGINT or SIGHUP: what the reader took in is committed, the rest waits for the next poll


class HfAuditError(Exception):
    """An expected failure: its message is the one line the user sees."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(HfAuditError):
    exit_code = ExitCode.USAGE


class AuthError(HfAuditError):
    exit_code = ExitCode.AUTH


class NotFoundError(HfAuditError):
    exit_code = ExitCode.NOT_FOUND


class NetworkError(HfAuditError):
    exit_code = ExitCode.NETWORK


class DataError(HfAuditError):
    exit_code = ExitCode.DATA


class StateError(HfAuditError):
    exit_code = ExitCode.STATE


class LockedError(HfAuditError):
    exit_code = ExitCode.LOCKED


class Interrupted(HfAuditError):
    exit_code = ExitCode.INTERRUPTED
