"""One poll: download the export, keep what was not emitted before, print it in time order, commit.

Nothing is printed until the export has been read and parsed (to its end, or on a newest-first
export down to the lookback window), so a download that fails midway prints nothing and the next
poll starts from the same checkpoint. New events are spooled to a temp
file while the body streams in, then printed oldest first; the checkpoint is committed after the
lines are flushed and the reader has taken them out of the pipe. On a stop signal (SIGTERM, SIGINT,
SIGHUP) or when the reader goes away, printing stops between whole lines and only what the reader
can have stored is committed (see output.py): the rest is printed again by the next poll.

Times: an event dated before 2000 or more than a century after this machine's clock cannot be
real and is skipped as malformed. One dated after the clock plus HF_AUDIT_CLOCK_SKEW is printed
(once: its id is remembered) and counted as `future`, but never moves the watermark there: the
watermark never passes the clock plus the skew, or one bogus date would hide every later event.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import signal
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from .checkpoint_rules import PollRules, watermark_within_clock
from .checkpoint_rules import horizon as clock_horizon
from .client import ExportClient, FetchStats
from .enrich import IpEnricher
from .errors import Interrupted, StateError
from .events import ExportEvent, MalformedEvent, parse_event
from .fastline import FastLines, is_built
from .line import compact_json, to_line
from .normalize import RecordContext, normalize
from .output import LineWriter, Stopped
from .settings import Settings
from .state import Checkpoint
from .timefmt import format_time, parse_time, sane_time_window

SPOOL_READ_BYTES = 1 << 20  # read back from the spool in blocks this large when lines come in file order
# A steady-state poll of a newest-first export stops reading at the first event behind the
# lookback window, once this many events in a row have come newest first: the order is checked,
# never assumed, and a short run could be chance in an unordered export.
MIN_DESCENDING_RUN = 16

def _unchanged(record: dict[str, Any]) -> dict[str, Any]:
    return record


class StopSignal:
    """Handler of SIGTERM, SIGINT and SIGHUP alike. Before printing starts, stop at once (nothing
    to undo); while printing or committing, stop between whole lines and commit what the reader
    can have stored."""

    def __init__(self) -> None:
        self.requested = False
        self.printing = False
        self.name = ""  # the signal's name, once one arrived

    def __call__(self, signum: int, frame: object) -> None:
        self.requested = True
        self.name = self.name or signal.Signals(signum).name
        if not self.printing:
            raise Interrupted(f"stopped by {self.name} before any event was printed; the checkpoint is unchanged")


@dataclass
class PollReport:
    exported: int = 0
    new: int = 0
    already_seen: int = 0
    late: int = 0
    future: int = 0  # new events dated after the clock plus the skew: printed, the watermark stays
    malformed: int = 0
    not_backfilled: int = 0
    duplicates_in_export: int = 0
    emitted: int = 0
    unconfirmed: int = 0  # printed, but not committed: the reader may not have stored them
    output_error: str | None = None  # the reader went away or got stuck
    oldest: str | None = None
    newest: str | None = None
    gap: tuple[str, str] | None = None
    interrupted: bool = False
    stopped_early: bool = False  # newest-first export read only down to the lookback window
    lag_seconds: float | None = None
    fetch: FetchStats = field(default_factory=FetchStats)


class Spool:
    """New events' lines in a temp file, indexed by (eventTime, id), so they can be printed in
    time order whatever the export's order without holding 100,000 lines in memory. It lives in
    the state directory (on disk, unlike a tmpfs /tmp) and is gone when closed."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        try:
            # A large buffer: lines of 2-4 KB would otherwise each cost a write system call.
            self._file: IO[bytes] = tempfile.TemporaryFile(prefix=".spool-", dir=directory, buffering=1 << 20)
        except OSError as exc:
            raise self._error(exc) from None
        self._index: list[tuple[str, str, int, int]] = []
        self._size = 0

    def _error(self, exc: OSError) -> StateError:
        return StateError(f"cannot spool new events to a temp file in {self._directory}: {exc.strerror or exc}")

    def add(self, event_time: str, event_id: str, line: bytes) -> None:
        try:
            self._file.write(line)
        except OSError as exc:
            raise self._error(exc) from None
        self._index.append((event_time, event_id, self._size, len(line)))
        self._size += len(line)

    def __len__(self) -> int:
        return len(self._index)

    def in_time_order(self) -> Iterator[tuple[str, str, memoryview]]:
        index = self._index
        index.sort()
        if not index:
            return
        offsets = [offset for _, _, offset, _ in index]
        # An export in time order or newest first leaves the lines in file order or its reverse:
        # read those in blocks, others line by line. Not mmap, which would count the whole spool
        # in the process's resident memory.
        forward = offsets == sorted(offsets)
        backward = not forward and offsets == sorted(offsets, reverse=True)
        try:
            self._file.flush()
            fd = self._file.fileno()
            block, block_start = memoryview(b""), 0
            for event_time, event_id, offset, length in index:
                at = offset - block_start
                if at < 0 or at + length > len(block):
                    size = max(SPOOL_READ_BYTES, length) if forward or backward else length
                    block_start = offset if not backward else max(0, offset + length - size)
                    block = memoryview(os.pread(fd, size, block_start))
                    at = offset - block_start
                line = block[at : at + length]  # a view: the line is copied once, into the batch
                if len(line) != length:
                    raise OSError(errno.EIO, "the spool file is shorter than what was written to it")
                yield event_time, event_id, line
        except OSError as exc:
            raise self._error(exc) from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()


