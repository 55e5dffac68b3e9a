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

Written is not delivered: lines still in the pipe, and lines the reader has read but not yet
stored (Fluent Bit keeps up to 1,024 records of a threaded input in memory, and drops them when it
stops), are lost with the reader. So when the reader goes away (EPIPE, POLLERR) or a stop signal
arrives (Fluent Bit's shutdown, `systemctl restart`, Ctrl-C: the reader is stopping too), only the
lines older than a margin are counted as delivered; the margin is more than the pipe and a
reader's buffers can hold. After a normal end the writer waits for the pipe to drain, so a reader
that dies after the last write is caught as well. A regular file or a terminal has no reader
buffer: what is written there is delivered.
"""

from __future__ import annotations

import bisect
import errno
import fcntl
import os
import select
import stat
import struct
import termios
import time
from array import array
from collections import deque
from collections.abc import Callable

BATCH_BYTES = 64 * 1024  # when stdout is a file or a terminal
WANTED_PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size for unprivileged processes
# The margin of recently written lines counted as undelivered when the reader goes away or a stop
# signal arrives, on top of the pipe's own size: the bytes a reader may hold unparsed (glibc's
# stdio buffer is 4 KiB and Fluent Bit's exec Buf_Size 64 KiB: 1 MiB is far above both), and the
# records it may hold unstored: the shipped exec input's ring buffer (`thread.ring_buffer.capacity`
# in fluent-bit.yaml, sized above a whole export so that no poll can fill it) holds up to 131,072
# records that Fluent Bit has read but not yet put into a chunk. So a poll whose reader goes away
# commits none of the lines it printed: more than an export holds. Re-sending is harmless (sinks
# fold events by id); losing is not.
READER_BUFFER_BYTES = 1 << 20
READER_BUFFER_LINES = 131_072
SOCKET_BUFFER_BYTES = 8 << 20  # a socket's send and receive buffers, which cannot both be read
DRAIN_STALL_SECONDS = 10.0  # after the last write, a reader that takes nothing for this long is stuck
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


class Stopped(Exception):
    """A stop signal arrived before the batch could be written; the batch counts as not written."""


def _unread_bytes(fd: int) -> int:
    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])


class LineWriter:
    """Buffers complete lines and writes them in whole batches; `written` counts the lines written
    whole, `delivered()` those the reader can be trusted to have taken in."""

    def __init__(self, fd: int, max_line_bytes: int, stop_requested: Callable[[], bool]) -> None:
        self.fd = fd
        self.stop_requested = stop_requested
        self.written = 0
        self.bytes_written = 0
        self._batch = bytearray()
        self._batch_lines = 0
        self._queued_bytes = 0
        self._line_ends = array("Q")  # where each line ends, counted in bytes from the first line
        self._capacity: int | None = None
        mode = os.fstat(fd).st_mode
        self._reader_buffer: int | None = None  # bytes that can sit between this writer and the reader
        if stat.S_ISFIFO(mode):
            self._capacity = _pipe_capacity(fd, max_line_bytes)
            self._reader_buffer = self._capacity or WANTED_PIPE_BYTES
        elif stat.S_ISSOCK(mode):
            self._reader_buffer = SOCKET_BUFFER_BYTES
        self._batch_limit = self._capacity // 4 if self._capacity else BATCH_BYTES
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._recent_writes: deque[int] = deque(maxlen=64)  # sizes of our last writes, newest last

    def write(self, line: bytes | memoryview) -> None:
        if self._batch and len(self._batch) + len(line) > self._batch_limit:
            self.flush()
        self._batch += line
        self._batch_lines += 1
        self._queued_bytes += len(line)
        self._line_ends.append(self._queued_bytes)

    def flush(self) -> None:
        """Write the batch, or raise BrokenPipeError (reader gone) / Stopped (a stop signal, with a
        reader that may be going away too); the batch then counts as not written."""
        if not self._batch:
            return
        data = self._batch
        if self._reader_buffer is not None and self.stop_requested():
            raise Stopped()
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
        self.bytes_written += len(data)
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
        while not self.has_room_for(size):
            if self.stop_requested():
                raise Stopped()
            # Writable means the reader is gone (error) or at least a page is free; either way look again.
            _, writable, _ = select.select([], [self.fd], [], 0.05)
            if writable and self._reader_gone():
                raise BrokenPipeError(errno.EPIPE, "stdout was closed")
            time.sleep(0.0005)

    def _reader_gone(self) -> bool:
        poller = select.poll()
        poller.register(self.fd, select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))

    def wait_until_read(self) -> None:
        """After the last write: return once the reader has taken every byte out of the pipe.
        Raise BrokenPipeError when it goes away first (or right after), Stopped on a stop signal,
        TimeoutError when it takes nothing for DRAIN_STALL_SECONDS (alive but stuck)."""
        if self._capacity is None or self.written == 0:
            return
        last_unread, progress_at = -1, time.monotonic()
        while True:
            if self._reader_gone():
                raise BrokenPipeError(errno.EPIPE, "stdout was closed")
            unread = _unread_bytes(self.fd)
            if unread == 0:
                return
            if self.stop_requested():
                raise Stopped()
            now = time.monotonic()
            if unread != last_unread:
                last_unread, progress_at = unread, now
            elif now - progress_at > DRAIN_STALL_SECONDS:
                raise TimeoutError(f"the reader left {unread} bytes unread for {DRAIN_STALL_SECONDS:.0f} s")
            time.sleep(0.002)

    def delivered(self, *, reader_at_risk: bool) -> int:
        """Lines the reader has taken in. With the reader gone or stopping (`reader_at_risk`), the
        lines in the pipe and in its buffers are lost with it: only lines that end more than the
        margin before the last byte written, and are not among the last READER_BUFFER_LINES,
        count. Without a reader buffer (a file, a terminal), every written line counts."""
        if not reader_at_risk or self._reader_buffer is None:
            return self.written
        margin = self._reader_buffer + READER_BUFFER_BYTES
        by_bytes = bisect.bisect_right(self._line_ends, self.bytes_written - margin, 0, self.written)
        return max(0, min(by_bytes, self.written - READER_BUFFER_LINES))
