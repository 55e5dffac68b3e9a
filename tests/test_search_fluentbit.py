"""The shipped es and opensearch outputs, read, then run in a real Fluent Bit against a real OpenSearch.

Static tests read fluent-bit/outputs/{elasticsearch,opensearch}.{yaml,conf}. The end-to-end tests
(skipped, naming what is missing, without a fluent-bit binary on PATH, java 17+ and mvn, or curl)
install the shipped OpenSearch template with the shipped install.sh, then run Fluent Bit on the
shipped main config (fluent-bit/fluent-bit.yaml: exec input running hf-audit-poll, its parser,
filesystem buffering) plus one shipped search output pointed at the test node, against a simulated
Hub. The es output is run against OpenSearch too: OpenSearch answers the bulk API the same way when
Suppress_Type_Name is on. Each output delivers the export once, then Fluent Bit is restarted with a
fresh plugin state so every event is sent a second time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ORG, REPO, TOKEN, poller_env, run_like_fluent_bit
from fluentbit_configs import comparable_value, load, size_to_bytes
from fluentbit_harness import FLUENT_BIT, SKIP_REASON, FluentBit
from hf_audit.simhub.server import SimulatedHub
from opensearch_node import skip_reason, start_session_node
from search_assets import OS_INSTALL, OUTPUTS_DIR, SearchClient, index_for, search_export_events

MAIN_CONFIG = REPO / "fluent-bit" / "fluent-bit.yaml"
# output file -> (plugin name, prefix of its environment variables)
SEARCH_OUTPUTS = {
    "elasticsearch": ("es", "HF_AUDIT_ES"),
    "opensearch": ("opensearch", "HF_AUDIT_OPENSEARCH"),
}
OUTPUT_FILES = [OUTPUTS_DIR / f"{name}.{ext}" for name in SEARCH_OUTPUTS for ext in ("yaml", "conf")]
DELIVERY_TIMEOUT = 180.0  # a bound on waiting, not a performance check


def output_section(path: Path) -> dict:
    """The file's one output, keys lowercased, on/true and off/false spelled "true"/"false"."""
    (section,) = load(path).outputs
    return {key: comparable_value(value) for key, value in section.items()}


def file_id(path: Path) -> str:
    return path.name


# --- static ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", OUTPUT_FILES, ids=file_id)
def test_output_writes_each_event_under_its_id_into_the_month_of_its_event_time(path: Path) -> None:
    """Re-delivery overwrites the same document in the same index: never a duplicate, never a 409."""
    output = output_section(path)
    expected = {
        "id_key": "id",
        "write_operation": "index",
        "logstash_format": "true",
        "logstash_dateformat": "%Y.%m",
        "current_time_index": "false",
    }
    assert {key: output.get(key) for key in expected} == expected


@pytest.mark.parametrize("path", OUTPUT_FILES, ids=file_id)
def test_output_sends_what_the_template_expects(path: Path) -> None:
    output = output_section(path)
    assert output["suppress_type_name"] == "true"
    assert output["replace_dots"] == "false"  # dotted tags keys kept as they are
    assert output["time_key"] == "@timestamp"  # added from the record time; the record has none
    assert output["include_tag_key"] == "false"
    assert output["match"] == "hf_audit.*"


@pytest.mark.parametrize("path", OUTPUT_FILES, ids=file_id)
def test_output_traces_item_errors_with_room_for_the_whole_answer(path: Path) -> None:
    output = output_section(path)
    assert output["trace_error"] == "true"
    # A bulk answer has one item per record and an item is smaller than the record it answers, so
    # a buffer the size of a 2 MB chunk holds the whole answer.
    assert size_to_bytes(output["buffer_size"]) >= 2_000_000


@pytest.mark.parametrize("path", OUTPUT_FILES, ids=file_id)
def test_output_takes_endpoint_and_credentials_from_the_environment(path: Path) -> None:
    output = output_section(path)
    plugin, env_prefix = SEARCH_OUTPUTS[path.stem]
    assert output["name"] == plugin
    for key, variable in (("host", "HOST"), ("port", "PORT"), ("http_user", "USER"), ("http_passwd", "PASSWORD"),
                          ("tls", "TLS"), ("logstash_prefix", "INDEX_PREFIX")):  # fmt: skip
        assert output[key].startswith(f"${{{env_prefix}_{variable}"), key
    assert output["logstash_prefix"] == f"${{{env_prefix}_INDEX_PREFIX:-hf-audit}}"


# --- end to end ------------------------------------------------------------------------------------------


def e2e_skip_reason() -> str | None:
    if FLUENT_BIT is None:
        return SKIP_REASON
    if shutil.which("curl") is None:
        return "curl not on PATH (the shipped install.sh uses it)"
    return skip_reason()


needs_fluent_bit = pytest.mark.skipif(e2e_skip_reason() is not None, reason=e2e_skip_reason() or "")


@dataclass
class Deliveries:
    output: str
    prefix: str
    expected: list[dict]  # the records hf-audit-poll prints for the export
    documents: list[dict]  # _id, _index, id, eventTime, @timestamp of every document after run 1
    count_after_first: int
    writes_after_first: int
    count_after_second: int
    writes_after_second: int
    log: str


@pytest.fixture(scope="module")
def hub() -> Iterator[SimulatedHub]:
    with SimulatedHub(org=ORG, token=TOKEN, events=search_export_events()) as running:
        yield running


