"""What the Elasticsearch/OpenSearch sink tests share: the shipped assets, the export, a small client.

The export is the simulated one of `records.py` (every event type plus the edge cases) with older
events added, so the records span several calendar months and so several monthly indices.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import requests

from conftest import ORG, REPO, TOKEN, poller_env, run_like_fluent_bit
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import SimulatedHub
from records import simulated_export_events

FLUENT_BIT_DIR = REPO / "fluent-bit"
BUILD_TEMPLATES = FLUENT_BIT_DIR / "search" / "build_templates.py"
ES_TEMPLATE = FLUENT_BIT_DIR / "elasticsearch" / "index-template.json"
ES_ILM_POLICY = FLUENT_BIT_DIR / "elasticsearch" / "ilm-policy.json"
ES_INSTALL = FLUENT_BIT_DIR / "elasticsearch" / "install.sh"
OS_TEMPLATE = FLUENT_BIT_DIR / "opensearch" / "index-template.json"
OS_ISM_POLICY = FLUENT_BIT_DIR / "opensearch" / "ism-policy.json"
OS_INSTALL = FLUENT_BIT_DIR / "opensearch" / "install.sh"
FIELDS_CATALOG = FLUENT_BIT_DIR / "search" / "fields.json"
OUTPUTS_DIR = FLUENT_BIT_DIR / "outputs"

JSON_HEADERS = {"Content-Type": "application/json"}
NDJSON_HEADERS = {"Content-Type": "application/x-ndjson"}


def load_build_templates() -> ModuleType:
    """fluent-bit/search/build_templates.py, imported from its path (fluent-bit/ is no package)."""
    spec = importlib.util.spec_from_file_location("hf_audit_build_templates", BUILD_TEMPLATES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# --- the export ---------------------------------------------------------------------------------------


def search_export_events(count: int = 2000) -> list[dict]:
    """records.py's export plus 300 events over the three months before it."""
    older_end = datetime.now(UTC) - timedelta(days=21)
    older = generate_events(300, seed=31, end=older_end, span=timedelta(days=80))
    return simulated_export_events(count) + older


def export_lines(events: list[dict], workdir: Path, **settings: str) -> list[bytes]:
    """The lines one run of the real hf-audit-poll prints for `events` (fresh state), with
    `settings` (environment variables) on top of the defaults."""
    with SimulatedHub(org=ORG, token=TOKEN, events=events) as hub:
        run = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, workdir / "state", workdir) | settings)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


# --- what the es / opensearch outputs send --------------------------------------------------------------


def index_for(prefix: str, record: dict) -> str:
    """Logstash_Format with Logstash_DateFormat %Y.%m: the UTC month of the record time (eventTime)."""
    event_time = record["eventTime"]
    return f"{prefix}-{event_time[0:4]}.{event_time[5:7]}"


def as_sent(record: dict) -> dict:
    """The document body: Time_Key @timestamp first, from the record time (= eventTime, ms)."""
    return {"@timestamp": record["eventTime"], **record}


def bulk_body(records: Iterable[dict], prefix: str) -> bytes:
    """An NDJSON bulk request as the outputs build it (Write_Operation index, Id_Key id)."""
    lines = []
    for record in records:
        action = {"index": {"_index": index_for(prefix, record), "_id": record["id"]}}
        lines.append(json.dumps(action, separators=(",", ":")))
        lines.append(json.dumps(as_sent(record), separators=(",", ":"), ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


# --- a small client --------------------------------------------------------------------------------------


class SearchClient:
    def __init__(self, url: str) -> None:
        self.url = url

    def _ok(self, response: requests.Response) -> Any:
        assert response.status_code < 300, (
            f"{response.request.method} {response.url} -> {response.status_code}: {response.text[:2000]}"
        )
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self._ok(requests.get(self.url + path, params=params, timeout=60))

    def put(self, path: str, body: Any) -> Any:
        return self._ok(requests.put(self.url + path, json=body, timeout=60))

    def bulk(self, body: bytes) -> dict:
        response = requests.post(
            self.url + "/_bulk", params={"refresh": "true"}, data=body, headers=NDJSON_HEADERS, timeout=120
        )
        return self._ok(response)

    def search(self, index: str, body: dict) -> dict:
        response = requests.post(f"{self.url}/{index}/_search", json=body, headers=JSON_HEADERS, timeout=60)
        return self._ok(response)

    def count(self, index: str, query: dict | None = None) -> int:
        body = {"query": query} if query is not None else {}
        response = requests.post(f"{self.url}/{index}/_count", json=body, headers=JSON_HEADERS, timeout=60)
        if response.status_code == 404:
            return 0
        return int(self._ok(response)["count"])

    def refresh(self, index: str) -> None:
        requests.post(f"{self.url}/{index}/_refresh", timeout=60)

    def index_total(self, index: str) -> int:
        """How many index operations the primaries of `index` ran (re-writes included)."""
        response = requests.get(f"{self.url}/{index}/_stats/indexing", timeout=60)
        if response.status_code == 404:
            return 0
        return int(self._ok(response)["_all"]["primaries"]["indexing"]["index_total"])

    def all_documents(self, index: str, fields: list[str]) -> list[dict]:
        """Every document's _id, _index and the given source fields (fewer than 10000 here)."""
        body = {"size": 10_000, "_source": fields, "query": {"match_all": {}}}
        hits = self.search(index, body)["hits"]["hits"]
        return [{"_id": hit["_id"], "_index": hit["_index"], **hit["_source"]} for hit in hits]


def terms_counts(aggregation: dict) -> dict[str, int]:
    return {bucket["key"]: bucket["doc_count"] for bucket in aggregation["buckets"]}
