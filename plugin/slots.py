"""Poll slots: at most K polls of one state directory download or print at once.

Fluent Bit starts every exec input of a fleet at the same moment, so N organizations backfilling
at once means N downloads, N parsers and N streams of records into one Fluent Bit. The slots
make them queue instead: a poll holds one of K slot files, `<state dir>/_poll-slot-<i>.lock`,
locked with flock(2), for its whole run. The kernel drops the lock when the process ends, however
it ends (SIGKILL, OOM), so a slot is never left taken by a dead poll.

This module runs before the poller imports anything heavy: a poll waiting here stays a bare
interpreter (about 11 MB), which is what keeps a fleet's memory bounded. So it uses fcntl
directly rather than the filelock package (importing filelock alone costs 8 MB a process), and
nothing beyond the standard library's cheapest modules (not even dataclasses: 1.5 MB).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Callable

SLOT_FILE_PREFIX = "_poll-slot-"  # no organization name starts with "_", so no clash with <org>.lock
SLOT_FILE_SUFFIX = ".lock"


class SlotTimeout(Exception):
    """Every slot stayed taken for the whole timeout."""


def slot_file_name(index: int) -> str:
    return f"{SLOT_FILE_PREFIX}{index}{SLOT_FILE_SUFFIX}"


class Slot:
    """A held slot: `release()` (or the process ending) frees it."""

    __slots__ = ("index", "path", "fd", "waited_seconds")

    def __init__(self, index: int, path: str, fd: int, waited_seconds: float = 0.0) -> None:
        self.index = index
        self.path = path
        self.fd = fd
        self.waited_seconds = waited_seconds

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the only descriptor of the open file drops its flock
            self.fd = -1


class PollSlots:
    """K slot files in a directory; `acquire()` takes any free one, waiting while all are taken.

    Waiting polls retry every `retry_seconds` (with a little per-process jitter so that waiters do
    not wake in lockstep); there is no queue order: whichever waiter looks first after a slot
    frees takes it.
    """

    def __init__(
        self,
        directory: str,
        count: int,
        *,
        retry_seconds: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if count < 1:
            raise ValueError("a semaphore needs at least one slot")
        self.directory = directory
        self.count = count
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._sleep = sleep
        # Each process starts its scan at a different slot: fewer collisions on slot 1.
        self._first = os.getpid() % count

    def paths(self) -> list[str]:
        return [os.path.join(self.directory, slot_file_name(i + 1)) for i in range(self.count)]

    def try_acquire(self) -> Slot | None:
        """A free slot, taken; None when all K are held. OSError when the directory is unusable."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        paths = self.paths()
        for offset in range(self.count):
            index = (self._first + offset) % self.count
            fd = os.open(paths[index], os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue
                raise
            return Slot(index + 1, paths[index], fd, 0.0)
        return None

    def acquire(self, timeout: float | None, on_wait: Callable[[], None] | None = None) -> Slot:
        """Take a slot, waiting up to `timeout` seconds (None: for as long as it takes).

        `on_wait` is called once, when the first try finds every slot taken.
        """
        started = self._clock()
        jitter = (os.getpid() % 7) / 70  # 0 to 0.086 of a retry period
        waited_once = False
        while True:
            slot = self.try_acquire()
            if slot is not None:
                slot.waited_seconds = self._clock() - started
                return slot
            if not waited_once:
                waited_once = True
                if on_wait is not None:
                    on_wait()
            if timeout is not None and self._clock() - started >= timeout:
                raise SlotTimeout(f"all {self.count} poll slots in {self.directory} stayed taken for {timeout:g} s")
            self._sleep(self.retry_seconds * (1 + jitter))
