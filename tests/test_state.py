"""The checkpoint file: atomic, locked, and never silently reset."""

import json
import os
from datetime import timedelta

import pytest

from hf_audit.errors import LockedError, StateError
from hf_audit.state import Checkpoint, StateStore


def store(tmp_path, org="acme", lock_timeout=0.0) -> StateStore:
    return StateStore(tmp_path / "state", org, lock_timeout)


def test_no_file_means_first_poll(tmp_path):
    assert store(tmp_path).load() is None


def test_saved_checkpoint_reads_back_equal(tmp_path):
    s = store(tmp_path)
    checkpoint = Checkpoint(org="acme", watermark="2026-11-25T17:00:00.000Z", seen={"a" * 24: "2026-11-25T17:00:00.000Z"})
    with s.lock():
        s.save(checkpoint)
    assert s.load() == checkpoint


def test_save_leaves_no_temp_file_behind(tmp_path):
    s = store(tmp_path)
    with s.lock():
        s.save(Checkpoint(org="acme"))
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["acme.json", "acme.lock"]


def test_corrupt_file_is_an_error_not_a_reset(tmp_path):
    s = store(tmp_path)
    (tmp_path / "state").mkdir()
    s.path.write_text('{"version": 1, "org": "ac')
    with pytest.raises(StateError, match="corrupt"):
        s.load()
    assert s.path.read_text() == '{"version": 1, "org": "ac'


def test_checkpoint_of_another_org_is_refused(tmp_path):
    s = store(tmp_path)
    (tmp_path / "state").mkdir()
    s.path.write_text(Checkpoint(org="other").model_dump_json())
    with pytest.raises(StateError, match="other"):
        s.load()


def test_unreadable_file_is_a_state_error(tmp_path):
    s = store(tmp_path)
    (tmp_path / "state").mkdir()
    s.path.mkdir()  # a directory where the file should be: reading fails for root too
    with pytest.raises(StateError, match="cannot read"):
        s.load()


def test_second_holder_of_the_lock_is_refused(tmp_path):
    first, second = store(tmp_path), store(tmp_path)
    with first.lock():
        with pytest.raises(LockedError, match="another hf-audit-poll"):
            with second.lock():
                pass


def test_write_failure_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    s = store(tmp_path)
    with s.lock():
        s.save(Checkpoint(org="acme", watermark="2026-01-01T00:00:00.000Z"))

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StateError, match="No space left"):
        s.save(Checkpoint(org="acme", watermark="2026-02-02T00:00:00.000Z"))
    monkeypatch.undo()
    assert s.load().watermark == "2026-01-01T00:00:00.000Z"
    assert [p.name for p in (tmp_path / "state").iterdir() if p.suffix == ".tmp"] == []


def test_pruning_keeps_only_ids_within_the_lookback_window():
    checkpoint = Checkpoint(
        org="acme",
        watermark="2026-11-25T12:00:00.000Z",
        seen={"old": "2026-11-25T10:59:59.999Z", "edge": "2026-11-25T11:00:00.000Z", "new": "2026-11-25T12:00:00.000Z"},
    )
    assert set(checkpoint.pruned(timedelta(hours=1)).seen) == {"edge", "new"}


def test_state_file_is_plain_json(tmp_path):
    s = store(tmp_path)
    with s.lock():
        s.save(Checkpoint(org="acme", watermark="2026-11-25T12:00:00.000Z"))
    assert json.loads(s.path.read_text())["watermark"] == "2026-11-25T12:00:00.000Z"


def test_temp_files_of_a_killed_write_are_removed_under_the_lock(tmp_path):
    s = store(tmp_path)
    (tmp_path / "state").mkdir()
    leftovers = [".acme.json.abcd1234.tmp", ".acme.health.x_y_z_12.tmp", ".acme.prom.qwertyui.tmp"]
    # The last is a temp file of the checkpoint of organization `acme.health`: not acme's.
    others = [".acme.x.json.abcd1234.tmp", "acme.json", ".other.json.abcd1234.tmp", ".acme.health.json.x_y_z_12.tmp"]
    for name in leftovers + others:
        (tmp_path / "state" / name).write_text("x")
    with s.lock():
        pass
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == sorted([*others, "acme.lock"])


