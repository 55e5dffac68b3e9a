"""The checkpoint's rules: which events a poll counts as new, how it moves the checkpoint, and what
`state set-watermark` may do.

Pure: a checkpoint and times in, a verdict or a checkpoint out; no files, no clock, no log. Times
are the canonical text form (timefmt.py), which sorts in time order, so the rules compare text.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from .errors import UsageError
from .settings import Backfill, Settings
from .state import Checkpoint
from .timefmt import format_time

Verdict = Literal["new", "seen", "old", "not_backfilled"]


def horizon(now: datetime, clock_skew: timedelta) -> str:
    """The latest time the watermark may hold: this machine's clock plus the skew allowed the Hub's."""
    return format_time(now + clock_skew)


def backfill_floor(backfill: Backfill, now: datetime) -> str | None:
    """Where a first poll's backfill window starts; None when it takes all or nothing."""
    return format_time(now - backfill.window) if backfill.window is not None else None


def watermark_within_clock(checkpoint: Checkpoint | None, limit: str) -> Checkpoint | None:
    """A checkpoint from before the horizon rule may hold a far-future watermark, which hides every
    event: it is taken back to `limit` (the events it hid are printed again, or for the first time)."""
    if checkpoint is None or checkpoint.watermark is None or checkpoint.watermark <= limit:
        return checkpoint
    return checkpoint.model_copy(update={"watermark": limit})


class PollRules:
    """The rules one poll at `now` applies to a checkpoint: its horizon and its backfill floor are
    computed here once, for the verdicts and for the checkpoint the poll commits."""

    def __init__(self, checkpoint: Checkpoint | None, settings: Settings, now: datetime) -> None:
        self.checkpoint = checkpoint
        self.org = settings.org
        self.lookback = settings.lookback
        self.horizon = horizon(now, settings.clock_skew)
        self.first_poll = checkpoint is None
        self.floor = backfill_floor(settings.backfill, now) if self.first_poll else None
        self.seen = checkpoint.seen if checkpoint else {}
        self.watermark = checkpoint.watermark if checkpoint else None
        self.window_start = checkpoint.window_start(settings.lookback) if checkpoint else None
        self.skip_all = self.first_poll and settings.backfill.mode == "none"

    def verdict(self, event_id: str, event_time: str) -> Verdict:
        """Whether an event is new, or was handled by an earlier poll (seen, old), or is left out
        by the first poll's backfill setting."""
        if event_id in self.seen:
            return "seen"
        if self.window_start is not None and event_time < self.window_start:
            return "old"
        if self.skip_all or (self.floor is not None and event_time < self.floor):
            return "not_backfilled"
        return "new"

    def is_late(self, event_time: str) -> bool:
        """A new event no later than the watermark arrived after newer ones were handled."""
        return self.watermark is not None and event_time <= self.watermark

    def is_future(self, event_time: str) -> bool:
        return event_time > self.horizon

    def advanced(
        self, handled: dict[str, str], printed: list[tuple[str, str]], malformed: dict[str, str]
    ) -> Checkpoint:
        """The checkpoint after the poll: every event printed (id, time) or deliberately skipped
        (`handled`: id -> time) is remembered; `malformed` replaces the malformed items reported."""
        base = self.checkpoint or Checkpoint(org=self.org, floor=self.floor)
        seen = {**base.seen, **handled, **dict(printed)}
        # A future event is remembered by its id (in `seen`) until the clock passes it, but never
        # moves the watermark past the horizon: that would turn every later event into an old one.
        times = [t for t in (base.watermark, *handled.values(), *(t for _, t in printed)) if t and t <= self.horizon]
        updated = base.model_copy(
            update={"watermark": max(times) if times else None, "seen": seen, "reported_malformed": malformed}
        )
        return updated.pruned(self.lookback)


def watermark_to_set(when: datetime, now: datetime, *, force: bool) -> str:
    """The watermark `state set-watermark` sets for `when`, or UsageError: a future time is
    refused without `force` (no event older than it would be emitted until then)."""
    moment = format_time(when)
    if when > now and not force:
        raise UsageError(
            f"{moment} is in the future (this machine's clock says {format_time(now)}): no event older "
            "than it would be emitted until then. Pass --force to do it anyway"
        )
    if not 1 <= when.year <= 9998:
        raise UsageError(f"{moment} is out of range")
    return moment


def with_watermark(checkpoint: Checkpoint, moment: str) -> Checkpoint:
    """The checkpoint re-emitting (or skipping) from `moment` on: it becomes the watermark and the
    floor, and only the ids of events older than it stay remembered."""
    return checkpoint.model_copy(
        update={
            "watermark": moment,
            "floor": moment,
            "seen": {event_id: t for event_id, t in checkpoint.seen.items() if t < moment},
        }
    )
