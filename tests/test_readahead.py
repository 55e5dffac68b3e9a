"""read_ahead: the same items in the same order, the source's error where it happened, and no
helper thread left behind once the reader stops."""

import threading
import time
from collections.abc import Iterator

import pytest

from hf_audit.readahead import read_ahead


def numbers(count: int) -> Iterator[int]:
    yield from range(count)


def failing_after(count: int) -> Iterator[int]:
    yield from range(count)
    raise ConnectionResetError("reset by peer")


def read_ahead_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "hf-audit-read-ahead"]


def wait_for_no_read_ahead_thread(timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while read_ahead_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    return not read_ahead_threads()


def test_items_arrive_all_and_in_order():
    assert list(read_ahead(numbers(10_000), depth=4)) == list(range(10_000))


def test_an_error_of_the_source_is_raised_after_the_items_before_it():
    received = []
    with pytest.raises(ConnectionResetError, match="reset by peer"):
        for item in read_ahead(failing_after(50), depth=4):
            received.append(item)
    assert received == list(range(50))


def test_an_empty_source_gives_nothing():
    assert list(read_ahead(numbers(0), depth=4)) == []


def test_closing_the_reader_early_ends_the_helper_thread():
    reader = read_ahead(numbers(1_000_000), depth=2)
    assert next(reader) == 0
    reader.close()
    assert wait_for_no_read_ahead_thread()


def test_the_helper_thread_ends_once_the_source_is_read():
    list(read_ahead(numbers(100), depth=4))
    assert wait_for_no_read_ahead_thread()
