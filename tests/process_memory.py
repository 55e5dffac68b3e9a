"""Peak memory of a process and all its descendants, sampled from /proc (Linux)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def process_tree(root: int) -> list[int]:
    children = _children_map()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _kib(path: str, key: bytes) -> int:
    try:
        with open(path, "rb") as status:
            for line in status:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


@dataclass
class TreeSample:
    rss_kib: int
    pss_kib: int
    processes: int


@dataclass
class TreeMemorySampler:
    """Samples RSS and PSS summed over `root` and its descendants every `interval` s, in a thread.

    The RSS sum counts pages shared by several processes once per process (the interpreter's
    code, for instance): it is the conservative figure. PSS splits shared pages between their
    users: the memory the tree really takes."""

    root: int
    interval: float = 0.2
    peak_rss_kib: int = 0
    peak_pss_kib: int = 0
    peak_root_rss_kib: int = 0
    peak_processes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> TreeSample:
        pids = process_tree(self.root)
        rss = sum(_kib(f"/proc/{pid}/status", b"VmRSS:") for pid in pids)
        pss = sum(_kib(f"/proc/{pid}/smaps_rollup", b"Pss:") for pid in pids)
        self.peak_root_rss_kib = max(self.peak_root_rss_kib, _kib(f"/proc/{self.root}/status", b"VmRSS:"))
        return TreeSample(rss, pss, len(pids))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            taken = self.sample()
            self.peak_rss_kib = max(self.peak_rss_kib, taken.rss_kib)
            self.peak_pss_kib = max(self.peak_pss_kib, taken.pss_kib)
            self.peak_processes = max(self.peak_processes, taken.processes)

    def __enter__(self) -> TreeMemorySampler:
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
