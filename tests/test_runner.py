"""The runner's bookkeeping around one poll, in process: the exit code each outcome ends with,
the checkpoint saved or not, the health file's counts, and the summary line written on every path.

The poll itself is replaced by a stand-in that returns or raises what each case needs; the lock,
the state directory, the health and metrics files are the real ones.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from hf_audit import runner as runner_module
from hf_audit.errors import NetworkError, StateError
from hf_audit.poll import PollReport, StopSignal
from hf_audit.runner import run_poll
from hf_audit.settings import Settings
from hf_audit.state import Checkpoint, StateStore

ORG = "acme"
SAVED = Checkpoint(org=ORG, watermark="2026-11-25T11:00:00.000Z", seen={"e1": "2026-11-25T11:00:00.000Z"})


def settings(tmp_path: Path) -> Settings:
    return Settings(org=ORG, token=SecretStr("hf_x"), token_source="test", state_dir=tmp_path)


def poll_that(monkeypatch, *, report: PollReport | None = None, raises: Exception | None = None,
              partial: PollReport | None = None) -> None:  # fmt: skip
    """Replace Poll.run: return `report` and SAVED, or raise `raises` after a download that got
    as far as `partial`."""

    def run(self, checkpoint: Checkpoint | None, now: datetime) -> tuple[PollReport, Checkpoint]:
        if raises is not None:
            self.last_report = partial
            raise raises
        assert report is not None
        return report, SAVED

    monkeypatch.setattr(runner_module.Poll, "run", run)


def summary(caplog) -> logging.LogRecord:
    (record,) = [r for r in caplog.records if getattr(r, "fields", {}).get("event") == "poll_summary"]
    return record


def health(tmp_path: Path) -> dict:
    return json.loads((tmp_path / f"{ORG}.health").read_text())


def poll(tmp_path: Path, caplog, **kwargs: object) -> int:
    caplog.set_level(logging.DEBUG, logger="test")
    return int(run_poll(settings(tmp_path), 1, logging.getLogger("test"), StopSignal(), **kwargs))  # type: ignore[arg-type]  # keyword arguments passed through to run_poll as the test gives them


def test_a_poll_that_succeeds_exits_0_saves_its_checkpoint_and_counts_a_success(tmp_path, monkeypatch, caplog):
    poll_that(monkeypatch, report=PollReport(exported=3, new=2, emitted=2))
    assert poll(tmp_path, caplog) == 0
    assert StateStore(tmp_path, ORG, 1.0).load() == SAVED
    kept = health(tmp_path)
    assert (kept["polls"], kept["failures_total"], kept["emitted_total"], kept["last_error"]) == (1, 0, 2, None)
    assert kept["last_poll"]["outcome"] == "ok" and kept["last_success"] == kept["last_poll"]["finished_at"]


def test_the_summary_line_carries_the_figures_the_health_file_keeps_and_its_own(tmp_path, monkeypatch, caplog):
    poll_that(monkeypatch, report=PollReport(exported=3, new=2, emitted=2, not_backfilled=1, stopped_early=True,
                                              gap=("2026-11-25T10:00:00.000Z", "2026-11-25T11:00:00.000Z")))  # fmt: skip
    poll(tmp_path, caplog)
    record = summary(caplog)
    fields = record.fields  # type: ignore[attr-defined]  # `fields` is the structured log's extra attribute
    kept = health(tmp_path)["last_poll"]
    assert record.levelno == logging.INFO
    # Each is timed when written: the summary line after the health file.
    timed = {"finished_at", "duration_seconds"}
    assert {k: v for k, v in fields.items() if k in kept and k not in timed} == {k: v for k, v in kept.items() if k not in timed}
    assert fields["duration_seconds"] >= kept["duration_seconds"]
    assert (fields["not_backfilled"], fields["lost_upstream"], fields["stopped_early"], fields["dry_run"]) == (1, True, True, False)
    assert "finished_at" not in fields and "not_backfilled" not in kept
    assert health(tmp_path)["lost_upstream_total"] == 1


def test_a_failed_poll_exits_with_its_errors_code_and_keeps_the_checkpoint(tmp_path, monkeypatch, caplog):
    StateStore(tmp_path, ORG, 1.0).save(Checkpoint(org=ORG))
    poll_that(monkeypatch, raises=NetworkError("HTTP 503: the Hub is unavailable; retries ran out"))
    assert poll(tmp_path, caplog) == 5
    assert StateStore(tmp_path, ORG, 1.0).load() == Checkpoint(org=ORG)
    assert summary(caplog).levelno == logging.ERROR
    assert "HTTP 503: the Hub is unavailable; retries ran out" in caplog.messages


def test_failures_in_a_row_are_counted_and_a_success_resets_the_count(tmp_path, monkeypatch, caplog):
    poll_that(monkeypatch, raises=NetworkError("down"))
    poll(tmp_path, caplog)
    poll(tmp_path, caplog)
    kept = health(tmp_path)
    assert (kept["polls"], kept["failures_total"], kept["consecutive_failures"], kept["last_error"]) == (2, 2, 2, "down")
    poll_that(monkeypatch, report=PollReport())
    poll(tmp_path, caplog)
    kept = health(tmp_path)
    assert (kept["polls"], kept["failures_total"], kept["consecutive_failures"], kept["last_error"]) == (3, 2, 0, "down")


def test_the_error_kept_in_the_health_file_is_redacted(tmp_path, monkeypatch, caplog):
    poll_that(monkeypatch, raises=NetworkError("the Hub quoted hf_secret back"))
    poll(tmp_path, caplog, redact=lambda text: text.replace("hf_secret", "***"))
    assert health(tmp_path)["last_error"] == "the Hub quoted *** back"


def test_a_download_that_fails_midway_reports_the_figures_it_got_to(tmp_path, monkeypatch, caplog):
    poll_that(monkeypatch, raises=NetworkError("broke off"), partial=PollReport(exported=40, malformed=1))
    poll(tmp_path, caplog)
    fields = summary(caplog).fields  # type: ignore[attr-defined]  # `fields` is the structured log's extra attribute
    assert (fields["outcome"], fields["exit_code"], fields["exported"], fields["malformed"]) == ("network_error", 5, 40, 1)


def test_a_bug_in_the_poll_is_an_internal_error_with_its_summary(tmp_path, monkeypatch, caplog):
    poll_that(monkeypatch, raises=ValueError("oops"))
    assert poll(tmp_path, caplog) == 1
    assert any("internal error (ValueError): oops" in m for m in caplog.messages)
    assert summary(caplog).fields["outcome"] == "internal_error"  # type: ignore[attr-defined]  # `fields` is the structured log's extra attribute
    assert health(tmp_path)["failures_total"] == 1


def test_an_interrupted_poll_exits_143_saves_what_was_delivered_and_is_no_failure(tmp_path, monkeypatch, caplog):
    poll_that(monkeypatch, report=PollReport(emitted=5, interrupted=True))
    assert poll(tmp_path, caplog) == 143
    assert StateStore(tmp_path, ORG, 1.0).load() == SAVED
    kept = health(tmp_path)
    assert (kept["failures_total"], kept["last_poll"]["outcome"]) == (0, "interrupted")
    assert summary(caplog).levelno == logging.INFO


def test_a_reader_that_went_away_exits_9_and_saves_what_it_took_in(tmp_path, monkeypatch, caplog):
    poll_that(monkeypatch, report=PollReport(emitted=5, unconfirmed=2, output_error="stdout's reader went away"))
    assert poll(tmp_path, caplog) == 9
    assert StateStore(tmp_path, ORG, 1.0).load() == SAVED
    assert health(tmp_path)["last_error"] == "stdout's reader went away"
    assert summary(caplog).fields["unconfirmed"] == 2  # type: ignore[attr-defined]  # `fields` is the structured log's extra attribute


def test_a_dry_run_saves_neither_the_checkpoint_nor_the_health(tmp_path, monkeypatch, caplog):
    poll_that(monkeypatch, report=PollReport(exported=3, new=3))
    assert poll(tmp_path, caplog, dry_run=True) == 0
    assert StateStore(tmp_path, ORG, 1.0).load() is None
    assert not (tmp_path / f"{ORG}.health").exists() and not (tmp_path / f"{ORG}.prom").exists()
    assert summary(caplog).fields["dry_run"] is True  # type: ignore[attr-defined]  # `fields` is the structured log's extra attribute


def test_a_checkpoint_that_cannot_be_read_is_a_state_error(tmp_path, monkeypatch, caplog):
    (tmp_path / f"{ORG}.json").write_text("{not json")
    poll_that(monkeypatch, report=PollReport())
    assert poll(tmp_path, caplog) == 7
    assert health(tmp_path)["last_poll"]["outcome"] == "state_error"


def test_a_poll_locked_out_exits_8_and_counts_nothing(tmp_path, monkeypatch, caplog):
    poll_that(monkeypatch, report=PollReport())
    store = StateStore(tmp_path, ORG, 0.1)
    with store.lock():
        # The lock is a file lock: a second FileLock object in this process waits on it like another process.
        code = int(run_poll(settings(tmp_path).model_copy(update={"lock_timeout": 0.1}), 1, logging.getLogger("test"), StopSignal()))
    assert code == 8
    assert not (tmp_path / f"{ORG}.health").exists()


def test_a_health_file_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path, monkeypatch, caplog):
    poll_that(monkeypatch, report=PollReport())
    (tmp_path / "metrics-dir").write_text("a file where the metrics' folder should be")
    monkeypatch.setattr(Settings, "metrics_path", property(lambda self: tmp_path / "metrics-dir" / "x.prom"))
    assert poll(tmp_path, caplog) == 0
    assert any("could not write the health or metrics file" in m for m in caplog.messages)


@pytest.mark.parametrize("error", [StateError("cannot write"), NetworkError("x")])
def test_every_failure_still_writes_exactly_one_summary_line(tmp_path, monkeypatch, caplog, error):
    poll_that(monkeypatch, raises=error)
    poll(tmp_path, caplog)
    assert summary(caplog).fields["exit_code"] == error.exit_code  # type: ignore[attr-defined]  # `fields` is the structured log's extra attribute
