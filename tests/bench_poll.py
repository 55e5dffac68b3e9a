"""Benchmark: hf-audit-poll against its lower bound and its peers, on a simulated export.

Run: `make bench` (= `.venv/bin/python tests/bench_poll.py --events 100000 --repeat 3`); a quick
look: `--events 20000 --repeat 1`. Not a test: it prints figures for the README's Performance
section, then the ratios and the issue's targets for each workload (a full poll at most 1.6x the
lower bound, best of the repetitions; a steady poll under 10% of a full one; peak RSS under 150
MB), each marked met or not met, with the load average (wall times are only comparable within a
run on a shared machine).

What is measured, each as its own process(es), `--repeat` times (median, and the min-max range of
wall time):
- our poll: a full backfill (fresh state), then a steady-state poll with no new event, then one
  after the Hub got 100 new events; for a newest-first and an oldest-first export;
- enrichment: a full backfill of the newest-first export with both MaxMind databases set (City and
  ASN, small files written by tests/ip_databases.py for the simulated Hub's addresses), against
  the same backfill without them;
- the floor: a process that only starts Python and imports requests, orjson and pydantic's
  BaseModel, which any poll of this design loads; no steady-state poll can cost less;
- the lower bound: the same body (fetched once) parsed and each event serialized by the fastest
  JSON library here (orjson, and msgspec when installed), nothing else (tests/peers/lower_bound.py);
- a second workload, rich data (`hf-audit-simhub --data rich`: nested data, lists of objects, 10
  to 40 leaves per event, plugin/simhub/richdata.py): our poll (newest-first: full, steady, +100)
  and its lower bound, back to back in each repetition; --skip-rich leaves it out;
- the peers: `curl | jq` with tests/peers/hf_audit.jq (the same 51 columns), and helr (a Rust
  HTTP API log collector) when a `helr` binary is found (--helr, $HELR, PATH, ~/.cargo/bin).
Each process runs under tests/peers/measure.py, which reports its own wall time, CPU time and
peak RSS (ru_maxrss); a pipeline's RSS is the sum over its processes, its wall time the longest.
The Hub runs in a process of its own, so no measured process inherits its pages. Every run is
bounded by --timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ip_databases import IpDatabases, build_databases

TOKEN = "hf_benchmark_token_0000"
ORG = "acme"
ORDERS = ("newest-first", "oldest-first")
NEW_EVENTS = 100
HERE = Path(__file__).resolve().parent
JQ_FILTER = HERE / "peers" / "hf_audit.jq"
LOWER_BOUND = HERE / "peers" / "lower_bound.py"
MEASURE = HERE / "peers" / "measure.py"
BIN_DIR = Path(sys.executable).parent
MB = 1_000_000
RSS_TARGET_MB = 150
LOWER_BOUND_TARGET = 1.6  # a full poll costs at most this many times the lower bound
STEADY_TARGET = 0.10  # a poll with nothing new costs under this share of a full poll
RICH = "rich data"  # the second workload: nested data, 10 to 40 leaves (plugin/simhub/richdata.py)
RICH_SUFFIX = f", {RICH}"
ENRICHED_ROW = "ours: full + City & ASN DBs, newest-first"
# What any poll of this design loads before its first line of its own: Python, requests, orjson and
# pydantic's BaseModel. The steady state can cost no less, so it bounds the steady-state share.
FLOOR_ROW = "floor: Python + requests, orjson, pydantic"
FLOOR_IMPORTS = "import requests, orjson; from pydantic import BaseModel"
ENRICHMENT_BUDGET = 0.10  # a backfill with both MaxMind databases costs at most 10% more


class BenchError(Exception):
    """A measured run failed or printed the wrong number of lines: its figures would mean nothing."""


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mib: float
    lines: int
    summary: dict[str, str] = field(default_factory=dict)


@dataclass
class Row:
    name: str
    samples: list[Sample] = field(default_factory=list)
    note: str = ""

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)

    @property
    def wall(self) -> float:
        return self.median("wall")

    def best(self, attr: str = "wall") -> float:
        """The least of the repetitions: on a shared machine the run least slowed by others."""
        return min(getattr(s, attr) for s in self.samples)


# --- measuring processes ------------------------------------------------------------------


def measure(commands: Sequence[Sequence[str]], env: dict[str, str], timeout: float) -> Sample:
    """Run `commands` as a pipeline, count the last one's stdout lines, and return its cost:
    wall time (the longest of the processes'), CPU (user+system) and peak RSS summed over the
    processes. Each runs under tests/peers/measure.py, so its figures are its own."""
    procs: list[subprocess.Popen[bytes]] = []
    stderr_files = [tempfile.TemporaryFile() for _ in commands]
    stats_files = [tempfile.NamedTemporaryFile(prefix="stats-", delete=False) for _ in commands]
    upstream: int | IO[bytes] | None = subprocess.DEVNULL
    for argv, err, stats in zip(commands, stderr_files, stats_files, strict=True):
        program = shutil.which(argv[0]) or argv[0]
        proc = subprocess.Popen(
            [sys.executable, "-S", str(MEASURE), stats.name, program, *argv[1:]],
            env=env, stdin=upstream, stdout=subprocess.PIPE, stderr=err, process_group=0,
        )
        if procs:
            assert procs[-1].stdout is not None
            procs[-1].stdout.close()  # only the next process holds it now: SIGPIPE reaches the writer
        upstream = proc.stdout
        procs.append(proc)
    timer = threading.Timer(timeout, kill_all, [[p.pid for p in procs]])
    timer.start()
    lines = 0
    try:
        out = procs[-1].stdout
        assert out is not None
        for chunk in iter(lambda: out.read(1 << 20), b""):
            lines += chunk.count(b"\n")
        out.close()
        statuses = [proc.wait() for proc in procs]
        timed_out = not timer.is_alive()
    finally:
        timer.cancel()
    stderr_texts = []
    for err in stderr_files:
        err.seek(0)
        stderr_texts.append(err.read().decode("utf-8", "replace"))
        err.close()
    figures = []
    for stats in stats_files:
        stats.close()
        figures.append(Path(stats.name).read_text().split())
        os.unlink(stats.name)
    for argv, status, text, numbers in zip(commands, statuses, stderr_texts, figures, strict=True):
        if status != 0 or len(numbers) != 3:
            reason = f"timed out after {timeout:.0f} s" if timed_out else f"exit status {status}"
            raise BenchError(f"{Path(argv[0]).name} failed ({reason}): {text.strip()[-800:]}")
    wall = max(float(n[0]) for n in figures)
    cpu = sum(float(n[1]) for n in figures)
    rss = sum(int(n[2]) for n in figures) / 1024  # ru_maxrss is in KiB on Linux
    return Sample(wall, cpu, rss, lines, poll_summary(stderr_texts[-1]))


def kill_all(group_leaders: list[int]) -> None:
    """SIGKILL each launcher's process group: the launcher and the command it runs."""
    for pid in group_leaders:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def poll_summary(stderr: str) -> dict[str, str]:
    """The key=value fields of hf-audit-poll's summary line (empty for other programs)."""
    for line in stderr.splitlines():
        if "event=poll_summary" in line:
            return dict(re.findall(r"(\w+)=(\S+)", line))
    return {}


# --- the simulated Hub --------------------------------------------------------------------


@dataclass
class Hub:
    url: str

    @property
    def export_url(self) -> str:
        return f"{self.url}/api/organizations/{ORG}/audit-log/export"

    def _request(self, url: str, method: str = "GET", gzip: bool = False) -> bytes:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        if gzip:
            headers["Accept-Encoding"] = "gzip"
        request = urllib.request.Request(url, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310 (loopback)
            return response.read()

    def add_events(self, count: int) -> None:
        self._request(f"{self.url}/_sim/events?count={count}", method="POST")

    def body(self) -> bytes:
        """The export as the Hub sends it to a client asking for gzip. Also warms the Hub's
        cache (it serializes and gzips an export on the first request after a change), so a
        measured poll does not pay for the Hub's own work."""
        return self._request(self.export_url, gzip=True)


@contextmanager
def running_hub(events: int, order: str, timeout: float, data_profile: str = "plain") -> Iterator[Hub]:
    hub = subprocess.Popen(
        [str(BIN_DIR / "hf-audit-simhub"), "--port", "0", "--events", str(events), "--seed", "42",
         "--order", order, "--limit", str(events), "--token", TOKEN, "--org", ORG, "--data", data_profile],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert hub.stdout is not None
        ready, _, _ = select.select([hub.stdout], [], [], timeout)
        line = hub.stdout.readline() if ready else ""
        if "listening on " not in line:
            raise BenchError(f"the simulated hub did not start within {timeout:.0f} s")
        yield Hub(line.split("listening on ")[1].split()[0])
    finally:
        hub.terminate()
        try:
            hub.wait(timeout=10)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()


# --- what is measured ---------------------------------------------------------------------


def base_env(work: Path) -> dict[str, str]:
    return {
        "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(work),
        "HF_TOKEN": TOKEN,
        "LANG": "C.UTF-8",
    }


def expect_lines(sample: Sample, expected: int, what: str) -> Sample:
    if sample.lines != expected:
        raise BenchError(f"{what} printed {sample.lines} lines, expected {expected}")
    return sample


def bench_floor(rows: dict[str, Row], work: Path, timeout: float) -> None:
    rows[FLOOR_ROW].samples.append(expect_lines(measure([[sys.executable, "-c", FLOOR_IMPORTS]], base_env(work), timeout), 0, "floor"))


def bench_enriched(hub: Hub, events: int, rows: dict[str, Row], work: Path, timeout: float, databases: IpDatabases) -> None:
    """A full backfill with HF_AUDIT_GEOIP_CITY_DB and HF_AUDIT_GEOIP_ASN_DB set."""
    state = Path(tempfile.mkdtemp(prefix="state-", dir=work))
    env = {
        **base_env(work), "HF_ORG": ORG, "HF_ENDPOINT": hub.url, "HF_AUDIT_STATE_DIR": str(state),
        "HF_AUDIT_LOG_LEVEL": "info", "HF_AUDIT_DEADLINE": f"{timeout:.0f}s",
        "HF_AUDIT_GEOIP_CITY_DB": str(databases.city), "HF_AUDIT_GEOIP_ASN_DB": str(databases.asn),
    }  # fmt: skip
    hub.body()  # warm the Hub's cache
    full = expect_lines(measure([[str(BIN_DIR / "hf-audit-poll")]], env, timeout), events, "enriched full poll")
    rows[ENRICHED_ROW].samples.append(full)
    shutil.rmtree(state)


def bench_ours(hub: Hub, order: str, events: int, rows: dict[str, Row], work: Path, timeout: float, suffix: str = "") -> None:
    """One repetition: full backfill, steady with no new event, steady after NEW_EVENTS new ones."""
    state = Path(tempfile.mkdtemp(prefix="state-", dir=work))
    env = {
        **base_env(work), "HF_ORG": ORG, "HF_ENDPOINT": hub.url, "HF_AUDIT_STATE_DIR": str(state),
        "HF_AUDIT_LOG_LEVEL": "info", "HF_AUDIT_DEADLINE": f"{timeout:.0f}s",
    }
    poll = [str(BIN_DIR / "hf-audit-poll")]
    hub.body()  # warm the Hub's cache
    full = expect_lines(measure([poll], env, timeout), events, f"full poll ({order})")
    rows[f"ours: full backfill, {order}{suffix}"].samples.append(full)
    steady = expect_lines(measure([poll], env, timeout), 0, f"steady poll ({order})")
    rows[f"ours: steady, no new, {order}{suffix}"].samples.append(steady)
    hub.add_events(NEW_EVENTS)
    hub.body()
    steady_new = expect_lines(measure([poll], env, timeout), NEW_EVENTS, f"steady poll +{NEW_EVENTS} ({order})")
    rows[f"ours: steady, +{NEW_EVENTS} new, {order}{suffix}"].samples.append(steady_new)
    shutil.rmtree(state)


def json_libraries() -> list[str]:
    """orjson (a dependency), and msgspec when installed (`pip install msgspec`): the faster counts."""
    return ["orjson"] + (["msgspec"] if importlib.util.find_spec("msgspec") else [])


def bench_lower_bound(hub: Hub, events: int, rows: dict[str, Row], work: Path, timeout: float, suffix: str = "") -> None:
    body = work / "export.json.gz"
    body.write_bytes(hub.body())
    env = base_env(work)
    for lib in json_libraries():
        argv = [sys.executable, str(LOWER_BOUND), "--body", str(body), "--lib", lib]
        rows[f"lower bound: {lib}{suffix}"].samples.append(expect_lines(measure([argv], env, timeout), events, lib))
    fastest = min(json_libraries(), key=lambda lib: rows[f"lower bound: {lib}{suffix}"].wall)
    argv = [sys.executable, str(LOWER_BOUND), "--url", hub.export_url, "--lib", fastest]
    rows[f"lower bound + HTTP GET{suffix}"].samples.append(expect_lines(measure([argv], env, timeout), events, "GET"))


def bench_jq(hub: Hub, events: int, rows: dict[str, Row], work: Path, timeout: float, jq: str, curl: str) -> None:
    # The same as `curl -s --compressed -H "Authorization: Bearer $HF_TOKEN" URL | jq -c -f hf_audit.jq`;
    # argv carries the (benchmark) token so that no shell process is counted.
    fetch = [curl, "-s", "--compressed", "-H", f"Authorization: Bearer {TOKEN}", hub.export_url]
    sample = measure([fetch, [jq, "-c", "-f", str(JQ_FILTER)]], base_env(work), timeout)
    rows["peer: curl | jq"].samples.append(expect_lines(sample, events, "curl | jq"))


HELR_CONFIG = """\
# One source: the simulated Hub's export, one GET, no pagination; state in memory.
global:
  log_level: warn
  state:
    backend: memory
sources:
  hf-audit:
    url: "{url}"
    auth:
      type: bearer
      token_env: HF_TOKEN
    resilience:
      timeout_secs: {timeout}
    dedupe:
      id_path: _id
      capacity: 200000
    transform:
      timestamp_field: createdAt
      id_field: _id
"""


def bench_helr(hub: Hub, events: int, rows: dict[str, Row], work: Path, timeout: float, helr: str) -> None:
    config = work / "helr.yaml"
    config.write_text(HELR_CONFIG.format(url=hub.export_url, timeout=int(timeout)))
    sample = measure([[helr, "run", "--once", "--config", str(config)]], base_env(work), timeout)
    row = rows["peer: helr run --once"]
    row.samples.append(sample)
    if sample.lines != events:
        row.note = f"printed {sample.lines} lines for {events} events"


def find_helr(given: str | None) -> str | None:
    for candidate in (given, os.environ.get("HELR"), shutil.which("helr"), str(Path.home() / ".cargo/bin/helr")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


# --- report -------------------------------------------------------------------------------


def print_table(rows: dict[str, Row]) -> None:
    print(f"{'':<48} {'wall s (median, range)':>24} {'cpu s':>7} {'peak RSS MiB':>13} {'lines':>7} "
          f"{'read':>7} {'events/s':>9}")
    for row in rows.values():
        if not row.samples:
            continue
        walls = [s.wall for s in row.samples]
        lines = row.samples[0].lines
        read = row.samples[0].summary.get("exported", "")
        rate = f"{lines / row.wall:9.0f}" if lines else f"{'-':>9}"
        stopped = "*" if row.samples[0].summary.get("stopped_early") == "true" else " "
        print(f"{row.name:<48} {row.wall:8.2f} ({min(walls):6.2f}-{max(walls):6.2f}) {row.median('cpu'):7.2f} "
              f"{max(s.rss_mib for s in row.samples):13.1f} {lines:>7} {read:>6}{stopped} {rate}"
              + (f"  ({row.note})" if row.note else ""))
    print("read: events of the export the poll looked at; *: stopped early (stopped_early=true)")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def ratio(ours: Row, other: Row) -> str:
    return f"{ours.wall / other.wall:.2f}x (CPU {ours.median('cpu') / other.median('cpu'):.2f}x)"


def best_ratio(ours: Row, other: Row) -> tuple[float, float]:
    """Wall and CPU ratios of the best (least) repetitions: each repetition measures both rows
    back to back, so the best of each saw the least interference from other load."""
    return ours.best() / other.best(), ours.best("cpu") / other.best("cpu")


def print_workload_targets(rows: dict[str, Row], suffix: str, label: str) -> None:
    """The issue's targets for one workload: full poll vs lower bound, steady vs full, peak RSS."""
    full = rows[f"ours: full backfill, newest-first{suffix}"]
    lower = min((rows[f"lower bound: {lib}{suffix}"] for lib in json_libraries()), key=lambda row: row.best())
    wall, cpu = best_ratio(full, lower)
    print(f"targets, {label} (best of {len(full.samples)}; wall and CPU measured in the same run)")
    print(f"  full poll <= {LOWER_BOUND_TARGET}x lower bound ({lower.name.split(': ')[1]}): {full.best():.2f} s vs "
          f"{lower.best():.2f} s = {wall:.2f}x (CPU {cpu:.2f}x) -> {verdict(wall <= LOWER_BOUND_TARGET)}")
    for order in ORDERS:
        base = rows.get(f"ours: full backfill, {order}{suffix}")
        if base is None or not base.samples:
            continue
        steady = rows[f"ours: steady, no new, {order}{suffix}"]
        share = steady.best() / base.best()
        print(f"  steady (no new) < {STEADY_TARGET:.0%} of full, {order}: {steady.best():.2f} s = {share:.1%} "
              f"(CPU {steady.best('cpu') / base.best('cpu'):.1%}) -> {verdict(share < STEADY_TARGET)}")
        new = rows[f"ours: steady, +{NEW_EVENTS} new, {order}{suffix}"]
        print(f"  (steady, +{NEW_EVENTS} new, {order}: {new.best() / base.best():.1%} of full)")
    floor = rows[FLOOR_ROW]
    if floor.samples:
        print(f"  (the floor of any poll, {FLOOR_IMPORTS!r}: {floor.best():.2f} s = {floor.best() / full.best():.1%} "
              f"of full; a steady share under {STEADY_TARGET:.0%} needs a full poll above {floor.best() / STEADY_TARGET:.2f} s "
              "even if the poll's own imports and work took nothing)")
    ours = [row for name, row in rows.items() if name.startswith("ours:") and name.endswith(suffix) and row.samples]
    if not suffix:
        ours = [row for row in ours if not row.name.endswith(RICH_SUFFIX)]
    peak = max(s.rss_mib for row in ours for s in row.samples)
    peak_mb = peak * 1024 * 1024 / MB
    print(f"  peak RSS < {RSS_TARGET_MB} MB: {peak_mb:.1f} MB ({peak:.1f} MiB) -> {verdict(peak_mb < RSS_TARGET_MB)}")


def print_ratios(rows: dict[str, Row], helr_status: str) -> None:
    full = rows["ours: full backfill, newest-first"]
    libs = [rows[f"lower bound: {lib}"] for lib in json_libraries()]
    lower = min(libs, key=lambda row: row.wall)
    jq = rows["peer: curl | jq"]
    helr = rows["peer: helr run --once"]
    print("\nratios (wall time, medians; ours = full backfill poll of the newest-first export)")
    print(f"  full poll / lower bound ({lower.name.split(': ')[1]}) = {ratio(full, lower)}")
    print(f"  full poll / lower bound + HTTP GET = {ratio(full, rows['lower bound + HTTP GET'])}")
    rich_full, rich_lower = rows[f"ours: full backfill, newest-first{RICH_SUFFIX}"], rows[f"lower bound: orjson{RICH_SUFFIX}"]
    if rich_full.samples:
        print(f"  {RICH}: full poll / lower bound (orjson) = {ratio(rich_full, rich_lower)}")
    if jq.samples:
        print(f"  full poll / curl|jq = {ratio(full, jq)}")
    if helr.samples:
        print(f"  full poll / helr = {ratio(full, helr)}")
    else:
        print(f"  full poll / helr: not measured ({helr_status})")
    print()
    print_workload_targets(rows, "", "today's data")
    if rich_full.samples:
        print_workload_targets(rows, RICH_SUFFIX, RICH)
    print("other targets")
    if jq.samples:
        print(f"  faster than curl|jq: {full.wall:.2f} s vs {jq.wall:.2f} s -> {verdict(full.wall < jq.wall)}")
    else:
        print("  faster than curl|jq: not measured (--skip-peers)")
    enriched = rows[ENRICHED_ROW]
    extra = enriched.wall / full.wall - 1
    print(
        f"  full poll with City & ASN databases <= +{ENRICHMENT_BUDGET:.0%}: {enriched.wall:.2f} s vs {full.wall:.2f} s, "
        f"{extra:+.1%} (CPU {enriched.median('cpu') / full.median('cpu') - 1:+.1%}) -> {verdict(extra <= ENRICHMENT_BUDGET)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="events in the export (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each measurement (default: %(default)s)")
    parser.add_argument("--skip-peers", action="store_true", help="measure only ours and the lower bound")
    parser.add_argument("--skip-rich", action="store_true", help=f"leave out the second workload ({RICH})")
    parser.add_argument("--helr", help="path of the helr binary (default: $HELR, PATH, ~/.cargo/bin/helr)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds any one run may take (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        parser.error("--events and --repeat must be at least 1")
    jq, curl = shutil.which("jq"), shutil.which("curl")
    helr = find_helr(args.helr)
    helr_status = "skipped (--skip-peers)" if args.skip_peers else ("found at " + helr if helr else "no helr binary found")
    names = [f"ours: {kind}, {order}" for order in ORDERS
             for kind in ("full backfill", "steady, no new", f"steady, +{NEW_EVENTS} new")]
    names.insert(1, ENRICHED_ROW)
    names.append(FLOOR_ROW)
    names += [f"lower bound: {lib}" for lib in json_libraries()] + ["lower bound + HTTP GET"]
    names += [f"ours: {kind}, newest-first{RICH_SUFFIX}" for kind in ("full backfill", "steady, no new", f"steady, +{NEW_EVENTS} new")]
    names += [f"lower bound: {lib}{RICH_SUFFIX}" for lib in json_libraries()] + [f"lower bound + HTTP GET{RICH_SUFFIX}"]
    names += ["peer: curl | jq", "peer: helr run --once"]
    rows = {name: Row(name) for name in names}
    started = time.perf_counter()
    start_load = " ".join(f"{figure:.2f}" for figure in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="hf-audit-bench-") as tmp:
        work = Path(tmp)
        databases = build_databases(work / "ipdb")
        for order in ORDERS:
            with running_hub(args.events, order, args.timeout) as hub:
                for _ in range(args.repeat):
                    bench_ours(hub, order, args.events, rows, work, args.timeout)
                    if order != "newest-first":
                        continue  # the others do not depend on the order: measured once per repetition
                    bench_enriched(hub, args.events, rows, work, args.timeout, databases)
                    bench_floor(rows, work, args.timeout)
                    bench_lower_bound(hub, args.events, rows, work, args.timeout)
                    if args.skip_peers:
                        continue
                    if jq and curl:
                        bench_jq(hub, args.events, rows, work, args.timeout, jq, curl)
                    if helr:
                        bench_helr(hub, args.events, rows, work, args.timeout, helr)
        if not args.skip_rich:
            with running_hub(args.events, "newest-first", args.timeout, data_profile="rich") as hub:
                for _ in range(args.repeat):  # the poll and its lower bound back to back, each repetition
                    bench_ours(hub, "newest-first", args.events, rows, work, args.timeout, RICH_SUFFIX)
                    bench_lower_bound(hub, args.events, rows, work, args.timeout, RICH_SUFFIX)
    load = " ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(f"\nhf-audit benchmark: {args.events} events (simulated Hub, seed 42, gzip), {args.repeat} repetition(s), "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; took {time.perf_counter() - started:.0f} s; "
          f"load average at the end {load} (at the start {start_load})")
    print(f"workloads: today's data (the simulated Hub's), and {RICH} (`hf-audit-simhub --data rich`: nested data, "
          "lists of objects, 10 to 40 leaves per event)")
    print_table(rows)
    if not args.skip_peers:
        if not (jq and curl):
            print("curl | jq: not measured (jq or curl not on PATH)")
        print(f"helr: {helr_status}")
        print("curl | jq does not: dedupe (within or across runs), checkpoint, order events, bound line length, "
              "skip malformed events; its id is not a UUID and the whole body is held in memory")
        if helr:
            print("helr prints each raw event in an envelope (ts, source, endpoint, event, meta.id), not the 51 "
                  "columns; it asks for no gzip (the body comes uncompressed); its dedupe is in memory, so every "
                  "`--once` run prints the whole export again (a steady-state poll costs it a full one)")
    print_ratios(rows, helr_status)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BenchError as exc:
        sys.exit(f"benchmark failed: {exc}")
