"""`hf-audit-poll state show|reset|set-watermark`: inspect and steer the checkpoint safely.

Each command takes the same lock as a poll, so it never races one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from .checkpoint_rules import watermark_to_set, with_watermark
from .errors import UsageError
from .health import HealthStore
from .settings import Settings
from .state import Checkpoint, StateStore


def _store(settings: Settings) -> StateStore:
    return StateStore(settings.state_dir, settings.org, settings.lock_timeout)


def show(settings: Settings, out: TextIO) -> None:
    store = _store(settings)
    with store.lock():
        checkpoint = store.load()
        health = HealthStore(settings.state_dir, settings.org).load()
    summary: dict[str, Any] = {
        "org": settings.org,
        "state_file": str(store.path),
        "checkpoint": None
        if checkpoint is None
        else {
            "watermark": checkpoint.watermark,
            "floor": checkpoint.floor,
            "window_start": checkpoint.window_start(settings.lookback),
            "ids_in_window": len(checkpoint.seen),
            "malformed_reported": sorted(checkpoint.reported_malformed),
        },
        "health": health.model_dump(),
    }
    out.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")


def reset(settings: Settings, out: TextIO, *, confirmed: bool) -> None:
    store = _store(settings)
    if not confirmed:
        raise UsageError(
            f"`state reset` forgets what was emitted for {settings.org!r}: the next poll backfills again "
            f"({settings.backfill.mode}). Pass --yes to do it"
        )
    with store.lock():
        removed = store.reset()
    out.write(f"checkpoint {store.path} {'removed' if removed else 'did not exist'}\n")


def set_watermark(settings: Settings, when: datetime, out: TextIO, *, confirmed: bool, force: bool = False) -> None:
    """Re-emit (or skip) from `when` on: events older than it are never emitted again, newer ones are
    emitted on the next poll unless remembered; sinks fold re-sent events by id."""
    if not confirmed:
        raise UsageError("`state set-watermark` changes what the next poll emits. Pass --yes to do it")
    moment = watermark_to_set(when, datetime.now(UTC), force=force)
    store = _store(settings)
    with store.lock():
        updated = with_watermark(store.load() or Checkpoint(org=settings.org), moment)
        store.save(updated)
    out.write(f"watermark of {settings.org!r} set to {moment}: the next poll emits the events from then on\n")
