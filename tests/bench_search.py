"""Benchmark: a backfill through the shipped Fluent Bit config into OpenSearch, against a direct `_bulk`.

Run: `make bench` runs it after bench_poll.py; alone: `.venv/bin/python tests/bench_search.py
--events 20000 --repeat 5` with `fluent-bit` on PATH (e.g. `PATH=/opt/fb/bin:$PATH`). Without a
fluent-bit binary (or without java and mvn for the test node, or curl for the shipped install.sh)
it says why and exits 0: it is a figure for the README, not a test.

Both ways load the same records (what one hf-audit-poll prints for a simulated export) into fresh
indices of the same OpenSearch node (tests/opensearch_node.py), alternately, `--repeat` times:
- direct: the records as the outputs send them (tests/search_assets.bulk_body), in bulk requests
  of `--bulk-mb`, one after another, then a refresh; the bodies are built before the clock starts;
- Fluent Bit: the shipped fluent-bit/ directory, copied, with its sink lines edited as the README
  tells a user to (the opensearch line on, stdout off), HF_AUDIT_INTERVAL_SEC=`--interval`; timed
  from Fluent Bit's start until every record is searchable, less the exec input's first interval (it
  runs the poller only after one interval: a wait, not work). So the poll itself is in Fluent Bit's
  time. The interval (10 s) is longer than a delivery takes: with 1 s, the exec input started a new
  poller process every second while the records were still being indexed, CPU taken from the node
  that a deployment (300 s) does not spend.
Each Fluent Bit run is checked for exactly-once delivery: the index holds as many documents as
records, and their ids are the records' ids. Wall time, and CPU time of the loader (Fluent Bit
with its poller; for direct, this script's own requests) and of the OpenSearch node, are printed.

The machine may be shared, so a figure is a ratio per pair: every Fluent Bit run comes right after
a direct load of its own, and the table gives the median and the range of those ratios over
`--repeat` pairs, with the load average before each pair. `--variant LABEL:SETTING[,SETTING...]`
(repeatable) adds Fluent Bit configs to the same run, each paired the same way; within a
repetition the configs take turns going first. Each pair's indices are deleted after it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import requests

from conftest import ORG, TOKEN, poller_env, run_like_fluent_bit
from fluentbit_harness import FLUENT_BIT, FluentBit
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import SimulatedHub
from opensearch_node import OpenSearchNode, skip_reason
from search_assets import NDJSON_HEADERS, OS_INSTALL, SearchClient, bulk_body

HERE = Path(__file__).resolve().parent
SHIPPED = HERE.parent / "fluent-bit"
TARGET = 1.3  # the aim for Fluent Bit / direct


class BenchError(Exception):
    """A run failed or delivered other than exactly once: its figures would mean nothing."""


@dataclass
class Sample:
    wall: float
    loader_cpu: float
    node_cpu: float
    writes: int  # index operations the node ran: more than the records when bulks were retried
    polls: int = 0  # poller runs that had finished by the time the records were all searchable


@dataclass
class Pair:
    direct: Sample
    fluent: Sample
    load: float  # 1-minute load average just before the pair

    def ratio(self, attr: str = "wall") -> float:
        return float(getattr(self.fluent, attr) / getattr(self.direct, attr))


@dataclass
class Config:
    """One Fluent Bit config measured against direct loads: the shipped one, or a variant of it."""

    name: str
    overrides: list[str]
    pairs: list[Pair] = field(default_factory=list)

    def ratios(self, attr: str = "wall") -> list[float]:
        return [pair.ratio(attr) for pair in self.pairs]


def parse_variant(text: str) -> Config:
    label, _, settings = text.partition(":")
    overrides = [setting.strip() for setting in settings.split(",") if setting.strip()]
    if not label or not overrides or not all(re.fullmatch(r"(service|output)\.[\w.]+=.*", o) for o in overrides):
        raise argparse.ArgumentTypeError(f"{text!r}: expected LABEL:service.KEY=VALUE[,output.KEY=VALUE...]")
    return Config(label, overrides)


def why_skipped() -> str | None:
    if FLUENT_BIT is None:
        return "no fluent-bit binary on PATH (e.g. PATH=/opt/fb/bin:$PATH); no registry ships one"
    if shutil.which("curl") is None:
        return "curl not on PATH (the shipped install.sh uses it)"
    return skip_reason()


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (its reaped children included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def install_template(url: str, prefix: str) -> None:
    """The shipped fluent-bit/opensearch/install.sh (the test node has no Index Management plugin)."""
    env = {"PATH": os.environ["PATH"], "HF_AUDIT_OPENSEARCH_PORT": url.rsplit(":", 1)[1],
           "HF_AUDIT_OPENSEARCH_INDEX_PREFIX": prefix, "HF_AUDIT_OPENSEARCH_ISM": "off"}  # fmt: skip
    result = subprocess.run(["sh", str(OS_INSTALL)], env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise BenchError(f"install.sh failed: {result.stderr[-800:]}")


def searchable(client: SearchClient, prefix: str) -> int:
    """Documents searchable under the prefix; 0 while its indices are being created (a 503)."""
    client.refresh(f"{prefix}-*")
    response = requests.post(f"{client.url}/{prefix}-*/_count", json={}, timeout=60)
    return int(response.json()["count"]) if response.status_code == 200 else 0


def writes_done(url: str, prefix: str) -> int:
    """Index operations the prefix's indices ran, read without a refresh (0 before they exist)."""
    response = requests.get(f"{url}/{prefix}-*/_stats/indexing", timeout=60)
    if response.status_code != 200:
        return 0
    return int(response.json()["_all"]["primaries"].get("indexing", {}).get("index_total", 0))


