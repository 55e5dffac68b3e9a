"""LineWriter: a batch goes into the pipe only when the pipe has room for all of it, so a kill can
never leave part of a batch, and so half a line, in the pipe."""

import contextlib
import fcntl
import itertools
import os
import random
import socket
import struct
import termios
import threading
import time
from collections.abc import Iterator

import pytest

from hf_audit import output
from hf_audit.output import LineWriter, Stopped


def random_lines(rng: random.Random, count: int, max_bytes: int) -> list[bytes]:
    return [b"x" * rng.randint(0, max_bytes - 1) + b"\n" for _ in range(count)]


def drain_irregularly(fd: int, seed: int, into: bytearray) -> None:
    """Read odd amounts with pauses, so pages are left partly read and the pipe is rarely empty."""
    rng = random.Random(seed)
    while chunk := os.read(fd, rng.randint(1, 40_000)):
        into += chunk
        if rng.random() < 0.3:
            time.sleep(rng.random() / 1000)


@pytest.mark.parametrize("seed", range(3))
def test_a_batch_is_written_only_when_the_pipe_has_room_for_all_of_it(seed):
    # A non-blocking pipe turns a write that does not fit into a short write or EAGAIN, which the
    # writer reports as an error: every batch here went in whole, with the reader mid-way.
    rng = random.Random(seed)
    lines = random_lines(rng, 3000, 4096) + random_lines(rng, 200, 65536)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    received = bytearray()
    reader = threading.Thread(target=drain_irregularly, args=(read_fd, seed, received))
    reader.start()
    try:
        writer = LineWriter(write_fd, 65536, lambda: False)
        for line in lines:
            writer.write(line)
        writer.flush()
    finally:
        os.close(write_fd)
        reader.join(timeout=60)
        os.close(read_fd)
    assert writer.written == len(lines)
    assert bytes(received) == b"".join(lines)


def test_unread_data_the_writer_did_not_write_is_waited_out():
    read_fd, write_fd = os.pipe()
    try:
        writer = LineWriter(write_fd, 4096, lambda: False)
        os.write(write_fd, b"written by someone else\n")
        assert not writer.has_room_for(10)
        os.read(read_fd, 1 << 16)
        assert writer.has_room_for(10)
    finally:
        os.close(write_fd)
        os.close(read_fd)


def test_a_batch_waits_for_the_reader_when_the_pipe_is_nearly_full():
    read_fd, write_fd = os.pipe()
    try:
        writer = LineWriter(write_fd, 4096, lambda: False)
        capacity = writer._capacity
        assert capacity is not None
        filler = b"y" * (capacity - 4096 - 1) + b"\n"
        writer.write(filler)
        writer.flush()
        assert not writer.has_room_for(8192)
        os.read(read_fd, capacity)
        assert writer.has_room_for(8192)
    finally:
        os.close(write_fd)
        os.close(read_fd)


def test_the_room_check_counts_the_documented_bound_at_its_edge():
    # The module's bound: U unread bytes written by our last k writes take at most
    # ceil(U / page) + k + 1 page slots. One batch of 3 pages and 5 bytes (k = 1, 4 pages unread):
    # 6 slots count as taken, so a write of exactly the remaining slots' bytes has room, one byte
    # more does not.
    read_fd, write_fd = os.pipe()
    try:
        writer = LineWriter(write_fd, 4096, lambda: False)
        page, capacity = os.sysconf("SC_PAGE_SIZE"), writer._capacity
        assert capacity is not None
        writer.write(b"z" * (3 * page + 4) + b"\n")
        writer.flush()
        free = capacity // page - (4 + 1 + 1)
        assert writer.has_room_for(free * page)
        assert not writer.has_room_for(free * page + 1)
    finally:
        os.close(write_fd)
        os.close(read_fd)


