"""The checkpoint rules, in process: which events a poll counts as new, and the checkpoint it commits.

Times are the Hub's canonical form (ms, Z), so the rules compare them as text; every case here
sits on an edge: the window's first instant, the backfill window's first instant, the watermark.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import SecretStr

from hf_audit.checkpoint_rules import (
    PollRules,
    backfill_floor,
    horizon,
    watermark_to_set,
    watermark_within_clock,
    with_watermark,
)
from hf_audit.errors import ExitCode, UsageError
from hf_audit.settings import Backfill, Settings
from hf_audit.state import Checkpoint

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
WATERMARK = "2026-11-25T11:00:00.000Z"
HOUR = timedelta(hours=1)


def settings(tmp_path: Path, backfill: str = "all", lookback: timedelta = HOUR) -> Settings:
    return Settings(
        org="acme", token=SecretStr("hf_x"), token_source="test", state_dir=tmp_path,
        backfill=Backfill.parse(backfill), lookback=lookback,
    )  # fmt: skip


def checkpoint(**fields: object) -> Checkpoint:
    return Checkpoint(org="acme", watermark=WATERMARK, seen={"seen-id": WATERMARK}, **fields)  # type: ignore[arg-type]  # the test's fields, validated by the model


# --- PollRules.verdict: the verdict on one event ------------------------------------------------------------


def test_an_id_remembered_in_the_checkpoint_is_seen_whatever_its_time(tmp_path):
    dedupe = PollRules(checkpoint(), settings(tmp_path), NOW)
    assert dedupe.verdict("seen-id", "2026-11-25T11:30:00.000Z") == "seen"
    assert dedupe.verdict("seen-id", "2020-01-01T00:00:00.000Z") == "seen"


def test_an_event_older_than_the_lookback_window_is_old(tmp_path):
    dedupe = PollRules(checkpoint(), settings(tmp_path), NOW)
    assert dedupe.verdict("other", "2026-11-25T09:59:59.999Z") == "old"


def test_an_event_at_the_first_instant_of_the_window_is_new(tmp_path):
    dedupe = PollRules(checkpoint(), settings(tmp_path), NOW)
    assert dedupe.verdict("other", "2026-11-25T10:00:00.000Z") == "new"


def test_an_unseen_event_within_the_window_is_new_and_late_up_to_the_watermark(tmp_path):
    dedupe = PollRules(checkpoint(), settings(tmp_path), NOW)
    assert dedupe.verdict("late", "2026-11-25T10:30:00.000Z") == "new"
    assert dedupe.is_late("2026-11-25T10:30:00.000Z") and dedupe.is_late(WATERMARK)
    assert not dedupe.is_late("2026-11-25T11:00:00.001Z")


def test_nothing_is_late_on_the_first_poll(tmp_path):
    assert not PollRules(None, settings(tmp_path), NOW).is_late("2000-01-01T00:00:00.000Z")


def test_the_floor_bounds_the_window_when_it_is_later(tmp_path):
    dedupe = PollRules(checkpoint(floor="2026-11-25T10:30:00.000Z"), settings(tmp_path), NOW)
    assert dedupe.verdict("a", "2026-11-25T10:29:59.999Z") == "old"
    assert dedupe.verdict("b", "2026-11-25T10:30:00.000Z") == "new"


def test_first_poll_with_backfill_all_takes_everything(tmp_path):
    dedupe = PollRules(None, settings(tmp_path, "all"), NOW)
    assert dedupe.verdict("a", "2001-01-01T00:00:00.000Z") == "new"


def test_first_poll_with_backfill_none_takes_nothing(tmp_path):
    dedupe = PollRules(None, settings(tmp_path, "none"), NOW)
    assert dedupe.verdict("a", "2026-11-25T11:59:59.999Z") == "not_backfilled"


def test_first_poll_with_a_backfill_window_takes_its_first_instant_and_later(tmp_path):
    dedupe = PollRules(None, settings(tmp_path, "2h"), NOW)
    assert dedupe.verdict("a", "2026-11-25T09:59:59.999Z") == "not_backfilled"
    assert dedupe.verdict("b", "2026-11-25T10:00:00.000Z") == "new"


def test_backfill_applies_only_to_the_first_poll(tmp_path):
    dedupe = PollRules(checkpoint(), settings(tmp_path, "none"), NOW)
    assert dedupe.verdict("a", "2026-11-25T11:30:00.000Z") == "new"


# --- PollRules.advanced: the checkpoint committed after a poll-------------------------------------


def advance(
    tmp_path: Path,
    before: Checkpoint | None,
    handled: dict[str, str] | None = None,
    printed: list[tuple[str, str]] | None = None,
    malformed: dict[str, str] | None = None,
    backfill: str = "all",
    lookback: timedelta = HOUR,
) -> Checkpoint:
    rules = PollRules(before, settings(tmp_path, backfill, lookback), NOW)
    return rules.advanced(handled or {}, printed or [], malformed or {})


def test_the_watermark_becomes_the_newest_event_printed(tmp_path):
    printed = [("p1", "2026-11-25T11:10:00.000Z"), ("p2", "2026-11-25T11:20:00.000Z")]
    after = advance(tmp_path, checkpoint(), printed=printed)
    assert after.watermark == "2026-11-25T11:20:00.000Z"
    assert after.seen == {"seen-id": WATERMARK, "p1": "2026-11-25T11:10:00.000Z", "p2": "2026-11-25T11:20:00.000Z"}



def test_an_event_ahead_of_the_clock_by_less_than_the_skew_moves_the_watermark_and_one_further_does_not(tmp_path):
    # The default clock skew is 5 minutes; NOW is 12:00.
    within = advance(tmp_path, checkpoint(), printed=[("ahead", "2026-11-25T12:03:00.000Z")])
    assert within.watermark == "2026-11-25T12:03:00.000Z"
    beyond = advance(tmp_path, checkpoint(), printed=[("future", "2026-11-25T12:10:00.000Z")])
    assert beyond.watermark == WATERMARK and beyond.seen["future"] == "2026-11-25T12:10:00.000Z"


def test_an_event_is_in_the_future_only_past_the_clock_and_its_skew(tmp_path):
    dedupe = PollRules(checkpoint(), settings(tmp_path), NOW)  # 12:00, 5 minutes of skew
    assert not dedupe.is_future("2026-11-25T12:03:00.000Z")
    assert not dedupe.is_future("2026-11-25T12:05:00.000Z")
    assert dedupe.is_future("2026-11-25T12:05:00.001Z")


def test_an_event_at_the_clock_plus_the_skew_still_moves_the_watermark(tmp_path):
    after = advance(tmp_path, checkpoint(), printed=[("edge", "2026-11-25T12:05:00.000Z")])
    assert after.watermark == "2026-11-25T12:05:00.000Z"

def test_a_late_event_printed_never_moves_the_watermark_back(tmp_path):
    after = advance(tmp_path, checkpoint(), printed=[("late", "2026-11-25T10:30:00.000Z")])
    assert after.watermark == WATERMARK and after.seen["late"] == "2026-11-25T10:30:00.000Z"


def test_events_skipped_on_purpose_count_as_handled(tmp_path):
    after = advance(tmp_path, None, handled={"skipped": "2026-11-25T11:40:00.000Z"}, backfill="none")
    assert after.watermark == "2026-11-25T11:40:00.000Z" and after.seen == {"skipped": "2026-11-25T11:40:00.000Z"}


def test_the_newest_of_handled_and_printed_events_is_the_watermark(tmp_path):
    after = advance(
        tmp_path, checkpoint(),
        handled={"h": "2026-11-25T11:50:00.000Z"}, printed=[("p", "2026-11-25T11:20:00.000Z")],
    )  # fmt: skip
    assert after.watermark == "2026-11-25T11:50:00.000Z"


def test_a_poll_that_printed_nothing_keeps_the_checkpoint(tmp_path):
    before = checkpoint()
    after = advance(tmp_path, before)
    assert (after.watermark, after.seen, after.floor) == (before.watermark, before.seen, before.floor)


def test_a_first_poll_that_found_nothing_has_no_watermark_and_the_backfill_floor(tmp_path):
    assert advance(tmp_path, None).model_dump() == Checkpoint(org="acme").model_dump()
    assert advance(tmp_path, None, backfill="2h").floor == "2026-11-25T10:00:00.000Z"


def test_ids_behind_the_new_window_are_forgotten_and_ids_at_its_edge_kept(tmp_path):
    before = Checkpoint(
        org="acme", watermark=WATERMARK,
        seen={"gone": "2026-11-25T10:09:59.999Z", "edge": "2026-11-25T10:10:00.000Z", "seen-id": WATERMARK},
    )  # fmt: skip
    after = advance(tmp_path, before, printed=[("p", "2026-11-25T11:10:00.000Z")])
    assert set(after.seen) == {"edge", "seen-id", "p"}


def test_malformed_items_still_in_the_export_are_what_is_remembered_as_reported(tmp_path):
    before = checkpoint(reported_malformed={"old-bad": "2026-11-24T00:00:00.000Z"})
    after = advance(tmp_path, before, malformed={"bad": "2026-11-25T12:00:00.000Z"})
    assert after.reported_malformed == {"bad": "2026-11-25T12:00:00.000Z"}


@pytest.mark.parametrize("lookback", [timedelta(minutes=30), timedelta(hours=3)])
def test_the_saved_window_follows_the_lookback_setting(tmp_path, lookback):
    before = Checkpoint(org="acme", watermark=WATERMARK, seen={"a": "2026-11-25T10:00:00.000Z"})
    after = advance(tmp_path, before, lookback=lookback)
    assert ("a" in after.seen) == (lookback >= HOUR)


# --- Checkpoint: the window and the pruning --------------------------------------------------------


def test_the_window_starts_one_lookback_before_the_watermark():
    assert checkpoint().window_start(HOUR) == "2026-11-25T10:00:00.000Z"


def test_before_any_watermark_the_window_starts_at_the_floor():
    assert Checkpoint(org="acme").window_start(HOUR) is None
    assert Checkpoint(org="acme", floor="2026-11-20T00:00:00.000Z").window_start(HOUR) == "2026-11-20T00:00:00.000Z"


def test_an_earlier_floor_does_not_widen_the_window():
    assert checkpoint(floor="2026-11-01T00:00:00.000Z").window_start(HOUR) == "2026-11-25T10:00:00.000Z"


def test_pruning_without_any_window_keeps_every_id():
    before = Checkpoint(org="acme", seen={"a": "2000-01-01T00:00:00.000Z"})
    assert before.pruned(HOUR).seen == {"a": "2000-01-01T00:00:00.000Z"}


# --- the horizon: the clock plus the skew bounds the watermark ------------------------------------


def test_the_horizon_is_the_clock_plus_the_skew():
    assert horizon(NOW, timedelta(minutes=5)) == "2026-11-25T12:05:00.000Z"


def test_an_event_after_the_horizon_is_future_and_one_at_it_is_not(tmp_path):
    rules = PollRules(checkpoint(), settings(tmp_path), NOW)  # default skew: 5 minutes
    assert rules.is_future("2026-11-25T12:05:00.001Z")
    assert not rules.is_future("2026-11-25T12:05:00.000Z")


def test_a_future_event_printed_is_remembered_but_leaves_the_watermark(tmp_path):
    after = advance(tmp_path, checkpoint(), printed=[("ahead", "2026-11-25T13:00:00.000Z")])
    assert after.watermark == WATERMARK and after.seen["ahead"] == "2026-11-25T13:00:00.000Z"


def test_an_event_at_the_horizon_moves_the_watermark_there(tmp_path):
    after = advance(tmp_path, checkpoint(), printed=[("edge", "2026-11-25T12:05:00.000Z")])
    assert after.watermark == "2026-11-25T12:05:00.000Z"


def test_a_watermark_past_the_horizon_is_taken_back_to_it():
    ahead = Checkpoint(org="acme", watermark="2030-01-01T00:00:00.000Z", seen={"a": WATERMARK})
    taken = watermark_within_clock(ahead, "2026-11-25T12:05:00.000Z")
    assert taken is not None and taken.watermark == "2026-11-25T12:05:00.000Z" and taken.seen == {"a": WATERMARK}


@pytest.mark.parametrize("watermark", [None, WATERMARK, "2026-11-25T12:05:00.000Z"])
def test_a_watermark_within_the_horizon_is_left_as_it_is(watermark):
    before = Checkpoint(org="acme", watermark=watermark)
    assert watermark_within_clock(before, "2026-11-25T12:05:00.000Z") is before
    assert watermark_within_clock(None, "2026-11-25T12:05:00.000Z") is None


# --- the backfill floor: computed once, for the verdicts and the first checkpoint ------------------


@pytest.mark.parametrize(("backfill", "floor"), [("all", None), ("none", None), ("2h", "2026-11-25T10:00:00.000Z")])
def test_the_backfill_floor_is_the_start_of_the_backfill_window(backfill, floor):
    assert backfill_floor(Backfill.parse(backfill), NOW) == floor


def test_the_floor_the_first_poll_uses_is_the_floor_it_commits(tmp_path):
    rules = PollRules(None, settings(tmp_path, "30m"), NOW)
    assert rules.floor == "2026-11-25T11:30:00.000Z" == rules.advanced({}, [], {}).floor


def test_a_later_poll_keeps_the_checkpoints_floor_whatever_the_backfill_setting(tmp_path):
    before = checkpoint(floor="2026-11-01T00:00:00.000Z")
    rules = PollRules(before, settings(tmp_path, "30m"), NOW)
    assert rules.floor is None and rules.advanced({}, [], {}).floor == "2026-11-01T00:00:00.000Z"


# --- set-watermark ---------------------------------------------------------------------------------


def test_set_watermark_takes_a_past_time_in_the_canonical_form():
    when = datetime(2026, 11, 20, 8, 30, tzinfo=timezone(timedelta(hours=2)))
    assert watermark_to_set(when, NOW, force=False) == "2026-11-20T06:30:00.000Z"


def test_set_watermark_takes_the_clocks_own_time():
    assert watermark_to_set(NOW, NOW, force=False) == "2026-11-25T12:00:00.000Z"


def test_set_watermark_refuses_a_future_time_without_force():
    with pytest.raises(UsageError, match=r"2026-11-25T12:00:00.001Z is in the future .* Pass --force") as raised:
        watermark_to_set(NOW + timedelta(milliseconds=1), NOW, force=False)
    assert raised.value.exit_code == ExitCode.USAGE


def test_set_watermark_takes_a_future_time_with_force():
    assert watermark_to_set(NOW + HOUR, NOW, force=True) == "2026-11-25T13:00:00.000Z"


@pytest.mark.parametrize("year", [1, 9998])
def test_set_watermark_takes_the_years_at_the_ends_of_the_range(year):
    assert watermark_to_set(datetime(year, 6, 1, tzinfo=UTC), NOW, force=True).startswith(f"{year:04d}-06-01")


def test_set_watermark_refuses_year_9999_even_with_force():
    with pytest.raises(UsageError, match="9999-06-01T00:00:00.000Z is out of range"):
        watermark_to_set(datetime(9999, 6, 1, tzinfo=UTC), NOW, force=True)


def test_a_set_watermark_is_also_the_floor_and_forgets_the_ids_from_then_on():
    before = Checkpoint(
        org="acme", watermark=WATERMARK, floor="2026-11-01T00:00:00.000Z",
        seen={"before": "2026-11-25T09:59:59.999Z", "at": "2026-11-25T10:00:00.000Z", "after": WATERMARK},
        reported_malformed={"bad": WATERMARK},
    )  # fmt: skip
    after = with_watermark(before, "2026-11-25T10:00:00.000Z")
    assert (after.watermark, after.floor) == ("2026-11-25T10:00:00.000Z", "2026-11-25T10:00:00.000Z")
    assert after.seen == {"before": "2026-11-25T09:59:59.999Z"}
    assert after.reported_malformed == {"bad": WATERMARK} and after.org == "acme"
