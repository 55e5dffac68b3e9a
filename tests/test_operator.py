"""The operator's tools: doctor, state commands, dry run, the summary line, metrics and tracing."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ORG, TOKEN, poller_env
from hf_audit.doctor import fluent_bit_size
from hf_audit.errors import ExitCode
from hf_audit.metrics import METRIC_NAMES
from hf_audit.simhub.server import Fault


def verdicts(run) -> dict[str, str]:
    """doctor's output as {item: 'PASS ...' or 'FAIL ...'}."""
    found = {}
    for line in run.stdout.decode().splitlines():
        if line[:4] in ("PASS", "FAIL"):
            item = line[6:22].strip()
            found[item] = line
    return found


# --- doctor -----------------------------------------------------------------------------------


def test_doctor_passes_every_item_against_a_healthy_hub(poll):
    run = poll("doctor")
    assert run.returncode == 0, run.stdout
    found = verdicts(run)
    assert set(found) == {"settings", "token", "endpoint", "tls", "permission", "export", "state directory", "checkpoint", "line bound", "hot path"}
    assert all(line.startswith("PASS") for line in found.values())
    assert "HF_TOKEN environment variable" in found["token"]


def test_doctor_says_where_the_token_came_from_never_what_it_is(poll, tmp_path):
    (tmp_path / "tok").write_text(TOKEN)
    run = poll("doctor", HF_TOKEN="", HF_TOKEN_PATH=str(tmp_path / "tok"))
    assert str(tmp_path / "tok") in verdicts(run)["token"]


def test_doctor_reports_a_missing_token(poll, tmp_path):
    run = poll("doctor", HF_TOKEN="", HF_HOME=str(tmp_path / "nothing"))
    assert run.returncode == ExitCode.AUTH
    assert verdicts(run)["token"].startswith("FAIL")


def test_doctor_reports_a_wrong_token_as_a_permission_failure(poll, hub):
    hub.token = "hf_another_token_entirely"
    run = poll("doctor")
    assert run.returncode == ExitCode.AUTH
    assert verdicts(run)["endpoint"].startswith("PASS")
    assert verdicts(run)["permission"].startswith("FAIL") and "Team or Enterprise" in verdicts(run)["permission"]


def test_check_is_the_doctors_old_name_and_gives_the_same_verdicts_and_exit_code(poll):
    doctor, check = poll("doctor"), poll("check")
    def outcome(run):
        return run.returncode, {item: line[:4] for item, line in verdicts(run).items()}

    assert outcome(check) == outcome(doctor) == (0, outcome(doctor)[1])


def test_check_still_reads_a_fluent_bit_config(poll, tmp_path):
    small = tmp_path / "fluent-bit.conf"
    small.write_text("[INPUT]\n    Name exec\n    Buf_Size 4k\n")
    run = poll(f"check --fluent-bit-config {small}")
    assert run.returncode == ExitCode.USAGE and verdicts(run)["line bound"].startswith("FAIL")


def test_the_help_names_doctor_and_says_check_is_its_old_name(poll):
    shown = poll("--help").stdout.decode()
    assert "doctor" in shown and "`check` is its old name" in shown


def test_doctor_reports_a_free_plan_as_a_permission_failure(poll, hub):
    hub.plan = "free"
    assert verdicts(poll("doctor"))["permission"].startswith("FAIL")


def test_doctor_reports_an_unknown_org(poll):
    run = poll("doctor", HF_ORG="ghost-org")
    assert run.returncode == ExitCode.NOT_FOUND and verdicts(run)["permission"].startswith("FAIL")


def test_doctor_reports_an_unreachable_endpoint(poll):
    run = poll("doctor", HF_ENDPOINT="http://127.0.0.1:9")
    assert run.returncode == ExitCode.NETWORK and verdicts(run)["endpoint"].startswith("FAIL")


def test_doctor_reports_invalid_settings(poll):
    run = poll("doctor", HF_ENDPOINT="http://example.com")
    assert run.returncode == ExitCode.USAGE and verdicts(run)["settings"].startswith("FAIL")


def test_doctor_reports_an_export_that_is_not_json(poll, hub):
    hub.queue_fault(Fault(kind="html_page"))
    assert verdicts(poll("doctor"))["export"].startswith("FAIL")


