"""LineWriter: a batch goes into the pipe only when the pipe has room for all of it, so a kill can
never leave part of a batch, and so half a line, in the pipe."""

import contextlib
import os
import random
import threading
import time

import pytest

from hf_audit.output import LineWriter


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
