"""The poller's health as a Prometheus text file, for Fluent Bit's `prometheus_textfile` input.

Written atomically after every poll, so a scrape never reads half a file. With the last-success
timestamp, "no successful poll for 15 minutes" is one alert expression:
`time() - hf_audit_last_success_timestamp_seconds > 900`.
"""

from __future__ import annotations

from pathlib import Path

from .atomic import atomic_write
from .timefmt import parse_time
from .health import Health

# name, type, help: one table for the file and its documentation; metric_values gives each its value.
_METRICS: tuple[tuple[str, str, str], ...] = (
    ("hf_audit_up", "gauge", "1 when the last poll succeeded, else 0"),
    ("hf_audit_last_poll_timestamp_seconds", "gauge", "when the last poll finished (Unix time)"),
    ("hf_audit_last_success_timestamp_seconds", "gauge", "when the last successful poll finished (Unix time), 0 if none"),
    ("hf_audit_consecutive_failures", "gauge", "failed polls since the last success"),
    ("hf_audit_last_exit_code", "gauge", "exit code of the last poll"),
    ("hf_audit_last_poll_duration_seconds", "gauge", "wall time of the last poll"),
    ("hf_audit_last_poll_events_exported", "gauge", "events in the export at the last poll"),
    ("hf_audit_last_poll_events_new", "gauge", "events not emitted before, at the last poll"),
    ("hf_audit_last_poll_events_late", "gauge", "late arrivals among the new events of the last poll"),
    ("hf_audit_last_poll_events_future", "gauge", "new events dated after the clock plus HF_AUDIT_CLOCK_SKEW at the last poll"),
    ("hf_audit_last_poll_events_unconfirmed", "gauge", "events printed at the last poll but sent again next poll (the reader went away or was stopping)"),
    ("hf_audit_last_poll_events_malformed", "gauge", "malformed export items skipped at the last poll"),
    ("hf_audit_last_poll_bytes", "gauge", "bytes of export downloaded at the last poll"),
    ("hf_audit_last_poll_retries", "gauge", "HTTP retries during the last poll"),
    ("hf_audit_rate_limit_remaining", "gauge", "requests left in the Hub's rate-limit window (-1 unknown)"),
    ("hf_audit_lag_seconds", "gauge", "age of the newest event in the export at the last poll (-1 unknown)"),
    ("hf_audit_polls_total", "counter", "polls run"),
    ("hf_audit_poll_failures_total", "counter", "polls that failed"),
    ("hf_audit_events_emitted_total", "counter", "events printed for Fluent Bit"),
    ("hf_audit_lost_upstream_total", "counter", "polls that found events had left the Hub's export unseen"),
)


def _timestamp(text: str | None) -> float:
    return parse_time(text).timestamp() if text else 0.0


def metric_values(health: Health) -> dict[str, float]:
    last = health.last_poll
    return {
        "hf_audit_up": 1.0 if last is not None and last.exit_code == 0 else 0.0,
        "hf_audit_last_poll_timestamp_seconds": _timestamp(last.finished_at if last else None),
        "hf_audit_last_success_timestamp_seconds": _timestamp(health.last_success),
        "hf_audit_consecutive_failures": health.consecutive_failures,
        "hf_audit_last_exit_code": last.exit_code if last else 0,
        "hf_audit_last_poll_duration_seconds": last.duration_seconds if last else 0.0,
        "hf_audit_last_poll_events_exported": last.exported if last else 0,
        "hf_audit_last_poll_events_new": last.new if last else 0,
        "hf_audit_last_poll_events_late": last.late if last else 0,
        "hf_audit_last_poll_events_future": last.future if last else 0,
        "hf_audit_last_poll_events_unconfirmed": last.unconfirmed if last else 0,
        "hf_audit_last_poll_events_malformed": last.malformed if last else 0,
        "hf_audit_last_poll_bytes": last.bytes if last else 0,
        "hf_audit_last_poll_retries": last.retries if last else 0,
        "hf_audit_rate_limit_remaining": -1 if last is None or last.rate_limit_remaining is None else last.rate_limit_remaining,
        "hf_audit_lag_seconds": -1 if last is None or last.lag_seconds is None else last.lag_seconds,
        "hf_audit_polls_total": health.polls,
        "hf_audit_poll_failures_total": health.failures_total,
        "hf_audit_events_emitted_total": health.emitted_total,
        "hf_audit_lost_upstream_total": health.lost_upstream_total,
    }


def render(health: Health) -> str:
    values = metric_values(health)
    org = health.org.replace("\\", "\\\\").replace('"', '\\"')
    lines: list[str] = []
    for name, kind, help_text in _METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f'{name}{{org="{org}"}} {float(values[name])!r}']
    return "\n".join(lines) + "\n"


def write_metrics(path: Path, health: Health) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, render(health).encode(), mode=0o644)


METRIC_NAMES = tuple(name for name, _, _ in _METRICS)