def test_doctor_reports_an_unwritable_state_directory(poll, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where a directory should be: unwritable even for root
    run = poll("doctor", HF_AUDIT_STATE_DIR=str(blocker / "state"))
    assert run.returncode == ExitCode.STATE and verdicts(run)["state directory"].startswith("FAIL")


def test_doctor_reports_a_corrupt_checkpoint(poll, state_dir):
    state_dir.mkdir(parents=True)
    (state_dir / f"{ORG}.json").write_text("[]")
    run = poll("doctor")
    assert run.returncode == ExitCode.STATE and verdicts(run)["checkpoint"].startswith("FAIL")


def test_doctor_compares_the_line_bound_with_a_fluent_bit_config(poll, tmp_path):
    small = tmp_path / "fluent-bit.conf"
    small.write_text("[INPUT]\n    Name exec\n    Buf_Size 4k\n")
    run = poll(f"doctor --fluent-bit-config {small}")
    assert run.returncode == ExitCode.USAGE
    assert verdicts(run)["line bound"].startswith("FAIL") and "4000" in verdicts(run)["line bound"]
    assert poll(f"doctor --fluent-bit-config {small}", HF_AUDIT_MAX_LINE_BYTES="3999").returncode != 0  # below the 4096 floor


def test_doctor_without_buf_size_compares_with_fluent_bits_default(poll, tmp_path):
    config = tmp_path / "fluent-bit.yaml"
    config.write_text("pipeline:\n  inputs:\n    - name: exec\n")
    assert "default" in verdicts(poll(f"check --fluent-bit-config {config}"))["line bound"]


@pytest.mark.parametrize(("text", "size"), [("65536", 65536), ("64k", 64000), ("64KB", 64000), ("1M", 1_000_000), ("4096", 4096)])
def test_fluent_bit_sizes_use_powers_of_1000(text, size):
    assert fluent_bit_size(text) == size


def test_the_shipped_buf_size_fits_the_default_line_bound(poll):
    assert verdicts(poll("doctor"))["line bound"].startswith("PASS")


# --- state commands ---------------------------------------------------------------------------


def test_state_show_prints_the_checkpoint_and_health(poll):
    poll()
    run = poll("state show")
    shown = json.loads(run.stdout)
    assert shown["org"] == ORG
    assert shown["checkpoint"]["watermark"] and shown["checkpoint"]["ids_in_window"] > 0
    assert shown["health"]["polls"] == 1 and shown["health"]["emitted_total"] == 300
    assert shown["health"]["last_success"] and shown["health"]["consecutive_failures"] == 0


def test_state_show_before_any_poll(poll):
    assert json.loads(poll("state show").stdout)["checkpoint"] is None


def test_state_reset_needs_confirmation(poll, state_dir):
    poll()
    run = poll("state reset")
    assert run.returncode == ExitCode.USAGE and "--yes" in run.stderr
    assert (state_dir / f"{ORG}.json").exists()


def test_state_reset_makes_the_next_poll_backfill_again(poll, export_events):
    poll()
    assert poll("state reset --yes").returncode == 0
    assert len(poll().event_ids) == len(export_events)


def test_set_watermark_re_emits_from_that_time(poll, export_events):
    poll()
    pivot = sorted(e["createdAt"] for e in export_events)[250]
    assert poll(f"state set-watermark {pivot} --yes").returncode == 0
    again = poll()
    assert again.event_ids == [e["_id"] for e in sorted(export_events, key=lambda e: e["createdAt"]) if e["createdAt"] >= pivot]


def test_set_watermark_rejects_a_non_time(poll):
    run = poll("state set-watermark yesterday --yes")
    assert run.returncode == ExitCode.USAGE and "RFC 3339" in run.stderr


def test_state_commands_wait_for_a_running_poll(poll, hub, state_dir, tmp_path):
    hub.queue_fault(Fault(kind="stall", seconds=3, where="headers"))
    env = poller_env(hub.url, state_dir, tmp_path)
    with open(tmp_path / "out", "wb") as out:  # a file, not a pipe nobody reads: the poll must not block
        running = subprocess.Popen(["/bin/sh", "-c", "hf-audit-poll"], env=env, stdout=out, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    refused = poll("state reset --yes", HF_AUDIT_LOCK_TIMEOUT="0")
    assert refused.returncode == ExitCode.LOCKED
    waited = poll("state show", HF_AUDIT_LOCK_TIMEOUT="30")
    running.communicate(timeout=60)
    assert running.returncode == 0
    assert json.loads(waited.stdout)["health"]["emitted_total"] == 300  # it saw the finished poll


# --- dry run, summary line, metrics, tracing --------------------------------------------------


def test_dry_run_prints_but_commits_nothing(poll, state_dir, export_events):
    run = poll("--dry-run")
    assert len(run.event_ids) == len(export_events)
    assert not (state_dir / f"{ORG}.json").exists() and not (state_dir / f"{ORG}.health").exists()
    assert len(poll().event_ids) == len(export_events)


def test_dry_run_after_a_poll_leaves_the_checkpoint_untouched(poll, hub, state_dir):
    poll()
    before = (state_dir / f"{ORG}.json").read_bytes()
    hub.generate_newer(3)
    assert len(poll("poll --dry-run").event_ids) == 3
    assert (state_dir / f"{ORG}.json").read_bytes() == before
    assert len(poll().event_ids) == 3


def summary_of(run) -> dict:
    line = next(line for line in run.stderr.splitlines() if '"event": "poll_summary"' in line or '"event":"poll_summary"' in line)
    return json.loads(line)


def test_summary_line_has_every_field_in_json(poll, hub):
    poll()
    hub.generate_newer(4)
    hub.generate_late(1, age=__import__("datetime").timedelta(hours=1))
    summary = summary_of(poll(HF_AUDIT_LOG_FORMAT="json"))
    assert summary["outcome"] == "ok" and summary["exit_code"] == 0
    assert (summary["new"], summary["emitted"], summary["late"]) == (5, 5, 1)
    for field in ("exported", "already_seen", "lag_seconds", "bytes", "duration_seconds", "retries", "rate_limit_remaining"):
        assert field in summary
    assert summary["bytes"] > 0 and summary["rate_limit_remaining"] is not None and summary["lag_seconds"] >= 0


def test_summary_line_reports_a_failure_with_its_outcome(poll, hub):
    hub.token = "hf_wrong_one_for_this_test"
    summary = summary_of(poll(HF_AUDIT_LOG_FORMAT="json"))
    assert summary["outcome"] == "auth_error" and summary["exit_code"] == ExitCode.AUTH
    assert summary["level"] == "error"


def test_summary_line_is_logfmt_by_default(poll):
    line = poll().stderr.strip().splitlines()[-1]
    assert line.startswith("ts=") and " outcome=ok " in line and " exported=300 " in line


def test_log_level_warning_hides_the_summary(poll):
    assert poll(HF_AUDIT_LOG_LEVEL="warning").stderr == ""


def metrics_of(path: Path) -> dict[str, float]:
    values = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            assert sample.labels == {"org": ORG}
            values[sample.name] = sample.value
    return values


def test_metrics_file_parses_and_counts_polls(poll, state_dir):
    poll()
    poll()
    values = metrics_of(state_dir / f"{ORG}.prom")
    assert set(values) == set(METRIC_NAMES)
    assert values["hf_audit_up"] == 1 and values["hf_audit_polls_total"] == 2
    assert values["hf_audit_events_emitted_total"] == 300
    assert values["hf_audit_consecutive_failures"] == 0
    assert abs(values["hf_audit_last_success_timestamp_seconds"] - time.time()) < 120


def test_metrics_count_consecutive_failures_and_keep_the_last_success(poll, hub, state_dir):
    poll()
    success = metrics_of(state_dir / f"{ORG}.prom")["hf_audit_last_success_timestamp_seconds"]
    hub.queue_fault(Fault(kind="html_page"), times=2)
    poll()
    poll()
    values = metrics_of(state_dir / f"{ORG}.prom")
    assert values["hf_audit_up"] == 0 and values["hf_audit_consecutive_failures"] == 2
    assert values["hf_audit_last_exit_code"] == ExitCode.DATA
    assert values["hf_audit_last_success_timestamp_seconds"] == success
    poll()
    assert metrics_of(state_dir / f"{ORG}.prom")["hf_audit_consecutive_failures"] == 0


def test_metrics_file_location_is_configurable(poll, tmp_path):
    target = tmp_path / "metrics" / "hf.prom"
    poll(HF_AUDIT_METRICS_FILE=str(target))
    assert metrics_of(target)["hf_audit_up"] == 1


def test_trace_logs_each_exchange_with_credentials_masked(poll):
    run = poll(HF_AUDIT_TRACE="true", HF_AUDIT_LOG_FORMAT="json")
    traces = [json.loads(line) for line in run.stderr.splitlines() if '"http_trace"' in line]
    assert len(traces) == 1
    assert traces[0]["request_headers"]["Authorization"] == "***"
    assert traces[0]["status"] == 200 and "/audit-log/export" in traces[0]["url"]


def test_version_matches_the_package(poll):
    from importlib.metadata import version

    assert poll("--version").stdout.decode().strip() == f"hf-audit {version('hf-audit')}"