@pytest.mark.parametrize("seed", range(4))
def test_whenever_the_room_check_says_yes_the_write_goes_in_whole(seed):
    # Pages left partly filled by each write and partly read by the reader are the worst case of
    # the bound: a non-blocking write the check allowed must never be cut short or refused.
    rng = random.Random(seed)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    os.set_blocking(read_fd, False)
    try:
        writer = LineWriter(write_fd, 4096, lambda: False)
        page = os.sysconf("SC_PAGE_SIZE")
        sizes = [1, page - 1, page, page + 1, 2 * page - 1, 5 * page + 3]
        checked = 0
        for _ in range(400):
            if rng.random() < 0.6:
                size = rng.choice(sizes + [rng.randint(1, 64 * page)])
                if writer.has_room_for(size):
                    writer.write(b"w" * (size - 1) + b"\n")
                    writer.flush()  # raises on a short write or EAGAIN
                    checked += 1
            else:
                with contextlib.suppress(BlockingIOError):
                    os.read(read_fd, rng.choice([1, page - 1, page + 1, rng.randint(1, 8 * page)]))
        assert checked > 50 and writer.written == checked
    finally:
        os.close(write_fd)
        os.close(read_fd)


def pipe_size(fd: int) -> int:
    return fcntl.fcntl(fd, getattr(fcntl, "F_GETPIPE_SZ", 1032))


@contextlib.contextmanager
def pipe() -> Iterator[tuple[int, int]]:
    read_fd, write_fd = os.pipe()
    try:
        yield read_fd, write_fd
    finally:
        for fd in (read_fd, write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def test_a_pipe_is_enlarged_to_1_mib_and_batches_are_a_quarter_of_it():
    with pipe() as (read_fd, write_fd):
        writer = LineWriter(write_fd, 65535, lambda: False)
        assert pipe_size(write_fd) == 1 << 20 == writer._capacity
        line = b"q" * 1023 + b"\n"
        for _ in range(256):  # 256 KiB: exactly one batch, still held
            writer.write(line)
        assert output._unread_bytes(write_fd) == 0 and writer.written == 0
        writer.write(line)  # one more does not fit the batch: the full one goes out whole
        assert output._unread_bytes(write_fd) == 256 * 1024 and writer.written == 256
        writer.flush()
        assert writer.written == 257 and len(os.read(read_fd, 1 << 20)) == 257 * 1024


def test_a_line_bound_past_half_a_mib_asks_for_twice_the_bound(monkeypatch):
    real = fcntl.fcntl
    asked: list[int] = []

    def recording(fd: int, command: int, arg: int = 0) -> int:
        if command == output._F_SETPIPE_SZ:
            asked.append(arg)
        return real(fd, command, arg)

    monkeypatch.setattr(output.fcntl, "fcntl", recording)
    with pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 700_000, lambda: False)
        assert asked[0] == 1_400_000 and writer._capacity == pipe_size(write_fd)


def test_a_pipe_that_cannot_take_1_mib_is_enlarged_to_twice_the_line_bound(monkeypatch):
    real = fcntl.fcntl
    asked: list[int] = []

    def limited(fd: int, command: int, arg: int = 0) -> int:
        if command == output._F_SETPIPE_SZ:
            asked.append(arg)
            if arg > 256 * 1024:
                raise PermissionError(1, "Operation not permitted")
        return real(fd, command, arg)

    monkeypatch.setattr(output.fcntl, "fcntl", limited)
    with pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 100_000, lambda: False)
        assert asked == [1 << 20, 200_000] and writer._capacity == pipe_size(write_fd) >= 200_000


def test_a_pipe_that_cannot_be_enlarged_keeps_its_size_and_bounds_the_batches(monkeypatch):
    real = fcntl.fcntl

    def fixed(fd: int, command: int, arg: int = 0) -> int:
        if command == output._F_SETPIPE_SZ:
            raise PermissionError(1, "Operation not permitted")
        return real(fd, command, arg)

    monkeypatch.setattr(output.fcntl, "fcntl", fixed)
    with pipe() as (_, write_fd):
        size = pipe_size(write_fd)
        writer = LineWriter(write_fd, 4096, lambda: False)
        assert writer._capacity == size and writer._batch_limit == size // 4