def indexed_ids(url: str, prefix: str) -> list[str]:
    """Every document id in the prefix's indices (a scroll: more than the 10,000 of one search)."""
    ids: list[str] = []
    response = requests.post(f"{url}/{prefix}-*/_search", params={"scroll": "1m"},
                             json={"size": 10_000, "_source": False, "sort": ["_doc"]}, timeout=120).json()  # fmt: skip
    while hits := response["hits"]["hits"]:
        ids += [hit["_id"] for hit in hits]
        response = requests.post(f"{url}/_search/scroll", json={"scroll": "1m", "scroll_id": response["_scroll_id"]},
                                 timeout=120).json()  # fmt: skip
    return ids


def bulk_bodies(records: list[dict], prefix: str, megabytes: float) -> list[bytes]:
    bodies, batch, size = [], [], 0
    for record in records:
        batch.append(record)
        size += len(orjson.dumps(record))
        if size >= megabytes * 1e6:
            bodies.append(bulk_body(batch, prefix))
            batch, size = [], 0
    if batch:
        bodies.append(bulk_body(batch, prefix))
    return bodies


def run_direct(node: OpenSearchNode, records: list[dict], prefix: str, megabytes: float) -> Sample:
    assert node.url and node.proc
    install_template(node.url, prefix)
    bodies = bulk_bodies(records, prefix, megabytes)
    node_cpu, own_cpu = process_cpu(node.proc.pid), time.process_time()
    started = time.perf_counter()
    with requests.Session() as session:
        for body in bodies:
            answer = session.post(f"{node.url}/_bulk", data=body, headers=NDJSON_HEADERS, timeout=600)
            if answer.status_code != 200 or answer.json()["errors"]:
                raise BenchError(f"direct _bulk failed: {answer.status_code} {answer.text[:800]}")
    count = searchable(SearchClient(node.url), prefix)
    wall = time.perf_counter() - started
    if count != len(records):
        raise BenchError(f"direct _bulk left {count} documents for {len(records)} records")
    writes = SearchClient(node.url).index_total(f"{prefix}-*")
    return Sample(wall, time.process_time() - own_cpu, process_cpu(node.proc.pid) - node_cpu, writes)


def user_config(workdir: Path, overrides: list[str]) -> Path:
    """The shipped fluent-bit/ directory, with the main config's sink lines edited as a user does,
    and `overrides` (service.KEY=VALUE or output.KEY=VALUE, for trying settings) applied."""
    copy = workdir / "fluent-bit"
    shutil.copytree(SHIPPED, copy)
    main = copy / "fluent-bit.yaml"
    for override in overrides:
        where, _, setting = override.partition(".")
        key, _, value = setting.partition("=")
        path, indent = (main, "  ") if where == "service" else (copy / "outputs" / "opensearch.yaml", "      ")
        text, found = re.subn(rf"(?m)^{indent}{re.escape(key)}: .*$", f"{indent}{key}: {value}", path.read_text())
        if not found:
            if where == "service":
                text = text.replace("service:\n", f"service:\n{indent}{key}: {value}\n", 1)
            else:
                text = text.rstrip("\n") + f"\n{indent}{key}: {value}\n"
        path.write_text(text)
    text = main.read_text()
    text, stdout_off = re.subn(r"(?m)^  - outputs/stdout\.yaml$", "  # - outputs/stdout.yaml", text)
    text, opensearch_on = re.subn(r"(?m)^  # - outputs/opensearch\.yaml$", "  - outputs/opensearch.yaml", text)
    if (stdout_off, opensearch_on) != (1, 1):
        raise BenchError("fluent-bit/fluent-bit.yaml no longer has the stdout and opensearch include lines")
    main.write_text(text)
    return main


