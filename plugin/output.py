"""Write whole lines to stdout, so that no kill, not even SIGKILL, leaves half a line in the pipe.

Fluent Bit reads the command through a pipe. A write() to a pipe that has room for all of its
bytes copies them in one step; one that has to wait for the reader can be cut short by a kill,
leaving a fragment that Fluent Bit would fail to parse. So each batch of whole lines is written
only once the pipe is known to have room for it.

A pipe's room is counted in page slots, not bytes: each write() leaves at most one page partly
filled, and the reader may have taken part of the first page. So with U bytes unread, written by
our last k writes, at most U/page + k + 1 slots are taken. The pipe is first enlarged to 1 MiB and
batches are a quarter of it, so the next batch can go in while the reader still drains the last
ones. Unread data this writer did not write (someone else's, before we started) is waited out.
Every line counted as written is complete in the pipe.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import stat
import struct
import termios
import time
from collections import deque
from collections.abc import Callable

BATCH_BYTES = 64 * 1024  # when stdout is a file or a terminal
WANTED_PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size for unprivileged processes
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)


def _pipe_capacity(fd: int, needed: int) -> int | None:
    """The pipe's size after trying to enlarge it, or None when it cannot be read (not Linux)."""
    try:
        current = fcntl.fcntl(fd, _F_GETPIPE_SZ)
    except OSError:
        return None
    if current < max(needed * 2, WANTED_PIPE_BYTES):
        try:
            current = fcntl.fcntl(fd, _F_SETPIPE_SZ, max(needed * 2, WANTED_PIPE_BYTES))
        except OSError:
            try:
                current = fcntl.fcntl(fd, _F_SETPIPE_SZ, needed * 2)
            except OSError:
                pass  # keep the current size: batches are then bounded by it
    return current


def _unread_bytes(fd: int) -> int:
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


class LineWriter:
    """Buffers complete lines and writes them in whole batches; `written` counts delivered lines."""

    def __init__(self, fd: int, max_line_bytes: int, stop_requested: Callable[[], bool]) -> None:
        self.fd = fd
        self.stop_requested = stop_requested
        self.written = 0
        self._batch = bytearray()
        self._batch_lines = 0
        self._capacity: int | None = None
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            self._capacity = _pipe_capacity(fd, max_line_bytes)
        self._batch_limit = self._capacity // 4 if self._capacity else BATCH_BYTES
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._recent_writes: deque[int] = deque(maxlen=64)  # sizes of our last writes, newest last

    def write(self, line: bytes | memoryview) -> None:
        if self._batch and len(self._batch) + len(line) > self._batch_limit:
            self.flush()
        self._batch += line
        self._batch_lines += 1

    def flush(self) -> None:
        """Deliver the batch, or raise BrokenPipeError (reader gone) / TimeoutError (reader stuck
        after a stop was requested); the batch then counts as not written."""
        if not self._batch:
            return
        data = self._batch
        if self._capacity is not None and len(data) <= self._capacity:
            self._wait_for_room(len(data))
            written = os.write(self.fd, data)  # fits in the pipe: one uninterruptible copy
            if written != len(data):
                raise OSError(errno.EIO, f"short write to the pipe ({written} of {len(data)} bytes)")
            self._recent_writes.append(written)
        else:
            view = memoryview(bytes(data))  # a copy: views of the batch itself would pin it
            while view:
                view = view[os.write(self.fd, view) :]
        self.written += self._batch_lines
        self._batch.clear()
        self._batch_lines = 0

    def has_room_for(self, size: int) -> bool:
        """Whether a write of `size` bytes (at most the pipe's size) fits in the pipe without waiting."""
        unread = _unread_bytes(self.fd)
        if unread == 0:
            return True
        writes = covered = 0
        for length in reversed(self._recent_writes):
            writes += 1
            covered += length
            if covered >= unread:
                break
        else:
            return False  # not all of it is ours: its layout is unknown, wait for an empty pipe
        assert self._capacity is not None
        slots_taken = -(-unread // self._page) + writes + 1
        return -(-size // self._page) <= self._capacity // self._page - slots_taken

    def _wait_for_room(self, size: int) -> None:
        patience_after_stop = 5.0
        stop_seen_at: float | None = None
        while not self.has_room_for(size):
            if self.stop_requested():
                stop_seen_at = stop_seen_at or time.monotonic()
                if time.monotonic() - stop_seen_at > patience_after_stop:
                    raise TimeoutError("the reader stopped draining stdout after the stop signal")
            # Writable means the reader is gone (error) or at least a page is free; either way look again.
            _, writable, _ = select.select([], [self.fd], [], 0.05)
            if writable and self._reader_gone():
                raise BrokenPipeError(errno.EPIPE, "stdout was closed")
            time.sleep(0.0005)

    def _reader_gone(self) -> bool:
        poller = select.poll()
        poller.register(self.fd, select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