def test_without_a_readable_pipe_size_batches_are_64_kib(monkeypatch, tmp_path):
    def unreadable(fd: int, command: int, arg: int = 0) -> int:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(output.fcntl, "fcntl", unreadable)
    with pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        assert writer._capacity is None and writer._batch_limit == output.BATCH_BYTES == 64 * 1024


def test_to_a_file_lines_go_in_64_kib_batches_and_all_arrive(tmp_path):
    path = tmp_path / "out"
    with open(path, "wb") as out:
        writer = LineWriter(out.fileno(), 4096, lambda: False)
        line = b"f" * 1023 + b"\n"
        for _ in range(64):
            writer.write(line)
        assert path.stat().st_size == 0
        writer.write(line)
        assert path.stat().st_size == 64 * 1024
        big = b"g" * 199_999 + b"\n"  # larger than a batch: goes out on its own, whole
        writer.write(big)
        writer.flush()
        assert writer.written == 66
    assert path.read_bytes() == line * 65 + big


def test_a_short_write_to_the_pipe_is_an_error_and_the_batch_is_not_counted(monkeypatch):
    monkeypatch.setattr(output.os, "write", lambda fd, data: len(data) - 1)
    with pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        writer.write(b"line\n")
        with pytest.raises(OSError, match="short write"):
            writer.flush()
        assert writer.written == 0