@pytest.mark.parametrize("other", ["other", "aaa"])  # sorting after and before "acme"
def test_checkpoint_of_any_other_org_is_refused(tmp_path, other):
    s = store(tmp_path)
    (tmp_path / "state").mkdir()
    s.path.write_text(Checkpoint(org=other).model_dump_json())
    with pytest.raises(StateError, match=f"belongs to organization '{other}'"):
        s.load()


def test_a_corrupt_file_is_reported_by_its_first_problem(tmp_path):
    s = store(tmp_path)
    (tmp_path / "state").mkdir()
    s.path.write_text('{"version": 1, "org": 5, "seen": 7}')
    with pytest.raises(StateError, match=r"corrupt \(org: Input should be a valid string\)"):
        s.load()


def test_the_lock_creates_missing_parent_directories_private_to_the_user(tmp_path):
    s = StateStore(tmp_path / "a" / "b" / "state", "acme", 0.0)
    with s.lock():
        pass
    assert (tmp_path / "a" / "b" / "state" / "acme.lock").exists()
    assert (tmp_path / "a" / "b" / "state").stat().st_mode & 0o777 == 0o700


def test_a_state_directory_that_cannot_be_created_is_a_state_error(tmp_path):
    (tmp_path / "file").write_text("")
    s = StateStore(tmp_path / "file" / "state", "acme", 0.0)
    with pytest.raises(StateError, match="cannot create the state directory .*: Not a directory$"):
        with s.lock():
            pass


def test_a_lock_file_that_cannot_be_created_is_a_state_error_naming_it(tmp_path):
    s = store(tmp_path)
    (tmp_path / "state" / "acme.lock").mkdir(parents=True)  # a directory where the lock file goes
    with pytest.raises(StateError, match=r"cannot create the lock file .*acme\.lock: Is a directory$"):
        with s.lock():
            pass


def test_an_os_error_inside_the_locked_block_is_not_taken_for_a_lock_problem(tmp_path):
    s = store(tmp_path)
    with pytest.raises(OSError, match="elsewhere") as raised:
        with s.lock():
            raise OSError(5, "elsewhere", str(tmp_path / "other-file"))
    assert not isinstance(raised.value, StateError)


def test_a_failed_write_names_the_reason_alone(tmp_path, monkeypatch):
    s = store(tmp_path)
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(StateError, match=r"cannot write the checkpoint .*acme\.json: No space left on device$"):
        with s.lock():
            s.save(Checkpoint(org="acme"))


def test_reset_removes_the_checkpoint_and_says_whether_there_was_one(tmp_path):
    s = store(tmp_path)
    with s.lock():
        s.save(Checkpoint(org="acme"))
    assert s.reset() is True and not s.path.exists()
    assert s.reset() is False


def test_reset_that_cannot_remove_the_file_is_a_state_error(tmp_path):
    s = store(tmp_path)
    s.path.mkdir(parents=True)  # unlink() of a directory fails, for root too
    with pytest.raises(StateError, match="cannot remove the checkpoint"):
        s.reset()


def test_a_watermark_not_in_the_canonical_form_is_quoted_by_its_first_40_characters(tmp_path):
    s = store(tmp_path)
    (tmp_path / "state").mkdir()
    s.path.write_text(json.dumps({"version": 1, "org": "acme", "watermark": "2026-11-01 " + "x" * 60}))
    with pytest.raises(StateError) as raised:
        s.load()
    assert "corrupt (watermark: Value error, not a time of the form 2026-11-01T00:00:00.000Z: " in str(raised.value)
    assert repr("2026-11-01 " + "x" * 29) + ")" in str(raised.value)


def test_a_lookback_window_reaching_before_year_1_starts_at_the_floor():
    with_floor = Checkpoint(org="acme", watermark="0001-01-05T00:00:00.000Z", floor="0001-01-01T00:00:00.000Z")
    assert with_floor.window_start(timedelta(days=30)) == "0001-01-01T00:00:00.000Z"
    assert with_floor.window_start(timedelta(days=1)) == "0001-01-04T00:00:00.000Z"
    assert Checkpoint(org="acme", watermark="0001-01-05T00:00:00.000Z").window_start(timedelta(days=30)) is None
