"""End to end: a real Fluent Bit, the shipped Loki output, a real Loki-API receiver.

The receiver is VictoriaLogs (Apache-2.0; Grafana Loki itself is not used here), which takes Loki
pushes at /insert/loki/api/v1/push. Started with -maxBackfillAge=1h it refuses every line more than
an hour old, as strict as Loki's own rules get: Loki refuses lines older than
reject_old_samples_max_age (168 h) and lines more than max_chunk_age / 2 (1 h) behind their
stream's newest line. Loki answers 400 and Fluent Bit drops the chunk; VictoriaLogs answers 204 and
drops the line. Either way it is lost, so a run only passes when nothing arrives too old.

The simulated export spans 30 days, plus fresh events (the edge cases of records.py) and newer
events picked up by a later poll. Fluent Bit runs the shipped main config with its include line
edited to the Loki output, as a user would, in YAML and in classic format.

Skipped unless both `fluent-bit` and `victoria-logs` are found (victoria-logs: on PATH or where
`go install` puts it; `make test` installs it with go where fluent-bit and go exist:
`go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1`).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
import yaml

from conftest import ORG, REPO, TOKEN, poller_env, run_like_fluent_bit
from fluentbit_harness import FLUENT_BIT, WAIT_SECONDS, FluentBit, requires_fluent_bit
from hf_audit.normalize import record_id
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import SimulatedHub
from records import edge_case_events


def _go_install_dirs() -> list[Path]:
    """Where `go install` puts a binary: GOBIN, else the first GOPATH entry's bin (as go reports
    them, which the Makefile's install also asks; the environment's values or ~/go without go)."""
    go = shutil.which("go")
    if go is not None:
        reported = subprocess.run([go, "env", "GOBIN", "GOPATH"], capture_output=True, text=True, timeout=60).stdout.splitlines()
        gobin, gopath = (reported + ["", ""])[:2]
    else:
        gobin, gopath = os.environ.get("GOBIN", ""), os.environ.get("GOPATH", "")
    first_gopath = Path(gopath.split(os.pathsep)[0]) if gopath else Path.home() / "go"
    return [Path(gobin)] if gobin else [first_gopath / "bin"]


def _victoria_logs() -> str | None:
    found = shutil.which("victoria-logs")
    return found or next((str(d / "victoria-logs") for d in _go_install_dirs() if (d / "victoria-logs").is_file()), None)


VICTORIA_LOGS = _victoria_logs()
pytestmark = [
    requires_fluent_bit,
    pytest.mark.skipif(
        VICTORIA_LOGS is None,
        reason="victoria-logs not on PATH nor in go's install directory (`make test` installs it where go exists: "
        "go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1)",
    ),
]

FLB_DIR = REPO / "fluent-bit"
BACKLOG_EVENTS = 400
NEWER_EVENTS = 10
RESTAMP_AFTER = timedelta(minutes=50)  # the shipped default of LOKI_RESTAMP_AFTER_MINUTES
# The values the output turns into stream labels; it takes them out of the line.
PROMOTED = {("tags", "org"), ("tags", "scope"), ("sourceType", None)}
_STREAM_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


# --- the receiver ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class VictoriaLogs:
    """A victoria-logs process on loopback, storing under `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> VictoriaLogs:
        assert VICTORIA_LOGS is not None
        args = [
            VICTORIA_LOGS,
            f"-storageDataPath={self.directory / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=100y",  # keep whatever is accepted, however old its event
            "-maxBackfillAge=1h",  # refuse any line more than 1 h old, like Loki at its strictest
            "-loki.disableMessageParsing",  # keep each line whole in _msg, as Loki stores it
            "-memory.allowedBytes=256MiB",
        ]
        with (self.directory / "victoria-logs.log").open("wb") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + WAIT_SECONDS
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"victoria-logs did not start:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/health", timeout=2).ok
        except requests.ConnectionError:
            return False

    def log(self) -> str:
        return (self.directory / "victoria-logs.log").read_text(errors="replace")

    def query(self, logsql: str) -> list[dict[str, Any]]:
        response = requests.post(f"{self.url}/select/logsql/query", data={"query": logsql}, timeout=30)
        response.raise_for_status()
        return [orjson.loads(line) for line in response.content.splitlines() if line.strip()]

    def count(self) -> int:
        rows = self.query('{job="hf-audit"} | stats count() as n')
        return int(rows[0]["n"]) if rows else 0

    def dropped_too_old(self) -> int:
        metrics = requests.get(f"{self.url}/metrics", timeout=10).text
        match = re.search(r'^vl_rows_dropped_total\{reason="too_small_timestamp"\} (\d+)', metrics, re.MULTILINE)
        return int(match.group(1)) if match else 0


# --- the pipeline ------------------------------------------------------------------------------------


def user_config(directory: Path, kind: str) -> Path:
    """The shipped main config with its include line edited to the Loki output, next to the shipped
    tree (outputs/, loki/, parsers) so every relative path resolves as in fluent-bit/."""
    for name in ("outputs", "loki", "parsers.yaml", "parsers.conf"):
        (directory / name).symlink_to(FLB_DIR / name)
    if kind == "yaml":
        main = yaml.safe_load((FLB_DIR / "fluent-bit.yaml").read_text(encoding="utf-8"))
        main["includes"] = [name for name in main["includes"] if not name.startswith("outputs/")] + ["outputs/loki.yaml"]
        text = yaml.safe_dump(main, sort_keys=False)
    else:
        lines = (FLB_DIR / "fluent-bit.conf").read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if not re.match(r"\s*#?\s*@INCLUDE\s+outputs/", line)]
        text = "\n".join([*kept, "@INCLUDE outputs/loki.conf", ""])
    path = directory / f"fluent-bit.{'yaml' if kind == 'yaml' else 'conf'}"
    path.write_text(text, encoding="utf-8")
    return path


def export_events(now: datetime) -> tuple[list[dict], list[dict]]:
    """30 days of history ending 2 h ago (all past the re-stamp threshold), and events of the last minute."""
    backlog = generate_events(BACKLOG_EVENTS, seed=31, end=now - timedelta(hours=2), span=timedelta(days=30), org=ORG)
    return backlog, edge_case_events(now - timedelta(minutes=1))


@dataclass
class StoredLine:
    time: datetime  # the timestamp the line was pushed with
    line: dict[str, Any]
    labels: dict[str, str]


@dataclass
class Delivery:
    started: datetime
    hub_events: list[dict]
    backlog_ids: set[str]
    printed: dict[str, dict]  # id -> the record a fresh hf-audit-poll prints for the event, after the run
    stored: list[StoredLine]
    dropped_too_old: int


def parse_rfc3339(text: str) -> datetime:
    """VictoriaLogs' and the plugin's times: Z, with 0 to 9 fractional digits."""
    match = re.fullmatch(r"(.+?)(?:\.(\d+))?Z", text)
    assert match, text
    base = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    return base + timedelta(microseconds=int((match.group(2) or "0")[:6].ljust(6, "0")))


def deliver(work: Path, kind: str, *, newer: int = 0, **env_overrides: str) -> Delivery:
    """Run Fluent Bit with the shipped config `kind` until the whole export and `newer` later events
    are stored (or, for a run expected to lose lines, until every line is stored or dropped)."""
    started = datetime.now(UTC).replace(microsecond=0)
    backlog, recent = export_events(started)
    with VictoriaLogs(work) as receiver, SimulatedHub(org=ORG, token=TOKEN, events=backlog + recent) as hub:
        env = poller_env(hub.url, work / "state", work) | {
            "HF_AUDIT_INTERVAL_SEC": "1",
            "HF_AUDIT_FLB_STORAGE_PATH": str(work / "flb-storage"),
            "LOKI_HOST": "127.0.0.1",
            "LOKI_PORT": str(receiver.port),
            "LOKI_URI": "/insert/loki/api/v1/push",
        } | env_overrides
        with FluentBit(user_config(work, kind), env, work / "fluent-bit.log") as fluent_bit:
            handled = lambda: receiver.count() + receiver.dropped_too_old() >= len(hub.events)  # noqa: E731
            fluent_bit.wait_for(handled, "the export")
            if newer:
                hub.generate_newer(newer)
                fluent_bit.wait_for(handled, "the newer events")
                polls = len(hub.requests_seen)  # polls that find nothing new must send nothing
                fluent_bit.wait_for(lambda: len(hub.requests_seen) >= polls + 2, "two more polls")
        rows = receiver.query('{job="hf-audit"} | fields _time, _msg, _stream')
        stored = [StoredLine(parse_rfc3339(r["_time"]), orjson.loads(r["_msg"]), dict(_STREAM_LABEL.findall(r["_stream"]))) for r in rows]
        dropped = receiver.dropped_too_old()
        fresh = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, work / "fresh-state", work))
        assert fresh.returncode == 0, fresh.stderr
        return Delivery(
            started=started,
            hub_events=hub.events,
            backlog_ids={record_id(ORG, event["_id"]) for event in backlog},
            printed={record["id"]: record for record in fresh.records},
            stored=stored,
            dropped_too_old=dropped,
        )


def fluent_bit_has(plugin: str) -> bool:
    assert FLUENT_BIT is not None
    listing = subprocess.run([FLUENT_BIT, "--help"], capture_output=True, text=True, timeout=30).stdout
    return re.search(rf"^\s+{re.escape(plugin)}\s", listing, re.MULTILINE) is not None


@pytest.fixture(scope="module", params=["yaml", "classic"])
def delivery(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Delivery]:
    if request.param == "classic" and not fluent_bit_has("rewrite_tag"):
        pytest.skip("this fluent-bit build lacks the rewrite_tag filter that loki.conf needs (official builds have it)")
    yield deliver(tmp_path_factory.mktemp(f"loki-{request.param}"), request.param, newer=NEWER_EVENTS)


def without_promoted(record: dict[str, Any]) -> dict[str, Any]:
    line = dict(record)
    line["tags"] = dict(record["tags"])
    for key, sub in PROMOTED:
        if sub is None:
            line.pop(key)
        else:
            line[key].pop(sub)
    return line


# --- what the receiver stored -------------------------------------------------------------------------


def test_every_event_arrives_exactly_once(delivery: Delivery) -> None:
    expected = {record_id(ORG, event["_id"]) for event in delivery.hub_events}
    ids = [stored.line["id"] for stored in delivery.stored]
    assert len(ids) == len(expected) == BACKLOG_EVENTS + len(edge_case_events(delivery.started)) + NEWER_EVENTS
    assert set(ids) == expected


def test_the_receiver_refused_no_line_as_too_old(delivery: Delivery) -> None:
    assert delivery.dropped_too_old == 0


def test_old_events_are_stamped_with_their_arrival_and_marked_backfilled(delivery: Delivery) -> None:
    old = [s for s in delivery.stored if s.line["id"] in delivery.backlog_ids]
    assert len(old) == BACKLOG_EVENTS
    assert all(s.line.get("backfilled") is True for s in old)
    assert all(s.time >= delivery.started for s in old)
    assert min(parse_rfc3339(s.line["eventTime"]) for s in old) < delivery.started - timedelta(days=25)


def test_recent_events_keep_their_own_time_unmarked(delivery: Delivery) -> None:
    recent = [s for s in delivery.stored if s.line["id"] not in delivery.backlog_ids]
    assert len(recent) == len(delivery.stored) - BACKLOG_EVENTS > 0
    assert all("backfilled" not in s.line for s in recent)
    assert all(s.time == parse_rfc3339(s.line["eventTime"]) for s in recent)


def test_each_line_is_the_plugins_record_less_its_label_values(delivery: Delivery) -> None:
    assert set(delivery.printed) == {stored.line["id"] for stored in delivery.stored}
    differences = {}
    for stored in delivery.stored:
        expected = without_promoted(delivery.printed[stored.line["id"]]) | ({"backfilled": True} if stored.line.get("backfilled") else {})
        # receivedAt is the time of the poll, which differs between Fluent Bit's run and the fresh one.
        diff = {k for k in expected.keys() | stored.line.keys() if k != "receivedAt" and expected.get(k) != stored.line.get(k)}
        if diff:
            differences[stored.line["id"]] = sorted(diff)
    assert differences == {}


def test_streams_carry_only_the_low_cardinality_labels(delivery: Delivery) -> None:
    streams = {tuple(sorted(s.labels.items())) for s in delivery.stored}
    assert {tuple(sorted(dict(labels))) for labels in streams} == {("job", "org", "scope", "source_type")}
    assert {dict(labels)["scope"] for labels in streams} == {s.line["eventType"].split(".")[0] for s in delivery.stored}
    assert len(streams) <= 10


# --- the receiver refuses what Loki refuses -------------------------------------------------------------


def test_without_the_restamp_the_receiver_drops_the_backfill(tmp_path: Path) -> None:
    # The same pipeline with the threshold pushed past the backlog's age: the old lines go out with
    # their event time and are refused, which is what the re-stamp prevents.
    run = deliver(tmp_path, "yaml", LOKI_RESTAMP_AFTER_MINUTES=str(60 * 24 * 365 * 10))
    assert run.dropped_too_old == BACKLOG_EVENTS
    assert {s.line["id"] for s in run.stored}.isdisjoint(run.backlog_ids)
    assert len(run.stored) == len(run.hub_events) - BACKLOG_EVENTS
