"""Run one command and write its own wall time, CPU time and peak RSS to a file (like GNU time).

Usage: python -S measure.py STATS_FILE PROGRAM [ARG...]   (PROGRAM an absolute path)

Why a launcher: on Linux a process's peak RSS (ru_maxrss) starts at the resident size of the
process that spawned it (the kernel records the old memory map's high-water mark at exec). Spawned
straight from the benchmark, which holds the export body, every figure would include the
benchmark's own size. This launcher is a bare interpreter (about 9 MB), so that is the floor.
stdin, stdout and stderr pass through; the exit status is the command's.
"""

import os
import sys
import time


def main() -> int:
    stats_path, argv = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    with open(stats_path, "w") as stats:
        stats.write(f"{wall} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}\n")
    return os.waitstatus_to_exitcode(status) % 256


if __name__ == "__main__":
    sys.exit(main())
