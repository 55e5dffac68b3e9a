"""Runs one poll with its bookkeeping: the lock, the checkpoint, health, metrics and the summary line.

The summary line is the operator's view of every poll (Fluent Bit shows nothing of the command's
exit code), so it is written whatever happens, with the outcome and the figures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .enrich import IpEnricher
from .errors import ExitCode, HfAuditError, LockedError
from .health import HealthStore, LastPoll
from .hubtext import encodable
from .metrics import write_metrics
from .poll import Poll, PollReport, StopSignal
from .settings import Settings
from .state import StateStore
from .timefmt import format_time

_OUTCOMES = {
    ExitCode.OK: "ok",
    ExitCode.AUTH: "auth_error",
    ExitCode.NOT_FOUND: "not_found",
    ExitCode.NETWORK: "network_error",
    ExitCode.DATA: "data_error",
    ExitCode.STATE: "state_error",
    ExitCode.LOCKED: "locked",
    ExitCode.OUTPUT: "output_error",
    ExitCode.INTERRUPTED: "interrupted",
    ExitCode.INTERNAL: "internal_error",
}


@dataclass
class PollOutcome:
    exit_code: ExitCode
    report: PollReport
    error: str | None = None


def run_poll(
    settings: Settings,
    out_fd: int,
    log: logging.Logger,
    stop: StopSignal,
    *,
    dry_run: bool = False,
    redact: Callable[[str], str] = lambda text: text,
    enricher: IpEnricher | None = None,
) -> ExitCode:
    """One poll and its bookkeeping; `redact` masks secrets in what is kept on disk (the last
    error text may quote the Hub, and the Hub may quote the token)."""
    started = time.monotonic()
    now = datetime.now(UTC)
    store = StateStore(settings.state_dir, settings.org, settings.lock_timeout)
    outcome = PollOutcome(ExitCode.OK, PollReport())
    try:
        with store.lock():
            outcome = _poll_locked(settings, store, out_fd, log, stop, now, dry_run, enricher)
            if not dry_run:
                _record_health(settings, outcome, _last_poll(outcome, time.monotonic() - started), log, redact)
    except LockedError as exc:
        # Not this poll's failure to count: the other poller is doing the work.
        outcome = PollOutcome(exc.exit_code, PollReport(), exc.message)
    except HfAuditError as exc:
        outcome = PollOutcome(exc.exit_code, PollReport(), exc.message)
    if outcome.error:
        log.error("%s", outcome.error)
    _log_summary(log, outcome, _last_poll(outcome, time.monotonic() - started), dry_run)
    return outcome.exit_code


def _poll_locked(
    settings: Settings,
    store: StateStore,
    out_fd: int,
    log: logging.Logger,
    stop: StopSignal,
    now: datetime,
    dry_run: bool,
    enricher: IpEnricher | None = None,
) -> PollOutcome:
    poll = Poll(settings, out_fd, log, stop, enricher)
    report = PollReport()
    try:
        checkpoint = store.load()
        report, updated = poll.run(checkpoint, now)
        if not dry_run:
            store.save(updated)
    except HfAuditError as exc:
        return PollOutcome(exc.exit_code, poll.last_report or report, exc.message)
    except Exception as exc:  # a bug: still a failed poll with its summary, health and metrics
        log.debug("traceback", exc_info=True)
        message = f"internal error ({type(exc).__name__}): {exc}; rerun with HF_AUDIT_LOG_LEVEL=debug for details"
        return PollOutcome(ExitCode.INTERNAL, poll.last_report or report, message)
    if report.interrupted:
        return PollOutcome(ExitCode.INTERRUPTED, report, report.output_error)
    if report.output_error:
        return PollOutcome(ExitCode.OUTPUT, report, report.output_error)
    return PollOutcome(ExitCode.OK, report)


def _last_poll(outcome: PollOutcome, duration: float) -> LastPoll:
    """The poll's figures, as the summary line prints them and the health file keeps them."""
    report = outcome.report
    fetch = report.fetch
    return LastPoll(
        finished_at=format_time(datetime.now(UTC)),
        outcome=_OUTCOMES.get(outcome.exit_code, "error"),
        exit_code=int(outcome.exit_code),
        duration_seconds=round(duration, 3),
        exported=report.exported,
        new=report.new,
        emitted=report.emitted,
        unconfirmed=report.unconfirmed,
        already_seen=report.already_seen,
        late=report.late,
        future=report.future,
        malformed=report.malformed,
        bytes=fetch.bytes_read,
        retries=fetch.retries,
        rate_limit_remaining=fetch.rate_limit_remaining,
        lag_seconds=None if report.lag_seconds is None else round(report.lag_seconds, 3),
        not_backfilled=report.not_backfilled,
        lost_upstream=report.gap is not None,
        stopped_early=report.stopped_early,
    )


def _record_health(
    settings: Settings, outcome: PollOutcome, figures: LastPoll, log: logging.Logger, redact: Callable[[str], str]
) -> None:
    """Health and metrics are observability: failing to write them is reported, never fatal."""
    health_store = HealthStore(settings.state_dir, settings.org)
    failed = outcome.exit_code not in (ExitCode.OK, ExitCode.INTERRUPTED)
    # The error may quote the Hub: encodable, so that the health file can always be written.
    error = encodable(redact(outcome.error or "unknown error")) if failed else None
    health = health_store.load().record(figures, error=error, gap=figures.lost_upstream)
    try:
        health_store.save(health)
        write_metrics(settings.metrics_path, health)
    except (OSError, ValueError) as exc:
        log.warning("could not write the health or metrics file: %s", getattr(exc, "strerror", None) or exc)


def _log_summary(log: logging.Logger, outcome: PollOutcome, figures: LastPoll, dry_run: bool) -> None:
    fields = {"event": "poll_summary", **figures.summary_fields(), "dry_run": dry_run}
    level = logging.INFO if outcome.exit_code in (ExitCode.OK, ExitCode.INTERRUPTED) else logging.ERROR
    log.log(level, "poll finished", extra={"fields": fields})
