"""The poller's own health, kept apart from the checkpoint so a broken checkpoint is still reported.

`<state_dir>/<org>.health` counts polls, failures in a row and events emitted; `state show`
prints it and the metrics file is rendered from it after every poll.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from .atomic import atomic_write
from .statefiles import OrgFiles


class LastPoll(BaseModel):
    """The figures of a poll: what the summary line prints, the health file keeps (as its last
    poll) and the metrics file is rendered from. The fields marked `exclude` are the summary
    line's alone: they are not kept."""

    finished_at: str
    outcome: str  # ok, interrupted, or the error kind (auth, network, data, state, ...)
    exit_code: int
    duration_seconds: float
    exported: int = 0
    new: int = 0
    emitted: int = 0
    unconfirmed: int = 0
    already_seen: int = 0
    late: int = 0
    future: int = 0
    malformed: int = 0
    bytes: int = 0
    retries: int = 0
    rate_limit_remaining: int | None = None
    lag_seconds: float | None = None
    not_backfilled: int = Field(default=0, exclude=True)
    lost_upstream: bool = Field(default=False, exclude=True)  # events scrolled out of the export unseen
    stopped_early: bool = Field(default=False, exclude=True)  # newest-first export read down to the window

    def summary_fields(self) -> dict[str, object]:
        """The figures as the summary line prints them: all but the time it finished."""
        return {**self.model_dump(exclude={"finished_at"}), **{name: getattr(self, name) for name in _SUMMARY_ONLY}}

    @field_validator("rate_limit_remaining", mode="before")
    @classmethod
    def _known_remaining(cls, value: object) -> object:
        """A health file written before header numbers were bounded may hold one beyond 64 bits:
        read it as unknown, so that `state show` and the metrics file still work."""
        if isinstance(value, int) and not 0 <= value <= 2**53:
            return None
        return value


_SUMMARY_ONLY = ("not_backfilled", "lost_upstream", "stopped_early")


class Health(BaseModel):
    org: str
    polls: int = 0
    failures_total: int = 0
    consecutive_failures: int = 0
    emitted_total: int = 0
    lost_upstream_total: int = 0  # polls that found events had scrolled out of the export
    last_success: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    last_poll: LastPoll | None = None

    def record(self, poll: LastPoll, *, error: str | None, gap: bool) -> Health:
        succeeded = error is None
        return self.model_copy(
            update={
                "polls": self.polls + 1,
                "failures_total": self.failures_total + (0 if succeeded else 1),
                "consecutive_failures": 0 if succeeded else self.consecutive_failures + 1,
                "emitted_total": self.emitted_total + poll.emitted,
                "lost_upstream_total": self.lost_upstream_total + int(gap),
                "last_success": poll.finished_at if succeeded else self.last_success,
                "last_error": self.last_error if succeeded else error,
                "last_error_at": self.last_error_at if succeeded else poll.finished_at,
                "last_poll": poll,
            }
        )


class HealthStore:
    def __init__(self, state_dir: Path, org: str) -> None:
        self.org = org
        files = OrgFiles(state_dir, org)
        self.path = files.health
        self._legacy = files.legacy_health
        self._legacy_is_ours = False

    def load(self) -> Health:
        """The recorded health; a missing or damaged file starts the counts again (it is only
        observability: the checkpoint, not this file, decides what is emitted). Without one, the
        file of the old layout is taken over when it is this organization's health."""
        try:
            return Health.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            pass
        except (OSError, ValidationError):
            return Health(org=self.org)
        try:
            legacy = Health.model_validate_json(self._legacy.read_bytes())
        except (OSError, ValidationError):
            return Health(org=self.org)
        # The old name is also the checkpoint name of the organization `<org>.health`, whose
        # `org` field names it: only a file that names this organization is its health.
        self._legacy_is_ours = legacy.org == self.org
        return legacy if self._legacy_is_ours else Health(org=self.org)

    def save(self, health: Health) -> None:
        atomic_write(self.path, health.model_dump_json(indent=1).encode(), mode=0o644)
        if self._legacy_is_ours:
            with contextlib.suppress(OSError):
                self._legacy.unlink()
            self._legacy_is_ours = False
