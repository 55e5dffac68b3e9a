"""One fleet run: N organizations backfilling at once through a real Fluent Bit into ClickHouse (chdb).

The config is what a user deploys: `hf-audit-fleet`'s inputs (the shipped exec input once per
organization, each with its own token file), the shipped service section, parser, ClickHouse
output and monitoring config (scraped every second here instead of every 30 s). Optionally a
high-rate `dummy` input of the shipper's own beside it, into a `null` output. Used by
tests/test_fleet_fluentbit.py (assertions) and tests/bench_fleet.py (the README's figures).
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from chdb_http_endpoint import ChdbHttpEndpoint, create_table
from clickhouse_shipped import DDL_FILE, OUTPUT_YAML, STRICT_SERVER, TABLE
from conftest import BIN_DIR, REPO
from fluentbit_harness import FluentBit
from hf_audit.fleet import Organization, render
from hf_audit.normalize import record_id
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import SimulatedFleet, SimulatedHub
from process_memory import TreeMemorySampler

FLB_DIR = REPO / "fluent-bit"
DATABASE = "hf_audit_fleet"
DROP_LOG_LINE = "could not enqueue records into the ring buffer"
STALL_LUA = """
stalled = false
function stall_once(tag, timestamp, record)
    if not stalled then
        stalled = true
        os.execute("sleep SECONDS")
    end
    return 0, timestamp, record
end
"""
RING_METRICS = (
    "fluentbit_input_ring_buffer_writes_total",
    "fluentbit_input_ring_buffer_retries_total",
    "fluentbit_input_ring_buffer_retry_failures_total",
)


@dataclass(frozen=True)
class FleetSpec:
    orgs: int
    events: int  # per organization
    busy_rate: int = 0  # records/s of a dummy input beside the fleet; 0: none
    poll_slots: int | None = None  # HF_AUDIT_POLL_SLOTS; None: the poller's default
    shipped_ring_buffer: bool = True  # False: Fluent Bit's default of 1,024 slots (the old config)
    stall_engine_seconds: int = 0  # > 0: a Lua filter blocks Fluent Bit's engine thread this long, once
    interval_sec: int = 10
    limit_seconds: float = 600
    # No new row for this long, after some arrived: stop waiting (records were lost). Generous:
    # on a loaded machine queued polls can leave the table idle for a while.
    idle_seconds: float = 120


@dataclass
class FleetResult:
    spec: FleetSpec
    expected_ids: set[str]
    stored_ids: set[str]  # the ids in the table
    posted_ids: list[str]  # one per record Fluent Bit posted: a record sent twice shows as a repeat
    seconds_to_all: float | None  # from the first poll (one interval after start) to the last event stored
    log: str
    ring_counters: dict[str, float]  # summed over the hf_audit.* inputs
    busy_records: float
    peak_rss_mib: float
    peak_pss_mib: float
    peak_fluent_bit_rss_mib: float
    peak_processes: int
    poll_summaries: list[str] = field(default_factory=list)

    @property
    def missing(self) -> set[str]:
        return self.expected_ids - self.stored_ids

    @property
    def duplicates(self) -> int:
        return len(self.posted_ids) - len(set(self.posted_ids))

    @property
    def drop_lines(self) -> int:
        return self.log.count(DROP_LOG_LINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def org_names(count: int) -> list[str]:
    return [f"fleet-org-{i:02d}" for i in range(1, count + 1)]


def write_config(work: Path, spec: FleetSpec, orgs: list[Organization]) -> Path:
    inputs = render(orgs, "yaml", inputs_only=True)
    if not spec.shipped_ring_buffer:
        inputs = re.sub(r"^\s*thread\.ring_buffer\.capacity: .*\n", "", inputs, flags=re.MULTILINE)
    (work / "inputs.yaml").write_text(inputs)
    monitoring = (FLB_DIR / "monitoring.yaml").read_text().replace("scrape_interval: 30s", "scrape_interval: 1s")
    (work / "monitoring.yaml").write_text(monitoring)
    main = yaml.safe_load((FLB_DIR / "fluent-bit.yaml").read_text())
    main["includes"] = [str(FLB_DIR / "parsers.yaml"), str(OUTPUT_YAML), str(work / "monitoring.yaml"), str(work / "inputs.yaml")]
    main.pop("pipeline", None)  # the shipped single input: the generated ones replace it
    if spec.busy_rate:
        main["pipeline"] = {
            "inputs": [{"name": "dummy", "alias": "busy", "tag": "busy", "rate": spec.busy_rate}],
            "outputs": [{"name": "null", "match": "busy"}],
        }
    if spec.stall_engine_seconds:
        # Filters run on the engine thread: the first record blocks it, while the poll goes on
        # printing into its input's ring buffer (nothing reads it meanwhile).
        (work / "stall.lua").write_text(STALL_LUA.replace("SECONDS", str(spec.stall_engine_seconds)))
        stall = {"name": "lua", "match": "hf_audit.*", "script": str(work / "stall.lua"), "call": "stall_once"}
        main.setdefault("pipeline", {})["filters"] = [stall]
    path = work / "fluent-bit.yaml"
    path.write_text(yaml.safe_dump(main, sort_keys=False))
    return path


def ring_counters(metrics_url: str) -> tuple[dict[str, float], float]:
    """The ring-buffer counters summed over the hf_audit.* inputs, and the busy input's records."""
    text = requests.get(metrics_url, timeout=5).text
    totals = dict.fromkeys(RING_METRICS, 0.0)
    busy = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = sample.labels.get("name", "")
            if sample.name in totals and name.startswith("hf_audit."):
                totals[sample.name] += sample.value
            if sample.name == "fluentbit_input_records_total" and name == "busy":
                busy = sample.value
    return totals, busy


