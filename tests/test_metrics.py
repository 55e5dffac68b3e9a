"""The metrics file's rendering, in process: each metric's value for known health figures, the
file's exact text, and the values that stand for "unknown" or "no poll yet"."""

from __future__ import annotations

from hf_audit.health import Health, LastPoll
from hf_audit.metrics import METRIC_NAMES, metric_values, render, write_metrics

FINISHED = "2026-11-25T12:00:00.000Z"
FINISHED_UNIX = 1795608000.0  # date -u -d 2026-11-25T12:00:00Z +%s
SUCCESS = "2026-11-25T11:55:00.000Z"
SUCCESS_UNIX = 1795607700.0


def last_poll(**figures: object) -> LastPoll:
    values: dict[str, object] = {"finished_at": FINISHED, "outcome": "ok", "exit_code": 0, "duration_seconds": 2.5}
    values.update(figures)
    return LastPoll(**values)  # type: ignore[arg-type]  # the test's figures, validated by the model


HEALTHY = Health(
    org="acme", polls=7, failures_total=2, consecutive_failures=0, emitted_total=1234, lost_upstream_total=1,
    last_success=SUCCESS,
    last_poll=last_poll(exported=100, new=10, emitted=9, unconfirmed=1, already_seen=90, late=3, future=2,
                        malformed=4, bytes=56789, retries=5, rate_limit_remaining=480, lag_seconds=12.5),
)  # fmt: skip


def test_each_metric_takes_its_value_from_the_health_figures():
    assert metric_values(HEALTHY) == {
        "hf_audit_up": 1.0,
        "hf_audit_last_poll_timestamp_seconds": FINISHED_UNIX,
        "hf_audit_last_success_timestamp_seconds": SUCCESS_UNIX,
        "hf_audit_consecutive_failures": 0,
        "hf_audit_last_exit_code": 0,
        "hf_audit_last_poll_duration_seconds": 2.5,
        "hf_audit_last_poll_events_exported": 100,
        "hf_audit_last_poll_events_new": 10,
        "hf_audit_last_poll_events_late": 3,
        "hf_audit_last_poll_events_future": 2,
        "hf_audit_last_poll_events_unconfirmed": 1,
        "hf_audit_last_poll_events_malformed": 4,
        "hf_audit_last_poll_bytes": 56789,
        "hf_audit_last_poll_retries": 5,
        "hf_audit_rate_limit_remaining": 480,
        "hf_audit_lag_seconds": 12.5,
        "hf_audit_polls_total": 7,
        "hf_audit_poll_failures_total": 2,
        "hf_audit_events_emitted_total": 1234,
        "hf_audit_lost_upstream_total": 1,
    }


def test_before_any_poll_every_figure_is_zero_and_the_unknowns_are_minus_one():
    values = metric_values(Health(org="acme"))
    unknown = {"hf_audit_rate_limit_remaining", "hf_audit_lag_seconds"}
    assert {name: value for name, value in values.items() if name not in unknown} == dict.fromkeys(set(values) - unknown, 0)
    assert (values["hf_audit_rate_limit_remaining"], values["hf_audit_lag_seconds"]) == (-1, -1)


def test_a_failed_last_poll_is_down_with_its_exit_code_and_unknown_figures():
    failed = HEALTHY.record(last_poll(outcome="network_error", exit_code=5), error="down", gap=False)
    values = metric_values(failed)
    assert (values["hf_audit_up"], values["hf_audit_last_exit_code"], values["hf_audit_consecutive_failures"]) == (0.0, 5, 1)
    assert (values["hf_audit_rate_limit_remaining"], values["hf_audit_lag_seconds"]) == (-1, -1)
    assert values["hf_audit_last_success_timestamp_seconds"] == SUCCESS_UNIX


def test_a_metric_is_rendered_as_help_type_and_one_sample_labelled_with_the_org():
    lines = render(HEALTHY).splitlines()
    at = lines.index("# HELP hf_audit_last_poll_events_new events not emitted before, at the last poll")
    assert lines[at + 1 : at + 3] == ["# TYPE hf_audit_last_poll_events_new gauge", 'hf_audit_last_poll_events_new{org="acme"} 10.0']
    assert 'hf_audit_polls_total{org="acme"} 7.0' in lines and "# TYPE hf_audit_polls_total counter" in lines
    assert 'hf_audit_rate_limit_remaining{org="acme"} 480.0' in lines


def test_the_file_lists_every_metric_once_in_the_declared_order_and_ends_with_a_newline():
    text = render(HEALTHY)
    samples = [line.split("{")[0] for line in text.splitlines() if not line.startswith("#")]
    assert samples == list(METRIC_NAMES) and len(METRIC_NAMES) == 20
    assert text.endswith('hf_audit_lost_upstream_total{org="acme"} 1.0\n')


def test_quotes_and_backslashes_in_the_org_are_escaped_in_the_label():
    text = render(Health(org='a"b\\c'))
    assert 'hf_audit_up{org="a\\"b\\\\c"} 0.0' in text.splitlines()


def test_the_metrics_file_is_written_with_its_folder(tmp_path):
    path = tmp_path / "metrics" / "acme.prom"
    write_metrics(path, HEALTHY)
    assert path.read_text() == render(HEALTHY) and path.stat().st_mode & 0o777 == 0o644