def fill_the_pipe(write_fd: int) -> None:
    os.set_blocking(write_fd, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(write_fd, b"x" * 65536)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(write_fd, b"x")
    os.set_blocking(write_fd, True)


def test_a_reader_gone_while_the_writer_waits_is_a_broken_pipe():
    with pipe() as (read_fd, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        fill_the_pipe(write_fd)
        writer.write(b"line\n")
        threading.Timer(0.2, os.close, args=(read_fd,)).start()
        with pytest.raises(BrokenPipeError):
            writer.flush()
        assert writer.written == 0


def test_after_a_stop_a_writer_waiting_for_room_gives_up_the_batch_at_once():
    # Stopping: the reader is going away too, so waiting for it gains nothing; the batch counts as not written.
    with pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: True)
        fill_the_pipe(write_fd)
        writer.write(b"line\n")
        started = time.monotonic()
        with pytest.raises(Stopped):
            writer.flush()
        assert time.monotonic() - started < 2.0 and writer.written == 0


def test_without_a_stop_the_writer_waits_for_a_slow_reader_however_long():
    with pipe() as (read_fd, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        fill_the_pipe(write_fd)
        writer.write(b"last\n")
        drained = bytearray()
        reader = threading.Timer(1.0, lambda: drained.extend(os.read(read_fd, 1 << 21)))
        reader.start()
        writer.flush()  # no time limit: only a stop or a reader gone ends the wait
        reader.join()
        assert writer.written == 1 and drained


def test_64_unread_batches_of_its_own_still_leave_room_for_another():
    # The writer remembers its last 64 writes: their layout in the pipe is known, so it need not
    # wait for the reader to empty the pipe.
    with pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        for _ in range(64):
            writer.write(b"s\n")
            writer.flush()
        assert output._unread_bytes(write_fd) == 128 and writer.has_room_for(4096)
        writer.write(b"s\n")
        writer.flush()  # a 65th: the oldest unread write is forgotten, so the layout is not known
        assert not writer.has_room_for(4096)


def test_a_batch_as_large_as_the_pipe_waits_for_an_empty_pipe_and_goes_in_one_write(monkeypatch):
    real = fcntl.fcntl

    def fixed(fd: int, command: int, arg: int = 0) -> int:
        if command == output._F_SETPIPE_SZ:
            raise PermissionError(1, "Operation not permitted")
        return real(fd, command, arg)

    monkeypatch.setattr(output.fcntl, "fcntl", fixed)
    with pipe() as (read_fd, write_fd):
        capacity = pipe_size(write_fd)
        writer = LineWriter(write_fd, capacity, lambda: False)
        os.set_blocking(write_fd, False)  # a write that does not fit would fail, not wait
        writer.write(b"first\n")
        writer.flush()
        received = bytearray()
        reader = threading.Timer(0.3, lambda: received.extend(os.read(read_fd, 1 << 20)))
        reader.start()
        writer.write(b"b" * (capacity - 1) + b"\n")
        writer.flush()
        reader.join()
        assert writer.written == 2 and bytes(received) == b"first\n"
        assert output._unread_bytes(write_fd) == capacity


def test_a_pipe_already_at_1_mib_is_enlarged_further_for_a_line_bound_past_half_a_mib(monkeypatch):
    real = fcntl.fcntl
    asked: list[int] = []

    def recording(fd: int, command: int, arg: int = 0) -> int:
        if command == output._F_SETPIPE_SZ:
            asked.append(arg)
        return real(fd, command, arg)

    with pipe() as (_, write_fd):
        fcntl.fcntl(write_fd, output._F_SETPIPE_SZ, 1 << 20)
        monkeypatch.setattr(output.fcntl, "fcntl", recording)
        LineWriter(write_fd, 700_000, lambda: False)
        assert asked[:1] == [1_400_000]
        asked.clear()
        LineWriter(write_fd, 65535, lambda: False)
        assert asked == []  # already large enough: left alone


def test_after_the_last_write_the_writer_waits_until_a_slow_reader_has_taken_every_byte():
    with pipe() as (read_fd, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        writer.write(b"line\n")
        writer.flush()
        drained = bytearray()
        threading.Timer(0.3, lambda: drained.extend(os.read(read_fd, 1 << 16))).start()
        started = time.monotonic()
        writer.wait_until_read()
        assert time.monotonic() - started >= 0.25 and bytes(drained) == b"line\n"


def test_a_stop_while_the_last_bytes_are_unread_ends_the_wait_for_the_reader():
    stopping = threading.Event()
    with pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 4096, stopping.is_set)
        writer.write(b"line\n")
        writer.flush()
        threading.Timer(0.2, stopping.set).start()
        with pytest.raises(Stopped):
            writer.wait_until_read()


def test_a_reader_gone_before_taking_the_last_bytes_is_a_broken_pipe():
    with pipe() as (read_fd, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        writer.write(b"line\n")
        writer.flush()
        threading.Timer(0.2, os.close, args=(read_fd,)).start()
        with pytest.raises(BrokenPipeError):
            writer.wait_until_read()


def test_a_reader_that_takes_nothing_for_the_stall_time_is_reported_stuck(monkeypatch):
    monkeypatch.setattr(output, "DRAIN_STALL_SECONDS", 0.3)
    with pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        writer.write(b"line\n")
        writer.flush()
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="left 5 bytes unread"):
            writer.wait_until_read()
        assert time.monotonic() - started >= 0.3


def test_a_writer_that_wrote_nothing_does_not_wait_for_bytes_it_did_not_write():
    with pipe() as (_, write_fd):
        os.write(write_fd, b"not ours\n")
        LineWriter(write_fd, 4096, lambda: True).wait_until_read()  # returns: no Stopped, no wait


def test_with_the_reader_at_risk_a_few_lines_in_the_pipe_count_as_none_delivered():
    with pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        for _ in range(3):
            writer.write(b"line\n")
        writer.flush()
        assert writer.delivered(reader_at_risk=False) == 3
        assert writer.delivered(reader_at_risk=True) == 0


def read_until_closed(fd: int) -> None:
    while os.read(fd, 1 << 20):
        pass


@contextlib.contextmanager
def drained_pipe() -> Iterator[tuple[int, int]]:
    """A pipe whose reader takes every byte as it comes, until the write end is closed."""
    read_fd, write_fd = os.pipe()
    drained = threading.Thread(target=read_until_closed, args=(read_fd,))
    drained.start()
    try:
        yield read_fd, write_fd
    finally:
        os.close(write_fd)
        drained.join(timeout=30)
        os.close(read_fd)


def test_with_the_reader_at_risk_its_last_131072_lines_count_as_undelivered_however_short():
    # 140,000 lines of 32 bytes, read as they come: 4.5 MB, far past the margin in bytes (pipe +
    # 1 MiB), so the reader's ring of 131,072 lines is what stays undelivered.
    with drained_pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        for _ in range(140_000):
            writer.write(b"w" * 31 + b"\n")
        writer.flush()
        writer.wait_until_read()
        assert writer.delivered(reader_at_risk=False) == 140_000
        assert writer.delivered(reader_at_risk=True) == 140_000 - 131_072


def test_a_reader_that_keeps_taking_bytes_is_waited_for_past_the_stall_time(monkeypatch):
    # The stall time counts from the reader's last progress, not from the start of the wait.
    monkeypatch.setattr(output, "DRAIN_STALL_SECONDS", 0.3)
    with pipe() as (read_fd, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        writer.write(b"0123456789\n")
        writer.flush()

        def read_a_byte_at_a_time() -> None:
            for _ in range(11):
                time.sleep(0.1)
                os.read(read_fd, 1)

        reader = threading.Thread(target=read_a_byte_at_a_time)
        reader.start()
        started = time.monotonic()
        writer.wait_until_read()
        reader.join()
        assert time.monotonic() - started >= 1.0


# 400,000 short lines: the margin in bytes (the pipe's size and the reader's 1 MiB) covers fewer
# lines than the reader's ring of 131,072, so it is what stays undelivered. With the 1 MiB pipe,
# 8-byte lines put a line's end exactly at the margin's edge (it counts as delivered), and 7-byte
# lines one byte past it (2 MiB - 1 is a multiple of 7: it does not).
@pytest.mark.parametrize("line", [b"1234567\n", b"123456\n"])
def test_with_the_reader_at_risk_lines_within_the_pipe_and_1_mib_of_the_end_count_as_undelivered(line):
    with drained_pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        margin = pipe_size(write_fd) + 1_048_576
        for _ in range(400_000):
            writer.write(line)
        writer.flush()
        writer.wait_until_read()
        assert writer.delivered(reader_at_risk=True) == (400_000 * len(line) - margin) // len(line)


def test_with_the_reader_at_risk_lines_within_8_mib_and_1_mib_of_the_end_of_a_socket_count_as_undelivered():
    # A socket's buffers cannot be read: 8 MiB is assumed, plus the reader's 1 MiB. 200,000 lines of
    # 64 bytes: that margin covers 147,456 lines, more than the reader's ring of 131,072.
    writer_end, reader_end = socket.socketpair()
    drained = threading.Thread(target=read_until_closed, args=(reader_end.fileno(),))
    try:
        writer = LineWriter(writer_end.fileno(), 4096, lambda: False)
        drained.start()
        for _ in range(200_000):
            writer.write(b"s" * 63 + b"\n")
        writer.flush()
        assert writer.delivered(reader_at_risk=False) == 200_000
        assert writer.delivered(reader_at_risk=True) == 200_000 - (9 << 20) // 64
    finally:
        writer_end.close()
        drained.join(timeout=30)
        reader_end.close()


def test_a_reader_that_takes_nothing_for_10_seconds_is_stuck(monkeypatch):
    # The README's figure. A clock that moves half a second at each look, so no test waits 10 s.
    clock = itertools.count(1000.0, 0.5)
    monkeypatch.setattr(output.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(output.time, "sleep", lambda seconds: None)
    with pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        writer.write(b"line\n")
        writer.flush()
        with pytest.raises(TimeoutError, match="left 5 bytes unread for 10 s"):
            writer.wait_until_read()
        stuck_at = next(clock)
    assert 1010.0 < stuck_at <= 1012.0


def test_a_writer_waiting_for_room_looks_at_the_pipe_again_at_least_every_tenth_of_a_second(monkeypatch):
    # How soon it writes once the reader makes room, and how soon it sees a stop.
    naps: list[float] = []
    with pipe() as (read_fd, write_fd):

        def nap(seconds: float) -> None:
            naps.append(seconds)
            if len(naps) == 3:  # the reader empties the pipe
                os.set_blocking(read_fd, False)
                with contextlib.suppress(BlockingIOError):
                    while os.read(read_fd, 1 << 20):
                        pass

        monkeypatch.setattr(output.time, "sleep", nap)
        writer = LineWriter(write_fd, 4096, lambda: False)
        fill_the_pipe(write_fd)
        writer.write(b"line\n")
        writer.flush()
        assert writer.written == 1
    assert len(naps) >= 3 and max(naps) <= 0.1


def test_a_stop_while_the_writer_waits_for_room_is_seen_within_a_fraction_of_a_second():
    stopping = threading.Event()
    with pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 4096, stopping.is_set)
        fill_the_pipe(write_fd)
        writer.write(b"line\n")
        threading.Timer(0.2, stopping.set).start()
        started = time.monotonic()
        with pytest.raises(Stopped):
            writer.flush()
        assert time.monotonic() - started < 0.8 and writer.written == 0


def test_after_a_stop_a_batch_for_a_pipe_is_given_up_even_with_room_and_one_for_a_file_is_written(tmp_path):
    with pipe() as (read_fd, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: True)
        writer.write(b"line\n")
        with pytest.raises(Stopped):
            writer.flush()
        assert writer.written == 0 and _unread(read_fd) == 0
    with open(tmp_path / "out", "wb") as out:
        writer = LineWriter(out.fileno(), 4096, lambda: True)
        writer.write(b"line\n")
        writer.flush()
    assert writer.written == 1 and (tmp_path / "out").read_bytes() == b"line\n"
    assert writer.delivered(reader_at_risk=True) == 1  # a file keeps what it was given


def _unread(fd: int) -> int:
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def test_the_reader_buffer_of_a_pipe_is_the_pipe_whatever_size_it_got():
    # A line bound past half a MiB asks for a pipe of twice the bound: 2 MiB where the system
    # allows it, else the pipe keeps a size of its own; either way not the 1 MiB of the common
    # case, and the margin is that pipe and the reader's 1 MiB. 600,000 lines of 7 bytes: the
    # margin covers more lines than the reader's ring of 131,072.
    with drained_pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 700_000, lambda: False)
        margin = pipe_size(write_fd) + (1 << 20)
        for _ in range(600_000):
            writer.write(b"123456\n")
        writer.flush()
        writer.wait_until_read()
        assert pipe_size(write_fd) != 1 << 20
        assert writer.delivered(reader_at_risk=True) == (600_000 * 7 - margin) // 7


def test_a_writer_waiting_for_its_last_bytes_to_be_read_looks_again_at_least_every_tenth_of_a_second(monkeypatch):
    naps: list[float] = []
    with pipe() as (read_fd, write_fd):

        def nap(seconds: float) -> None:
            naps.append(seconds)
            if len(naps) == 3:  # the reader takes the line
                os.read(read_fd, 1 << 16)

        writer = LineWriter(write_fd, 4096, lambda: False)
        writer.write(b"line\n")
        writer.flush()
        monkeypatch.setattr(output.time, "sleep", nap)
        writer.wait_until_read()
    assert len(naps) == 3 and max(naps) <= 0.1


def test_with_the_reader_at_risk_140000_empty_lines_inside_the_byte_margin_count_as_none_delivered():
    with drained_pipe() as (_, write_fd):
        writer = LineWriter(write_fd, 4096, lambda: False)
        for _ in range(140_000):
            writer.write(b"\n")
        writer.flush()
        writer.wait_until_read()
        assert writer.delivered(reader_at_risk=False) == 140_000
        assert writer.delivered(reader_at_risk=True) == 0
