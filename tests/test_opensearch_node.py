"""The real OpenSearch test node works for what the plugin's tests need.

Skips (naming what is missing) when java 17+ or mvn is not on PATH.
"""

from __future__ import annotations

import json

import pytest
import requests

try:
    from opensearch_node import skip_reason, start_session_node
except ImportError:  # tests/ imported as a package
    from tests.opensearch_node import skip_reason, start_session_node

_REASON = skip_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.fixture(scope="module")
def os_url() -> str:
    node = start_session_node()  # shared per process; stopped at exit
    return node.url


def _ok(r: requests.Response) -> dict:
    assert r.status_code < 300, f"{r.request.method} {r.url} -> {r.status_code}: {r.text}"
    return r.json()


def _bulk_body(index: str, docs: list[dict]) -> str:
    lines = []
    for doc in docs:
        doc = dict(doc)
        lines.append(json.dumps({"index": {"_index": index, "_id": doc.pop("_id")}}))
        lines.append(json.dumps(doc))
    return "\n".join(lines) + "\n"


DOCS = [
    {"_id": "evt-1", "actor": "alice", "ip": "192.0.2.10", "ts": "2024-05-01T10:00:00Z",
     "event_type": "repo.create", "data": {"repo": {"name": "org/a", "private": "true"}}},
    {"_id": "evt-2", "actor": "bob", "ip": "2001:db8::1", "ts": "2024-05-01T11:00:00Z",
     "event_type": "repo.delete", "data": {"repo": {"name": "org/b"}}},
    {"_id": "evt-3", "actor": "alice", "ip": "198.51.100.7", "ts": "2024-05-02T09:30:00.123Z",
     "event_type": "repo.create", "data": {"token": {"role": "write"}}},
]


def test_cluster_health(os_url):
    health = _ok(requests.get(f"{os_url}/_cluster/health", timeout=30))
    assert health["status"] in ("green", "yellow")
    assert health["number_of_nodes"] == 1
    info = _ok(requests.get(os_url, timeout=30))
    assert info["version"]["number"].startswith("2.19.")


def test_index_template_and_mapping(os_url):
    template = {
        "index_patterns": ["hfa-tpl-*"],
        "priority": 100,
        "template": {
            "settings": {
                "number_of_shards": 1,
                "number_of_replicas": 0,
                "analysis": {
                    "normalizer": {"lc": {"type": "custom", "filter": ["lowercase"]}}
                },
            },
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "actor": {"type": "keyword", "normalizer": "lc"},
                    "ip": {"type": "ip"},
                    "ts": {"type": "date"},
                    "event_type": {"type": "keyword"},
                    "data": {"type": "flat_object"},
                },
            },
        },
    }
    assert _ok(requests.put(f"{os_url}/_index_template/hfa-test", json=template, timeout=30))[
        "acknowledged"
    ]
    got = _ok(requests.get(f"{os_url}/_index_template/hfa-test", timeout=30))
    assert got["index_templates"][0]["name"] == "hfa-test"

    # an index created by name picks the template up
    _ok(requests.put(f"{os_url}/hfa-tpl-000001", timeout=60))
    mapping = _ok(requests.get(f"{os_url}/hfa-tpl-000001/_mapping", timeout=30))
    props = mapping["hfa-tpl-000001"]["mappings"]["properties"]
    assert props["data"]["type"] == "flat_object"
    assert props["ip"]["type"] == "ip"
    assert props["actor"] == {"type": "keyword", "normalizer": "lc"}

    # and an explicit index with the same kinds of fields
    body = {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {
            "properties": {
                "actor": {"type": "keyword"},
                "ip": {"type": "ip"},
                "ts": {"type": "date"},
                "data": {"type": "flat_object"},
            }
        },
    }
    _ok(requests.put(f"{os_url}/hfa-explicit", json=body, timeout=60))


def test_bulk_is_idempotent_by_id_and_terms_agg(os_url):
    index = "hfa-tpl-bulk"  # matches the template from the previous test's pattern
    requests.put(
        f"{os_url}/_index_template/hfa-bulk",
        json={
            "index_patterns": ["hfa-tpl-bulk*"],
            "priority": 200,
            "template": {
                "settings": {"number_of_shards": 1, "number_of_replicas": 0},
                "mappings": {
                    "properties": {
                        "actor": {"type": "keyword"},
                        "ip": {"type": "ip"},
                        "ts": {"type": "date"},
                        "event_type": {"type": "keyword"},
                        "data": {"type": "flat_object"},
                    }
                },
            },
        },
        timeout=30,
    ).raise_for_status()

    body = _bulk_body(index, DOCS)
    first = _ok(requests.post(f"{os_url}/_bulk", params={"refresh": "true"},
                              data=body, headers=NDJSON, timeout=60))
    assert first["errors"] is False, first
    assert [it["index"]["result"] for it in first["items"]] == ["created"] * 3

    again = _ok(requests.post(f"{os_url}/_bulk", params={"refresh": "true"},
                              data=body, headers=NDJSON, timeout=60))
    assert again["errors"] is False, again
    assert [it["index"]["result"] for it in again["items"]] == ["updated"] * 3

    count = _ok(requests.get(f"{os_url}/{index}/_count", timeout=30))["count"]
    assert count == 3

    search = _ok(requests.post(
        f"{os_url}/{index}/_search",
        json={
            "size": 0,
            "aggs": {
                "by_actor": {"terms": {"field": "actor"}},
                "by_type": {"terms": {"field": "event_type"}},
            },
        },
        timeout=30,
    ))
    actors = {b["key"]: b["doc_count"] for b in search["aggregations"]["by_actor"]["buckets"]}
    types = {b["key"]: b["doc_count"] for b in search["aggregations"]["by_type"]["buckets"]}
    assert actors == {"alice": 2, "bob": 1}
    assert types == {"repo.create": 2, "repo.delete": 1}

    # flat_object leaves are searchable by dotted path; ip supports CIDR
    hits = _ok(requests.post(
        f"{os_url}/{index}/_search",
        json={"query": {"term": {"data.repo.name": "org/b"}}},
        timeout=30,
    ))["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["evt-2"]
    hits = _ok(requests.post(
        f"{os_url}/{index}/_search",
        json={"query": {"term": {"ip": "192.0.2.0/24"}}},
        timeout=30,
    ))["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["evt-1"]
