"""The per-organization checkpoint: what has been emitted, kept atomically under a lock.

The export has no cursor, so the checkpoint is a watermark (the newest event time handled) plus the
ids handled within a lookback window behind it. An event is new when its id is not remembered and
it is not older than the window: that catches late arrivals without keeping every id forever.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Literal

import filelock
from pydantic import BaseModel, ValidationError, field_validator

from .atomic import atomic_write
from .errors import LockedError, StateError
from .statefiles import OrgFiles
from .timefmt import format_time, is_canonical_time, parse_time


class Checkpoint(BaseModel):
    version: Literal[1] = 1
    org: str
    watermark: str | None = None  # eventTime (RFC 3339, ms, Z) of the newest event handled
    floor: str | None = None  # events older than this are never emitted (backfill window, set-watermark)
    seen: dict[str, str] = {}  # event _id -> eventTime, for events within the lookback window
    reported_malformed: dict[str, str] = {}  # malformed items still in the export, reported once

    @field_validator("watermark", "floor")
    @classmethod
    def _canonical_time(cls, value: str | None) -> str | None:
        # Compared as text, a time in another form (or none at all) would silently emit nothing.
        if value is not None and not is_canonical_time(value):
            raise ValueError(f"not a time of the form 2026-11-01T00:00:00.000Z: {value[:40]!r}")
        return value

    def window_start(self, lookback: timedelta) -> str | None:
        """Events older than this are taken as handled by an earlier poll."""
        if self.watermark is None:
            return self.floor
        try:
            start = format_time(parse_time(self.watermark) - lookback)
        except OverflowError:  # a window reaching back before year 1 starts at the floor
            return self.floor
        return max(start, self.floor) if self.floor else start

    def pruned(self, lookback: timedelta) -> Checkpoint:
        start = self.window_start(lookback)
        if start is None:
            return self
        kept = {event_id: time for event_id, time in self.seen.items() if time >= start}
        return self.model_copy(update={"seen": kept})


class StateStore:
    """Reads and writes the checkpoint (`<state_dir>/<org>.json`); `lock()` guards a whole poll."""

    def __init__(self, state_dir: Path, org: str, lock_timeout: float) -> None:
        self.state_dir = state_dir
        self.org = org
        self.files = OrgFiles(state_dir, org)
        self.path = self.files.checkpoint
        self._lock = filelock.FileLock(self.files.lock, timeout=lock_timeout)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StateError(f"cannot create the state directory {self.state_dir}: {exc.strerror}") from None
        try:
            with self._lock:
                self._remove_stale_temp_files()
                yield
        except filelock.Timeout:
            raise LockedError(
                f"another hf-audit-poll for organization {self.org!r} holds {self._lock.lock_file}; "
                "this poll did nothing (raise Interval_Sec if polls overlap)"
            ) from None
        except OSError as exc:
            if exc.filename == self._lock.lock_file:
                raise StateError(f"cannot create the lock file {exc.filename}: {exc.strerror or exc}") from None
            raise

    def _remove_stale_temp_files(self) -> None:
        """Temp files of a poll killed mid-write (atomic_write names them `.<file>.<random>.tmp`);
        every write of these files happens under this lock, so none is in use now."""
        stale = self.files.stale_temp_file()
        for entry in self.state_dir.iterdir():
            if stale.fullmatch(entry.name):
                with contextlib.suppress(OSError):
                    entry.unlink()

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
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in error["loc"])
            raise StateError(
                f"the checkpoint {self.path} is corrupt ({where + ': ' if where else ''}{error['msg']}); "
                "nothing was polled. Restore it from a backup, or move it aside to backfill again "
                "(sinks fold re-sent events by id)"
            ) from None
        if checkpoint.org != self.org:
            raise StateError(f"the checkpoint {self.path} belongs to organization {checkpoint.org!r}")
        return checkpoint

    def save(self, checkpoint: Checkpoint) -> None:
        try:
            atomic_write(self.path, checkpoint.model_dump_json().encode())
        except OSError as exc:
            raise StateError(f"cannot write the checkpoint {self.path}: {exc.strerror or exc}") from None

    def reset(self) -> bool:
        """Remove the checkpoint (the next poll backfills again); False when there was none."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StateError(f"cannot remove the checkpoint {self.path}: {exc.strerror}") from None
        return True