def run_fluent_bit(node: OpenSearchNode, hub: SimulatedHub, ids: set[str], prefix: str, workdir: Path,
                   timeout: float, overrides: list[str], interval: int) -> Sample:  # fmt: skip
    assert node.url and node.proc
    install_template(node.url, prefix)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=workdir))
    config = user_config(run_dir, overrides)
    env = poller_env(hub.url, run_dir / "state", run_dir)
    env.update({
        "HF_AUDIT_DEADLINE": f"{timeout:.0f}s",
        "HF_AUDIT_INTERVAL_SEC": str(interval),  # the exec input's wait before its first poll
        "HF_AUDIT_FLB_STORAGE_PATH": str(run_dir / "flb-storage"),
        "HF_AUDIT_OPENSEARCH_HOST": "127.0.0.1",
        "HF_AUDIT_OPENSEARCH_PORT": node.url.rsplit(":", 1)[1],
        "HF_AUDIT_OPENSEARCH_INDEX_PREFIX": prefix,
    })  # fmt: skip
    client = SearchClient(node.url)
    fluent_bit = FluentBit(config, env, run_dir / "fluent-bit.log", stdout=run_dir / "fluent-bit.stdout")
    node_cpu = process_cpu(node.proc.pid)
    started = time.perf_counter()
    with fluent_bit:  # stopped with SIGTERM on the way out, as a user's service manager would
        # Waits on the node's write count, then refreshes once, as the direct load does: a refresh
        # every poll would cut the indices into many small segments that the node then merges.
        while writes_done(node.url, prefix) < len(ids) or searchable(client, prefix) < len(ids):
            if not fluent_bit.running:
                raise BenchError(f"fluent-bit exited with {fluent_bit.stop()}: {fluent_bit.log_tail()}")
            if time.perf_counter() - started > timeout + interval:
                raise BenchError(
                    f"{writes_done(node.url, prefix)} writes of {len(ids)} records after {timeout:.0f} s: {fluent_bit.log_tail()}"
                )
            time.sleep(0.1)
        wall = time.perf_counter() - started - interval
        polls = fluent_bit.log_text().count('msg="poll finished"')
        loader_cpu = process_cpu(fluent_bit.pid)
        node_used = process_cpu(node.proc.pid) - node_cpu
    found = indexed_ids(node.url, prefix)
    if len(found) != len(ids) or set(found) != ids:
        raise BenchError(f"not exactly once: {len(found)} documents, {len(set(found))} distinct ids, "
                         f"{len(set(found) ^ ids)} ids differ from the {len(ids)} records")  # fmt: skip
    problems = [line for line in fluent_bit.log_text().splitlines() if "[error]" in line]
    if problems:
        raise BenchError("Fluent Bit logged errors: " + "\n".join(problems[:5]))
    return Sample(wall, loader_cpu, node_used, SearchClient(node.url).index_total(f"{prefix}-*"), polls)


def shipped_output_settings() -> str:
    """The tunable settings of the shipped opensearch output and the service, as printed with the figures."""
    text = (SHIPPED / "outputs" / "opensearch.yaml").read_text() + (SHIPPED / "fluent-bit.yaml").read_text()
    wanted = ("flush", "workers", "buffer_size", "compress", "storage.max_chunks_up", "net.keepalive")
    found = [f"{key}={value.strip()}" for key, value in re.findall(r"(?m)^\s+([\w.]+): (.+)$", text) if key in wanted]
    return ", ".join(found)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def print_table(configs: list[Config], events: int, repeat: int, started_load: str, common: list[str]) -> None:
    load = " ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(
        f"\nhf-audit search benchmark: {events} events into one OpenSearch node, {repeat} pair(s) per config, "
        f"{os.cpu_count()} CPUs; load average at the start {started_load}, at the end {load}"
    )
    print(
        f"shipped output settings: {shipped_output_settings()}"
        + (f"; overridden in every run: {', '.join(common)}" if common else "")
    )
    print(
        f"{'config':<28} {'FB/direct wall: median (range)':>31} {'node cpu':>22} {'direct wall s':>14} "
        f"{'FB wall s':>10} {'load 1m':>11} {'writes':>7}"
    )
    for config in configs:
        directs = [pair.direct.wall for pair in config.pairs]
        fluents = [pair.fluent.wall for pair in config.pairs]
        loads = [pair.load for pair in config.pairs]
        print(
            f"{config.name:<28} {spread(config.ratios()):>31} {spread(config.ratios('node_cpu')):>22} "
            f"{statistics.median(directs):14.2f} {statistics.median(fluents):10.2f} "
            f"{min(loads):5.1f}-{max(loads):<5.1f} {max(pair.fluent.writes for pair in config.pairs):7}"
        )
    for config in configs:
        print(
            f"  {config.name}: "
            + ", ".join(f"{p.direct.wall:.1f}/{p.fluent.wall:.1f} s" for p in config.pairs)
            + (f"  [{', '.join(config.overrides)}]" if config.overrides else "")
        )
    shipped = statistics.median(configs[0].ratios())
    verdict = "met" if shipped <= TARGET else "NOT met"
    print(f"Fluent Bit (shipped) / direct _bulk = {shipped:.2f}x, median of {repeat} pairs -> <= {TARGET}x {verdict}")
    print("exactly once: every Fluent Bit run left one document per record, under the record's id")


