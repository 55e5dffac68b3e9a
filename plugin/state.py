"""The per-organization checkpoint: what has been emitted, kept atomically under a lock.

The export has no cursor, so the checkpoint is a watermark (the newest event time handled) plus the
ids handled within a lookback window behind it. An event is new when its id is not remembered and
it is not older than the window: that catches late arrivals without keeping every id forever.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Literal

import filelock
from pydantic import BaseModel, ValidationError

from .errors import LockedError, StateError
from .events import format_time, parse_time


class Checkpoint(BaseModel):
    version: Literal[1] = 1
    org: str
    watermark: str | None = None  # eventTime (RFC 3339, ms, Z) of the newest event handled
    seen: dict[str, str] = {}  # event _id -> eventTime, for events within the lookback window
    reported_malformed: dict[str, str] = {}  # malformed items still in the export, reported once
    last_success: str | None = None
    last_error: str | None = None
    polls: int = 0
    emitted_total: int = 0

    def window_start(self, lookback: timedelta) -> str | None:
        """Events older than this are taken as handled by an earlier poll."""
        if self.watermark is None:
            return None
        return format_time(parse_time(self.watermark) - lookback)

    def pruned(self, lookback: timedelta) -> Checkpoint:
        start = self.window_start(lookback)
        if start is None:
            return self
        kept = {event_id: time for event_id, time in self.seen.items() if time >= start}
        return self.model_copy(update={"seen": kept})


class StateStore:
    """Reads and writes `<state_dir>/<org>.json`; `lock()` guards a whole poll."""

    def __init__(self, state_dir: Path, org: str, lock_timeout: float) -> None:
        self.state_dir = state_dir
        self.org = org
        self.path = state_dir / f"{org}.json"
        self._lock = filelock.FileLock(state_dir / f"{org}.lock", timeout=lock_timeout)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StateError(f"cannot create the state directory {self.state_dir}: {exc.strerror}") from None
        try:
            with self._lock:
                yield
        except filelock.Timeout:
            raise LockedError(
                f"another hf-audit-poll for organization {self.org!r} holds {self._lock.lock_file}; "
                "this poll did nothing (raise Interval_Sec if polls overlap)"
            ) from None
        except PermissionError as exc:
            if exc.filename == self._lock.lock_file:
                raise StateError(f"cannot create the lock file {exc.filename}: permission denied") from None
            raise

    def load(self) -> Checkpoint | None:
        """The checkpoint, or None before the first poll. A damaged file is an error, never a reset."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read the checkpoint {self.path}: {exc.strerror}") from None
        try:
            checkpoint = Checkpoint.model_validate_json(text)
        except ValidationError as exc:
            raise StateError(
                f"the checkpoint {self.path} is corrupt ({exc.errors(include_url=False)[0]['msg']}); "
                "nothing was polled. Restore it from a backup, or move it aside to backfill again "
                "(sinks fold re-sent events by id)"
            ) from None
        if checkpoint.org != self.org:
            raise StateError(f"the checkpoint {self.path} belongs to organization {checkpoint.org!r}")
        return checkpoint

    def save(self, checkpoint: Checkpoint) -> None:
        """Write to a temp file in the same directory, fsync, rename: never a half-written state."""
        data = checkpoint.model_dump_json().encode()
        tmp_name = None
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{self.org}.", suffix=".tmp", dir=self.state_dir)
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, self.path)
            tmp_name = None
            dir_fd = os.open(self.state_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise StateError(f"cannot write the checkpoint {self.path}: {exc.strerror or exc}") from None
        finally:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