@pytest.fixture(scope="module")
def expected_records(hub: SimulatedHub, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    workdir = tmp_path_factory.mktemp("expected")
    run = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, workdir / "state", workdir))
    assert run.returncode == 0, run.stderr
    return run.records


def install_template(client: SearchClient, prefix: str) -> None:
    """The shipped fluent-bit/opensearch/install.sh; the test node has no Index Management plugin."""
    port = client.url.rsplit(":", 1)[1]
    env = {"PATH": os.environ["PATH"], "HF_AUDIT_OPENSEARCH_PORT": port,
           "HF_AUDIT_OPENSEARCH_INDEX_PREFIX": prefix, "HF_AUDIT_OPENSEARCH_ISM": "off"}  # fmt: skip
    result = subprocess.run(["sh", str(OS_INSTALL)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def write_config(workdir: Path, output: str) -> Path:
    """The shipped main config and one shipped search output, as a user includes them."""
    config = workdir / "fluent-bit.yaml"
    config.write_text(
        "includes:\n"
        f"  - {MAIN_CONFIG}\n"
        f"  - {OUTPUTS_DIR / f'{output}.yaml'}\n"
    )
    return config


def run_fluent_bit(config: Path, env: dict[str, str], workdir: Path, until: Callable[[], bool], what: str) -> None:
    """Run Fluent Bit until `until()` holds, then stop it with SIGTERM (it flushes what it holds).
    Both runs append to one log; the records it prints on stdout are not read here."""
    with FluentBit(config, env, workdir / "fluent-bit.log", stdout=workdir / "fluent-bit.stdout") as fluent_bit:
        fluent_bit.wait_for(until, what, timeout=DELIVERY_TIMEOUT)


@pytest.fixture(scope="module", params=sorted(SEARCH_OUTPUTS))
def deliveries(
    request: pytest.FixtureRequest,
    hub: SimulatedHub,
    expected_records: list[dict],
    tmp_path_factory: pytest.TempPathFactory,
) -> Deliveries:
    output: str = request.param
    _, env_prefix = SEARCH_OUTPUTS[output]
    client = SearchClient(start_session_node().url)  # shared per process, stopped at exit
    prefix = f"e2e-{output}"
    indices = f"{prefix}-*"
    install_template(client, prefix)
    workdir = tmp_path_factory.mktemp(f"fluent-bit-{output}")
    config = write_config(workdir, output)
    expected = len(expected_records)

    def environment(state: str) -> dict[str, str]:
        env = poller_env(hub.url, workdir / state, workdir)
        env.update({
            "HF_AUDIT_INTERVAL_SEC": "1",
            "HF_AUDIT_FLB_STORAGE_PATH": str(workdir / f"flb-storage-{state}"),
            f"{env_prefix}_HOST": "127.0.0.1",
            f"{env_prefix}_PORT": client.url.rsplit(":", 1)[1],
            f"{env_prefix}_INDEX_PREFIX": prefix,
        })  # fmt: skip
        return env

    def count() -> int:
        client.refresh(indices)
        return client.count(indices)

    run_fluent_bit(
        config, environment("state-1"), workdir,
        until=lambda: count() >= expected, what=f"{expected} documents in {indices}",
    )  # fmt: skip
    count_after_first = count()
    writes_after_first = client.index_total(indices)
    documents = client.all_documents(indices, ["id", "eventTime", "@timestamp"])

    # A fresh plugin state: the plugin emits the whole export again and Fluent Bit sends it all.
    run_fluent_bit(
        config, environment("state-2"), workdir,
        until=lambda: client.index_total(indices) >= writes_after_first + expected,
        what=f"{expected} more writes into {indices}",
    )  # fmt: skip
    return Deliveries(
        output=output,
        prefix=prefix,
        expected=expected_records,
        documents=documents,
        count_after_first=count_after_first,
        writes_after_first=writes_after_first,
        count_after_second=count(),
        writes_after_second=client.index_total(indices),
        log=(workdir / "fluent-bit.log").read_text(errors="replace"),
    )


@needs_fluent_bit
def test_every_event_arrives_exactly_once(deliveries: Deliveries) -> None:
    ids = Counter(doc["_id"] for doc in deliveries.documents)
    assert deliveries.count_after_first == len(deliveries.expected)
    assert set(ids) == {record["id"] for record in deliveries.expected}
    assert max(ids.values()) == 1
    assert all(doc["_id"] == doc["id"] for doc in deliveries.documents)


@needs_fluent_bit
def test_each_document_is_in_the_index_of_its_event_month(deliveries: Deliveries) -> None:
    months = Counter(doc["_index"] for doc in deliveries.documents)
    assert months == Counter(index_for(deliveries.prefix, record) for record in deliveries.expected)
    assert len(months) >= 3


@needs_fluent_bit
def test_timestamp_added_by_fluent_bit_is_the_event_time(deliveries: Deliveries) -> None:
    mismatched = [doc for doc in deliveries.documents if doc["@timestamp"] != doc["eventTime"]]
    assert mismatched == []


@needs_fluent_bit
def test_second_delivery_from_a_fresh_plugin_state_adds_no_document(deliveries: Deliveries) -> None:
    assert deliveries.writes_after_second - deliveries.writes_after_first >= len(deliveries.expected)
    assert deliveries.count_after_second == deliveries.count_after_first == len(deliveries.expected)


@needs_fluent_bit
def test_fluent_bit_reported_no_delivery_error(deliveries: Deliveries) -> None:
    problems = [line for line in deliveries.log.splitlines() if "[error]" in line or "failed to flush" in line]
    assert problems == []