@contextmanager
def opensearch_node() -> Iterator[OpenSearchNode]:
    node = OpenSearchNode()
    node.start()
    try:
        yield node
    finally:
        node.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="events in the export (default: %(default)s)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="pairs (direct, then Fluent Bit) per config (default: %(default)s)"
    )
    parser.add_argument(
        "--bulk-mb", type=float, default=5.0, help="size of a direct bulk request (default: %(default)s)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="service.KEY=VALUE|output.KEY=VALUE",
        help="try a setting other than the shipped one in every Fluent Bit run (repeatable)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        type=parse_variant,
        metavar="LABEL:SETTING[,SETTING...]",
        help="also measure the shipped config with these settings, e.g. flush2:service.flush=2 (repeatable)",
    )
    parser.add_argument(
        "--interval",
        type=int,
        default=10,
        help="HF_AUDIT_INTERVAL_SEC for Fluent Bit runs; keep it above a delivery's time (default: %(default)s)",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds one load may take (default: %(default)s)")
    args = parser.parse_args(argv)
    if reason := why_skipped():
        print(f"search benchmark skipped: {reason}")
        return 0
    started_load = " ".join(f"{figure:.2f}" for figure in os.getloadavg())
    end = datetime.now(UTC) - timedelta(minutes=5)
    events = generate_events(args.events, seed=42, end=end, span=timedelta(days=60))
    configs = [Config("shipped", []), *args.variant]
    with (
        tempfile.TemporaryDirectory(prefix="hf-audit-bench-search-") as tmp,
        SimulatedHub(org=ORG, token=TOKEN, events=events, limit=max(args.events, 1)) as hub,
        opensearch_node() as node,
    ):
        assert node.url
        workdir = Path(tmp)
        run = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, workdir / "state", workdir))
        if run.returncode != 0 or len(run.records) != args.events:
            raise BenchError(f"the poll printed {len(run.records)} records: {run.stderr[-800:]}")
        records = run.records
        ids = {record["id"] for record in records}
        run_direct(node, records, "bench-warmup", args.bulk_mb)  # the node's first writes are slow (JIT, mappings)
        delete_indices(node.url, "bench-warmup")
        for repetition in range(args.repeat):
            shift = repetition % len(configs)  # each config goes first in turn: no config always follows another
            for number, config in enumerate(configs[shift:] + configs[:shift]):
                load = os.getloadavg()[0]
                prefix = f"bench-{repetition}-{number}"
                direct = run_direct(node, records, f"{prefix}-direct", args.bulk_mb)
                fluent = run_fluent_bit(node, hub, ids, f"{prefix}-fb", workdir, args.timeout, args.set + config.overrides,
                                        args.interval)  # fmt: skip
                config.pairs.append(Pair(direct, fluent, load))
                delete_indices(node.url, prefix)
                print(
                    f"repetition {repetition + 1}, {config.name}: direct {direct.wall:.2f} s, Fluent Bit "
                    f"{fluent.wall:.2f} s = {fluent.wall / direct.wall:.2f}x (load {load:.1f}; node cpu "
                    f"{direct.node_cpu:.1f}/{fluent.node_cpu:.1f} s; Fluent Bit cpu {fluent.loader_cpu:.1f} s; "
                    f"{fluent.polls} poll(s))",
                    flush=True,
                )
    print_table(configs, args.events, args.repeat, started_load, args.set)
    return 0


def delete_indices(url: str, prefix: str) -> None:
    """A pair's indices go once measured: the node's heap and disk stay the same for every pair."""
    requests.delete(f"{url}/{prefix}-*", timeout=120).raise_for_status()


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BenchError as exc:
        sys.exit(f"search benchmark failed: {exc}")