@dataclass
class Attempt:
    """What one download attempt built: dropped whole when its body broke off midway."""

    report: PollReport
    spool: Spool
    handled: dict[str, str] = field(default_factory=dict)  # skipped on purpose (not backfilled): id -> time
    malformed: dict[str, str] = field(default_factory=dict)  # malformed items in the export -> first reported
    ids: set[str] = field(default_factory=set)  # every id met, to count the export's duplicates
    descending: bool = True  # newest first so far


class ExportReader:
    """Reads an attempt's raw items: checks each, counts it, and spools the new ones' lines."""

    def __init__(
        self,
        settings: Settings,
        rules: PollRules,
        reported: dict[str, str],
        now: datetime,
        log: logging.Logger,
        enricher: IpEnricher | None,
    ) -> None:
        self.rules = rules
        self.reported = reported  # malformed items reported by earlier polls -> when first reported
        self.now_text = format_time(now)
        self.log = log
        self.ctx = RecordContext(
            org=settings.org,
            workspace_id=settings.workspace_id,
            source_id=settings.effective_source_id,
            source_ttl_days=settings.source_ttl_days,
            received_at=now,
        )
        self.max_line_bytes = settings.max_line_bytes
        # Without databases the record goes straight to its line: the hot path pays nothing.
        self.enrich = enricher.apply if enricher is not None else _unchanged
        self.compiled = settings.compiled
        use_fast_lines = settings.compiled and is_built()
        self.fast_lines = FastLines(self.ctx, self.max_line_bytes, enricher) if use_fast_lines else None
        self.earliest, self.latest = sane_time_window(now)

    def read(self, items: Iterable[object], attempt: Attempt) -> None:
        for item in items:
            attempt.report.exported += 1
            if not self._take(item, attempt):
                return

    def _take(self, item: object, attempt: Attempt) -> bool:
        """Count and spool one item; False when the rest of the export is behind the window."""
        event = self._checked(item, attempt)
        if event is None:
            return True
        report = attempt.report
        event_id, event_time = event["_id"], event["createdAt"]
        verdict = self.rules.verdict(event_id, event_time)
        if verdict == "new":
            report.new += 1
            report.late += self.rules.is_late(event_time)
            report.future += self.rules.is_future(event_time)
            # The compiled writer takes the item only as the Hub sent it (parse_event returned it
            # unchanged), and declines (None) what only the Python path writes exactly.
            line = self.fast_lines.line(item) if self.fast_lines is not None and event is item else None  # type: ignore[arg-type]  # an item parse_event took is a dict
            if line is None:
                record = self.enrich(normalize(event, item, self.ctx))  # type: ignore[arg-type]  # an item parse_event took is a dict
                line = to_line(record, self.max_line_bytes)
            attempt.spool.add(event_time, event_id, line)
        elif verdict == "old" and attempt.descending and report.exported > MIN_DESCENDING_RUN:
            # Newest first all along, and this one is behind the window: so is the rest.
            report.stopped_early = True
            report.already_seen += 1
            attempt.malformed.update((k, v) for k, v in self.reported.items() if k not in attempt.malformed)
            return False
        elif verdict == "not_backfilled":
            report.not_backfilled += 1
            attempt.handled[event_id] = event_time
        else:
            report.already_seen += 1
        return True

    def _checked(self, item: object, attempt: Attempt) -> ExportEvent | None:
        """The item as an event, its time noted in the report; None when it is malformed or a
        repeat within this export (counted as such)."""
        report = attempt.report
        try:
            event = parse_event(item, compiled=self.compiled)
        except MalformedEvent as exc:
            self._skip_malformed(item, exc, attempt)
            return None
        event_id, event_time = event["_id"], event["createdAt"]
        if not self.earliest <= event_time <= self.latest:
            # Text in the canonical form sorts in time order: no datetime needed.
            reason = f"createdAt {event_time} is outside the plausible range {self.earliest} to {self.latest}"
            self._skip_malformed(item, MalformedEvent(reason, event_id), attempt)
            return None
        if event_id in attempt.ids:
            report.duplicates_in_export += 1
            return None
        attempt.ids.add(event_id)
        if report.oldest is None or event_time <= report.oldest:
            report.oldest = event_time
        else:
            attempt.descending = False
        if report.newest is None or event_time > report.newest:
            report.newest = event_time
        return event

    def _skip_malformed(self, item: object, exc: MalformedEvent, attempt: Attempt) -> None:
        """Count a malformed item, remember it, and log it the first time any poll meets it."""
        attempt.report.malformed += 1
        text = exc.text or compact_json(item)
        key = exc.event_id or "sha1:" + hashlib.sha1(text.encode()).hexdigest()[:20]
        attempt.malformed[key] = self.reported.get(key, self.now_text)
        if key not in self.reported:
            self.log.warning(
                "skipped malformed event %s: %s; event: %s", exc.event_id or "(no _id)", exc.reason, text[:500]
            )


