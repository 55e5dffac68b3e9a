"""The poller's health as a Prometheus text file, for Fluent Bit's `prometheus_textfile` input.

Written atomically after every poll, so a scrape never reads half a file. With the last-success
timestamp, "no successful poll for 15 minutes" is one alert expression:
`time() - hf_audit_last_success_timestamp_seconds > 900`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from .atomic import atomic_write
from .health import Health
from .timefmt import parse_time


def _timestamp(text: str | None) -> float:
    return parse_time(text).timestamp() if text else 0.0


def _last(figure: str, unknown: float = 0.0) -> Callable[[Health], float]:
    """The getter of one figure of the last poll; `unknown` before any poll, or when it is None."""

    def get(health: Health) -> float:
        value = getattr(health.last_poll, figure, None)
        return unknown if value is None else float(value)

    return get


class Metric(NamedTuple):
    name: str
    kind: str  # gauge or counter
    help: str
    value: Callable[[Health], float]


# One table for the file and its documentation: each metric with its getter.
METRICS: tuple[Metric, ...] = (
    Metric("hf_audit_up", "gauge", "1 when the last poll succeeded, else 0",
           lambda h: 1.0 if h.last_poll is not None and h.last_poll.exit_code == 0 else 0.0),
    Metric("hf_audit_last_poll_timestamp_seconds", "gauge", "when the last poll finished (Unix time)",
           lambda h: _timestamp(h.last_poll.finished_at if h.last_poll else None)),
    Metric("hf_audit_last_success_timestamp_seconds", "gauge", "when the last successful poll finished (Unix time), 0 if none",
           lambda h: _timestamp(h.last_success)),
    Metric("hf_audit_consecutive_failures", "gauge", "failed polls since the last success", lambda h: h.consecutive_failures),
    Metric("hf_audit_last_exit_code", "gauge", "exit code of the last poll", _last("exit_code")),
    Metric("hf_audit_last_poll_duration_seconds", "gauge", "wall time of the last poll", _last("duration_seconds")),
    Metric("hf_audit_last_poll_events_exported", "gauge", "events in the export at the last poll", _last("exported")),
    Metric("hf_audit_last_poll_events_new", "gauge", "events not emitted before, at the last poll", _last("new")),
    Metric("hf_audit_last_poll_events_late", "gauge", "late arrivals among the new events of the last poll", _last("late")),
    Metric("hf_audit_last_poll_events_future", "gauge", "new events dated after the clock plus HF_AUDIT_CLOCK_SKEW at the last poll",
           _last("future")),
    Metric("hf_audit_last_poll_events_unconfirmed", "gauge",
           "events printed at the last poll but sent again next poll (the reader went away or was stopping)", _last("unconfirmed")),
    Metric("hf_audit_last_poll_events_malformed", "gauge", "malformed export items skipped at the last poll", _last("malformed")),
    Metric("hf_audit_last_poll_bytes", "gauge", "bytes of export downloaded at the last poll", _last("bytes")),
    Metric("hf_audit_last_poll_retries", "gauge", "HTTP retries during the last poll", _last("retries")),
    Metric("hf_audit_rate_limit_remaining", "gauge", "requests left in the Hub's rate-limit window (-1 unknown)",
           _last("rate_limit_remaining", unknown=-1)),
    Metric("hf_audit_lag_seconds", "gauge", "age of the newest event in the export at the last poll (-1 unknown)",
           _last("lag_seconds", unknown=-1)),
    Metric("hf_audit_polls_total", "counter", "polls run", lambda h: h.polls),
    Metric("hf_audit_poll_failures_total", "counter", "polls that failed", lambda h: h.failures_total),
    Metric("hf_audit_events_emitted_total", "counter", "events printed for Fluent Bit", lambda h: h.emitted_total),
    Metric("hf_audit_lost_upstream_total", "counter", "polls that found events had left the Hub's export unseen",
           lambda h: h.lost_upstream_total),
)  # fmt: skip


def metric_values(health: Health) -> dict[str, float]:
    return {metric.name: metric.value(health) for metric in METRICS}


def render(health: Health) -> str:
    values = metric_values(health)
    org = health.org.replace("\\", "\\\\").replace('"', '\\"')
    lines: list[str] = []
    for name, kind, help_text, _ in METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f'{name}{{org="{org}"}} {float(values[name])!r}']
    return "\n".join(lines) + "\n"


def write_metrics(path: Path, health: Health) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, render(health).encode(), mode=0o644)


METRIC_NAMES = tuple(metric.name for metric in METRICS)