def run_fleet(work: Path, spec: FleetSpec) -> FleetResult:
    """One fleet run in the Fluent Bit on PATH; the caller checks there is one."""
    names = org_names(spec.orgs)
    end = datetime.now(UTC) - timedelta(minutes=10)
    tokens = {name: f"hf_fleet_{secrets.token_hex(12)}" for name in names}
    hubs = [
        SimulatedHub(org=name, token=tokens[name], events=generate_events(spec.events, seed=100 + i, org=name, end=end, span=timedelta(days=20)))
        for i, name in enumerate(names)
    ]
    token_dir = work / "tokens"
    token_dir.mkdir(mode=0o700)
    for name, token in tokens.items():
        (token_dir / name).write_text(token + "\n")
    orgs = [Organization(name, str(token_dir / name)) for name in names]
    expected = {record_id(hub.org, event["_id"]) for hub in hubs for event in hub.events}
    user, password = "hf_audit_writer", secrets.token_urlsafe(12)
    metrics_port = free_port()
    with (
        ChdbHttpEndpoint(work / "chdb", user=user, password=password, keep_bodies=True, server_settings=STRICT_SERVER) as endpoint,
        SimulatedFleet(hubs) as fleet,
    ):
        create_table(endpoint, DDL_FILE, DATABASE)
        env = {
            "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(work),
            "HF_ENDPOINT": fleet.url,
            "HF_AUDIT_STATE_DIR": str(work / "state"),
            "HF_AUDIT_INTERVAL_SEC": str(spec.interval_sec),
            "HF_AUDIT_FLB_STORAGE_PATH": str(work / "flb-storage"),
            "HF_AUDIT_METRICS_PORT": str(metrics_port),
            "HF_AUDIT_DEADLINE": "120s",
            "CLICKHOUSE_HOST": "127.0.0.1",
            "CLICKHOUSE_PORT": str(endpoint.port),
            "CLICKHOUSE_DATABASE": DATABASE,
            "CLICKHOUSE_USER": user,
            "CLICKHOUSE_PASSWORD": password,
        }
        if spec.poll_slots is not None:
            env["HF_AUDIT_POLL_SLOTS"] = str(spec.poll_slots)
        config = write_config(work, spec, orgs)
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        seconds_to_all: float | None = None
        counters: dict[str, float] = {}
        busy = 0.0
        started = time.monotonic()
        with FluentBit(config, env, work / "fluent-bit.log") as fluent_bit, TreeMemorySampler(fluent_bit.pid) as memory:
            deadline = started + spec.interval_sec + spec.limit_seconds
            last_count, last_change = 0, time.monotonic()
            # Waits are soft: what is missing, lost or sent twice, the caller's checks say.
            while time.monotonic() < deadline and fluent_bit.running:
                stored_now = _count(endpoint)
                if stored_now >= len(expected):  # duplicates would count too: checked after
                    seconds_to_all = time.monotonic() - started - spec.interval_sec
                    break
                if stored_now != last_count:
                    last_count, last_change = stored_now, time.monotonic()
                elif last_count and time.monotonic() - last_change > spec.idle_seconds:
                    break  # records stopped coming: some were lost
                time.sleep(0.5)
            # The counters as of the end: every write the inputs made is in them.
            wait_until = time.monotonic() + 20
            while time.monotonic() < wait_until and fluent_bit.running:
                try:
                    counters, busy = ring_counters(metrics_url)
                except requests.RequestException:
                    counters = {}
                writes = counters.get("fluentbit_input_ring_buffer_writes_total", 0)
                if counters and writes + counters["fluentbit_input_ring_buffer_retry_failures_total"] >= len(expected):
                    break
                time.sleep(1)
        log = fluent_bit.log_text()
        stored = set(endpoint.query(f"SELECT id FROM {DATABASE}.{TABLE}").decode().split())
        posted = [orjson.loads(line)["id"] for body in endpoint.bodies for line in body.splitlines() if line.strip()]
    return FleetResult(
        spec=spec,
        expected_ids=expected,
        stored_ids=stored,
        posted_ids=posted,
        seconds_to_all=seconds_to_all,
        log=log,
        ring_counters=counters,
        busy_records=busy,
        peak_rss_mib=memory.peak_rss_kib / 1024,
        peak_pss_mib=memory.peak_pss_kib / 1024,
        peak_fluent_bit_rss_mib=memory.peak_root_rss_kib / 1024,
        peak_processes=memory.peak_processes,
        poll_summaries=[line for line in log.splitlines() if "event=poll_summary" in line or "event=poll_slot" in line],
    )


def _count(endpoint: ChdbHttpEndpoint) -> int:
    return int(endpoint.query(f"SELECT count() FROM {DATABASE}.{TABLE}").strip())