class Poll:
    """One poll's work, given the checkpoint; the caller holds the lock and saves what it returns."""

    def __init__(
        self, settings: Settings, out_fd: int, log: logging.Logger, stop: StopSignal, enricher: IpEnricher | None = None
    ) -> None:
        self.settings = settings
        self.enricher = enricher
        self.out_fd = out_fd
        self.log = log
        self.stop = stop
        self.last_report: PollReport | None = None  # kept when a download fails midway, for the summary

    def run(self, checkpoint: Checkpoint | None, now: datetime) -> tuple[PollReport, Checkpoint]:
        checkpoint = self._watermark_within_clock(checkpoint, now)
        rules = PollRules(checkpoint, self.settings, now)
        attempt = self._download(rules, checkpoint, now)
        try:
            self._warn_about_gap(checkpoint, attempt.report)
            self._warn_about_clock(attempt.report, now)
            printed = self._print(attempt.spool, attempt.report)
        finally:
            attempt.spool.close()
        return attempt.report, rules.advanced(attempt.handled, printed, attempt.malformed)

    def _download(self, rules: PollRules, checkpoint: Checkpoint | None, now: datetime) -> Attempt:
        """Read the export into a spool; a body that broke off midway is read again from scratch."""
        settings = self.settings
        reader = ExportReader(settings, rules, checkpoint.reported_malformed if checkpoint else {}, now, self.log, self.enricher)
        client = ExportClient(settings, time.monotonic() + settings.deadline.total_seconds(), self.log)
        attempt: Attempt | None = None
        try:
            with contextlib.closing(client.attempts()) as bodies:
                for body in bodies:
                    if attempt is not None:  # an earlier attempt broke off: what it built is dropped
                        attempt.spool.close()
                    report = PollReport(fetch=client.stats)
                    self.last_report = report
                    attempt = Attempt(report, Spool(settings.state_dir))
                    reader.read(body, attempt)
        except BaseException:
            if attempt is not None:
                attempt.spool.close()
            raise
        assert attempt is not None, "the client yields a body or raises"
        return attempt

    def _warn_about_gap(self, checkpoint: Checkpoint | None, report: PollReport) -> None:
        """The newest event handled last time is always in the next export unless it scrolled out
        of the Hub's 100,000-event window: then whatever came between scrolled out unseen too."""
        if checkpoint is None or checkpoint.watermark is None or report.oldest is None:
            return
        if report.oldest > checkpoint.watermark:
            report.gap = (checkpoint.watermark, report.oldest)
            self.log.error(
                "events were lost upstream: the export (%d events) no longer reaches back to the last "
                "event handled; events between %s and %s could not be fetched. The Hub keeps only the "
                "newest 100,000 events: poll more often (lower Interval_Sec).",
                report.exported, checkpoint.watermark, report.oldest,
            )

    def _print(self, spool: Spool, report: PollReport) -> list[tuple[str, str]]:
        """Print the spooled lines oldest first and wait until the reader has taken them; return
        the (id, time) of each line the reader has taken in. A stop signal or a reader that goes
        away stops printing between whole lines; the last lines then count as not taken in."""
        writer = LineWriter(self.out_fd, self.settings.max_line_bytes, lambda: self.stop.requested)
        order: list[tuple[str, str]] = []
        self.stop.printing = True
        reader_at_risk = False
        try:
            for event_time, event_id, line in spool.in_time_order():
                if self.stop.requested:
                    break
                writer.write(line)
                order.append((event_id, event_time))
            writer.flush()
            writer.wait_until_read()
        except Stopped:
            pass
        except (BrokenPipeError, TimeoutError) as exc:
            reader_at_risk = True
            report.output_error = f"stdout's reader {'went away' if isinstance(exc, BrokenPipeError) else 'got stuck'} ({exc})"
        reader_at_risk = reader_at_risk or self.stop.requested
        delivered = writer.delivered(reader_at_risk=reader_at_risk)
        report.emitted = writer.written
        report.unconfirmed = writer.written - delivered
        report.interrupted = self.stop.requested
        if reader_at_risk:
            what = report.output_error or f"stopped by {self.stop.name or 'a signal'}"
            message = (
                f"{what} after {writer.written} of {len(spool)} new events were printed; {delivered} are "
                f"committed, the other {len(spool) - delivered} will be printed by the next poll"
            )
            if report.unconfirmed:
                message += f" ({report.unconfirmed} of them again: the reader may not have stored them; sinks fold them by id)"
            if report.output_error:
                report.output_error = message
            else:
                self.log.warning("%s", message)
        return order[:delivered]

    def _watermark_within_clock(self, checkpoint: Checkpoint | None, now: datetime) -> Checkpoint | None:
        limit = clock_horizon(now, self.settings.clock_skew)
        within = watermark_within_clock(checkpoint, limit)
        if checkpoint is not None and within is not checkpoint:
            self.log.warning(
                "the checkpoint's watermark %s is later than this machine's clock plus %s; taken as %s",
                checkpoint.watermark, _duration_text(self.settings.clock_skew), limit,
            )
        return within

    def _warn_about_clock(self, report: PollReport, now: datetime) -> None:
        """Event times are the Hub's; the backfill window and lag use this machine's clock."""
        if report.future:
            self.log.warning(
                "%d new events are dated after this machine's clock plus %s (the newest %s): each is printed "
                "once, but the watermark stays at the clock. A Hub clock ahead of this one, or bogus dates",
                report.future, _duration_text(self.settings.clock_skew), report.newest,
            )
        if report.newest is None:
            return
        report.lag_seconds = (now - parse_time(report.newest)).total_seconds()
        if report.lag_seconds < -300:
            self.log.warning(
                "the newest event (%s) is %.0f s in the future by this machine's clock: is the clock "
                "behind? Lag figures and the backfill window will be off",
                report.newest, -report.lag_seconds,
            )


def _duration_text(value: timedelta) -> str:
    return f"{value.total_seconds():g} s"
