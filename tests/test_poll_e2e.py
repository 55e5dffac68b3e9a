"""hf-audit-poll end to end, run by /bin/sh -c like Fluent Bit's exec input, against the simulated Hub."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, timedelta

import pytest

from conftest import ORG, TOKEN, assert_no_secret, poller_env, run_like_fluent_bit
from hf_audit import __version__
from hf_audit.errors import ExitCode
from hf_audit.normalize import COLUMNS
from hf_audit.output import READER_BUFFER_LINES
from hf_audit.simhub.events import generate_events, make_event
from hf_audit.simhub.server import Fault, SimulatedHub


def ids_oldest_first(events: list[dict]) -> list[str]:
    return [e["_id"] for e in sorted(events, key=lambda e: (e["createdAt"], e["_id"]))]


def test_first_poll_backfills_the_whole_export_oldest_first(poll, export_events):
    run = poll()
    assert run.returncode == ExitCode.OK, run.stderr
    assert run.event_ids == ids_oldest_first(export_events)
    assert all(list(record) == list(COLUMNS) for record in run.records)


def test_second_poll_without_new_events_prints_nothing(poll):
    assert poll().returncode == 0
    second = poll()
    assert second.returncode == 0 and second.stdout == b""
    assert "outcome=ok" in second.stderr and "emitted=0" in second.stderr


def test_steady_state_poll_of_a_newest_first_export_stops_at_the_lookback_window(poll):
    poll()
    second = poll()
    assert "stopped_early=true" in second.stderr
    assert "already_seen=300" not in second.stderr  # it did not parse the whole export


def test_steady_state_poll_of_an_oldest_first_export_reads_it_all(poll, hub):
    hub.set_order("oldest-first")
    poll()
    second = poll()
    assert "stopped_early=false" in second.stderr and "already_seen=300" in second.stderr


def test_later_poll_prints_exactly_the_new_events(poll, hub):
    poll()
    added = hub.generate_newer(25)
    run = poll()
    assert run.event_ids == ids_oldest_first(added)


def test_late_arrival_within_the_lookback_is_printed_once(poll, hub):
    poll()
    late = hub.generate_late(3, age=timedelta(hours=2))
    first = poll()
    assert first.event_ids == ids_oldest_first(late)
    assert "late=3" in first.stderr
    assert poll().stdout == b""


def test_late_arrival_older_than_the_lookback_is_taken_as_handled(poll, hub):
    poll()
    hub.generate_late(2, age=timedelta(hours=3))
    assert poll(HF_AUDIT_LOOKBACK="1h").stdout == b""


@pytest.mark.parametrize("order", ["oldest-first", "random"])
def test_output_is_in_ascending_time_whatever_the_export_order(poll, hub, export_events, order):
    hub.set_order(order)
    assert poll().event_ids == ids_oldest_first(export_events)


def test_backfill_none_prints_only_events_after_the_first_poll(poll, hub):
    assert poll(HF_AUDIT_BACKFILL="none").stdout == b""
    added = hub.generate_newer(4)
    assert poll(HF_AUDIT_BACKFILL="none").event_ids == ids_oldest_first(added)


def test_backfill_window_prints_only_recent_history(poll, export_events):
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 2 * 86400))
    run = poll(HF_AUDIT_BACKFILL="2d")
    expected = ids_oldest_first([e for e in export_events if e["createdAt"] >= cutoff])
    assert 0 < len(run.event_ids) < len(export_events)
    assert run.event_ids == expected
    assert poll(HF_AUDIT_BACKFILL="2d").stdout == b""


def test_empty_first_export_then_events_are_all_printed(state_dir, tmp_path):
    with SimulatedHub(org=ORG, token=TOKEN, events=[]) as empty_hub:
        env = poller_env(empty_hub.url, state_dir, tmp_path, HF_AUDIT_BACKFILL="none")
        assert run_like_fluent_bit("hf-audit-poll", env).stdout == b""
        added = empty_hub.generate_newer(3)
        assert run_like_fluent_bit("hf-audit-poll", env).event_ids == ids_oldest_first(added)


@pytest.mark.parametrize(
    ("fault", "code", "message"),
    [
        (Fault(kind="cut_body", fraction=0.5), ExitCode.NETWORK, "broke off"),
        (Fault(kind="cut_body_no_length", fraction=0.5), ExitCode.DATA, "cut off"),
        (Fault(kind="invalid_json"), ExitCode.DATA, "JSON"),
        (Fault(kind="html_page"), ExitCode.DATA, "HTML"),
        (Fault(kind="json_object", body={"error": "export temporarily disabled"}), ExitCode.DATA, "export temporarily disabled"),
        (Fault(kind="not_json"), ExitCode.DATA, "not a JSON array"),
        (Fault(kind="reset", where="body"), ExitCode.NETWORK, ""),
    ],
)
def test_a_failed_download_prints_nothing_and_the_next_poll_prints_everything_once(poll, hub, export_events, fault, code, message):
    hub.queue_fault(fault, times=10)
    failed = poll(HF_AUDIT_MAX_RETRIES="1")
    assert failed.returncode == code, failed.stderr
    assert failed.stdout == b""
    assert message in failed.stderr
    hub.clear_faults()
    assert poll().event_ids == ids_oldest_first(export_events)


def test_failure_after_a_good_poll_keeps_the_checkpoint(poll, hub, state_dir):
    poll()
    before = (state_dir / f"{ORG}.json").read_bytes()
    added = hub.generate_newer(5)
    hub.queue_fault(Fault(kind="cut_body_no_length", nbytes=2000))
    assert poll().returncode == ExitCode.DATA
    assert (state_dir / f"{ORG}.json").read_bytes() == before
    assert poll().event_ids == ids_oldest_first(added)


def test_an_empty_array_is_a_successful_empty_poll(poll, hub):
    hub.queue_fault(Fault(kind="empty_array"))
    run = poll()
    assert run.returncode == 0 and run.stdout == b""


def test_wrong_token_says_admin_of_a_team_or_enterprise_org(poll, hub):
    hub.token = "hf_some_other_token"
    run = poll()
    assert run.returncode == ExitCode.AUTH
    assert "admin" in run.stderr and "Team or Enterprise" in run.stderr
    assert "Invalid credentials" in run.stderr  # the Hub's X-Error-Message
    assert "request id" in run.stderr


def test_free_plan_is_an_auth_error(poll, hub):
    hub.plan = "free"
    assert poll().returncode == ExitCode.AUTH


def test_unknown_org_names_the_org(poll):
    run = poll(HF_ORG="no-such-org")
    assert run.returncode == ExitCode.NOT_FOUND
    assert "'no-such-org'" in run.stderr


def test_transient_5xx_is_retried(poll, hub, export_events):
    hub.queue_fault(Fault(kind="status", status=503), times=2)
    run = poll()
    assert run.returncode == 0, run.stderr
    assert len(run.event_ids) == len(export_events)
    assert "retries=2" in run.stderr


def test_html_error_page_from_a_proxy_is_reported_as_hub_unavailable(poll, hub):
    hub.queue_fault(Fault(kind="status", status=502, html=True), times=10)
    run = poll(HF_AUDIT_MAX_RETRIES="1")
    assert run.returncode == ExitCode.NETWORK
    assert "502" in run.stderr and "<html" not in run.stderr
    assert len(hub.requests_seen) == 2  # a 502 is retried: the first try and one retry


def test_rate_limit_waits_for_the_reset_and_succeeds(poll, hub, monkeypatch):
    # When each request reached the Hub (which runs in this process): the retry must come at
    # least the advertised 2 s after the 429. A lower bound only: a slow machine cannot fail it.
    arrivals: list[float] = []
    record = hub._record
    monkeypatch.setattr(hub, "_record", lambda request: (arrivals.append(time.monotonic()), record(request)))
    hub.queue_fault(Fault(kind="rate_limited", reset=2))
    run = poll()
    assert run.returncode == 0, run.stderr
    assert len(hub.requests_seen) == 2 and len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 2.0


def test_rate_limit_longer_than_the_deadline_gives_up_at_once(poll, hub):
    hub.queue_fault(Fault(kind="rate_limited", reset=600, retry_after=600), times=5)
    started = time.monotonic()
    run = poll(HF_AUDIT_DEADLINE="20s")
    assert run.returncode == ExitCode.NETWORK
    assert "deadline" in run.stderr
    assert time.monotonic() - started < 15  # it did not sleep 600 s


def test_query_user_agent_and_gzip_are_sent(poll, hub):
    poll(HF_AUDIT_QUERY="type:repo.create")
    request = hub.requests_seen[-1]
    assert request.query == {"q": "type:repo.create"}
    assert request.header("User-Agent").startswith(f"hf-audit/{__version__}")
    assert "gzip" in request.header("Accept-Encoding")
    assert TOKEN not in json.dumps(request.headers)


def test_query_filters_the_export(poll, export_events):
    run = poll(HF_AUDIT_QUERY="type:repo.create")
    assert run.event_ids == ids_oldest_first([e for e in export_events if e["type"] == "repo.create"])


def test_malformed_event_is_reported_once_and_skipped(poll, hub, export_events):
    hub.set_order("oldest-first")  # read to the end every time
    bad = {"_id": "0123456789abcdef01234567", "type": "repo.create", "message": "no time", "author": {}}
    hub.add_events([dict(bad, createdAt="2026-13-45T99:00:00Z")])
    first = poll()
    assert first.returncode == 0
    assert "malformed" in first.stderr and "0123456789abcdef01234567" in first.stderr
    assert len(first.event_ids) == len(export_events)
    second = poll()
    assert "0123456789abcdef01234567" not in second.stderr and "malformed=1" in second.stderr


def test_unknown_event_type_is_printed(poll, hub):
    import random
    from datetime import datetime

    poll()
    event = make_event("org.brand_new_feature.enable", datetime.now(UTC), rng=random.Random(1), org=ORG)
    hub.add_events([event])
    assert [r["eventName"] for r in poll().records] == ["org.brand_new_feature.enable"]


def test_huge_event_is_cut_to_the_line_bound(poll, hub):
    import random
    from datetime import datetime

    poll()
    event = make_event("repo.update_settings", datetime.now(UTC), rng=random.Random(2), org=ORG)
    event["message"] = "x" * 200_000
    hub.add_events([event])
    run = poll(HF_AUDIT_MAX_LINE_BYTES="8192")
    assert len(run.stdout) <= 8192
    assert run.records[0]["tags"]["truncated"] == "true"


def test_every_line_fits_the_default_bound(poll):
    run = poll()
    assert max(len(line) + 1 for line in run.stdout.splitlines()) <= 65535


def test_lost_events_upstream_are_reported_with_the_time_range(poll, hub):
    hub.limit = 300
    poll()
    hub.generate_newer(400)
    run = poll()
    assert run.returncode == 0
    assert "lost upstream" in run.stderr
    assert len(run.event_ids) == 300


def test_corrupt_checkpoint_stops_the_poll_and_is_kept(poll, state_dir):
    state_dir.mkdir(parents=True)
    (state_dir / f"{ORG}.json").write_text("{not json")
    run = poll()
    assert run.returncode == ExitCode.STATE and run.stdout == b""
    assert "corrupt" in run.stderr
    assert (state_dir / f"{ORG}.json").read_text() == "{not json"


def test_two_pollers_at_once_the_second_is_refused(poll, hub, state_dir, tmp_path):
    hub.queue_fault(Fault(kind="stall", seconds=4, where="headers"))
    env = poller_env(hub.url, state_dir, tmp_path)
    first = subprocess.Popen(["/bin/sh", "-c", "hf-audit-poll"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    second = poll(HF_AUDIT_LOCK_TIMEOUT="0")
    out, _ = first.communicate(timeout=60)
    assert second.returncode == ExitCode.LOCKED and second.stdout == b""
    assert first.returncode == 0 and out.count(b"\n") == 300


def test_plain_http_to_a_remote_host_is_refused_before_any_request(poll, hub):
    run = poll(HF_ENDPOINT="http://example.com")
    assert run.returncode == ExitCode.USAGE
    assert "loopback" in run.stderr
    assert hub.requests_seen == []


def test_invalid_org_name_is_refused_before_any_request(poll, hub):
    run = poll(HF_ORG="../etc")
    assert run.returncode == ExitCode.USAGE
    assert hub.requests_seen == []


def test_sigterm_during_download_prints_nothing_and_keeps_the_checkpoint(hub, state_dir, tmp_path):
    hub.queue_fault(Fault(kind="stall", seconds=10, where="headers"))
    env = poller_env(hub.url, state_dir, tmp_path)
    proc = subprocess.Popen(["hf-audit-poll"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED
    assert out == b""
    assert not (state_dir / f"{ORG}.json").exists()
    assert_no_secret(out, err)


def test_sigterm_while_printing_commits_what_the_reader_can_have_stored_and_loses_nothing(state_dir, tmp_path):
    # 4,000 events are more than the (enlarged) pipe holds, so the poller blocks mid-output. The
    # reader may be stopping too (Fluent Bit's shutdown): the last lines printed are not committed
    # (READER_BUFFER_LINES at least) and the next poll prints them again, then the rest.
    events = generate_events(4000, seed=3, span=timedelta(days=3))
    with SimulatedHub(org=ORG, token=TOKEN, events=events) as big_hub:
        env = poller_env(big_hub.url, state_dir, tmp_path)
        # Unbuffered, so communicate() below sees every byte after the first line.
        proc = subprocess.Popen(["hf-audit-poll"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        first_line = proc.stdout.readline()
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=30)
        printed = [json.loads(line)["eventID"] for line in (first_line + rest).splitlines()]
        assert proc.returncode == ExitCode.INTERRUPTED, err
        assert 0 < len(printed) < len(events)
        following = run_like_fluent_bit("hf-audit-poll", env).event_ids
    everything = ids_oldest_first(events)
    committed = len(everything) - len(following)
    assert len(printed) - committed >= min(len(printed), READER_BUFFER_LINES)
    assert printed == everything[: len(printed)] and following == everything[committed:]


def test_python_dash_m_runs_the_same_command(hub, state_dir, tmp_path, export_events):
    env = poller_env(hub.url, state_dir, tmp_path)
    proc = subprocess.run([os.path.join(env["PATH"].split(os.pathsep)[0], "python"), "-m", "hf_audit"], env=env, capture_output=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.count(b"\n") == len(export_events)


def test_version_flag_reports_the_package_version(poll):
    run = poll("--version")
    assert run.returncode == 0 and __version__ in run.stdout.decode()


def test_token_from_a_file_works_and_never_shows(poll, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    run = poll(HF_TOKEN="", HF_TOKEN_PATH=str(token_file), HF_AUDIT_LOG_LEVEL="debug")
    assert run.returncode == 0, run.stderr
