"""The Elasticsearch/OpenSearch sink assets: generated from one source, and proven on a real OpenSearch.

Static tests check the shipped templates, policies and field catalog. The engine tests start one
real OpenSearch 2.19 node (tests/opensearch_node.py; skipped, naming what is missing, without java
17+ and mvn), install the shipped OpenSearch template, bulk-index a full simulated export exactly as
the es/opensearch outputs send it (Write_Operation index, _id = the record id, @timestamp = the
record time = eventTime, one index per month of eventTime), and check every record is accepted, the
re-delivery is idempotent, and the queries behind the dashboards return what Python computes from the
same records. No Elasticsearch server is available here: the Elasticsearch template is checked to be
the OpenSearch one except for the documented differences.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import random
import shutil
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import ORG
from hf_audit.normalize import COLUMNS
from hf_audit.simhub.events import make_event
from opensearch_node import skip_reason, start_session_node
from search_assets import (
    ES_ILM_POLICY,
    ES_INSTALL,
    ES_TEMPLATE,
    FIELDS_CATALOG,
    OS_INSTALL,
    OS_ISM_POLICY,
    OS_TEMPLATE,
    SearchClient,
    bulk_body,
    export_lines,
    index_for,
    load_build_templates,
    read_json,
    search_export_events,
    terms_counts,
)

PREFIX = "sinktest"  # own index prefix and template name: the OpenSearch node is shared per session
INDICES = f"{PREFIX}-*"
BULK_DOCS = 500

# The field types of the search mapping (fixed for the templates and the Kibana objects).
SPEC_TYPES: dict[str, tuple[str, ...]] = {
    "keyword": (
        "workspaceID", "sourceID", "sourceType", "id", "eventName", "eventID", "srcASCountryCode",
        "srcASOrganization", "srcCity", "srcConnectionType", "srcISP", "srcUserType", "dstASCountryCode",
        "dstASOrganization", "dstCity", "dstConnectionType", "dstISP", "dstUserType", "resources",
        "serviceName", "auditID", "eventType", "authorID", "authorUser", "authorType", "locationFormatted",
        "locationCountry", "locationCity", "tokenType", "tokenID", "tokenRole", "tokenLast4",
    ),
    "ip": ("srcIP", "dstIP", "actorIP"),
    "date": ("eventTime", "receivedAt", "@timestamp"),
    "long": ("sourceTTL", "srcASNumber", "dstASNumber"),
    "double": ("srcLatitude", "srcLongitude", "dstLatitude", "dstLongitude"),
    "boolean": ("readOnly", "tokenDeleted"),
    "text": ("message", "rawLog"),
    "object": ("enrichments",),
}  # fmt: skip
STRING_MAPS = ("actor", "tags")
DASHBOARD_FIELDS = (
    "eventTime", "@timestamp", "authorUser", "eventName", "tokenRole", "locationCountry", "srcIP",
    "readOnly", "message.keyword", "resources",
)  # fmt: skip


def properties(template: dict) -> dict[str, dict]:
    """The mapping of the record's fields, without the ECS objects (tests/test_ecs.py has those)."""
    ecs_objects = set(load_build_templates().ecs_properties())
    return {name: spec for name, spec in template["template"]["mappings"]["properties"].items() if name not in ecs_objects}


# --- static: the shipped files -------------------------------------------------------------------------


def test_generated_files_are_what_the_source_of_truth_writes() -> None:
    stale = load_build_templates().stale_files()
    assert stale == [], "run: python fluent-bit/search/build_templates.py"


@pytest.mark.parametrize("template_path", [ES_TEMPLATE, OS_TEMPLATE], ids=["elasticsearch", "opensearch"])
def test_mapping_has_exactly_the_record_columns_and_timestamp(template_path: Path) -> None:
    assert set(properties(read_json(template_path))) == {"@timestamp", *COLUMNS}


@pytest.mark.parametrize("template_path", [ES_TEMPLATE, OS_TEMPLATE], ids=["elasticsearch", "opensearch"])
def test_fields_have_the_types_of_the_search_mapping(template_path: Path) -> None:
    props = properties(read_json(template_path))
    got = {name: props[name]["type"] for name in props if name not in STRING_MAPS}
    assert got == {name: kind for kind, names in SPEC_TYPES.items() for name in names}
    assert props["message"]["fields"]["keyword"] == {"type": "keyword", "ignore_above": 1024}
    assert "fields" not in props["rawLog"]
    assert props["enrichments"]["enabled"] is False


def test_elasticsearch_maps_actor_and_tags_as_flattened() -> None:
    props = properties(read_json(ES_TEMPLATE))
    assert {props[name]["type"] for name in STRING_MAPS} == {"flattened"}


def test_opensearch_maps_actor_and_tags_as_flat_object() -> None:
    props = properties(read_json(OS_TEMPLATE))
    assert {props[name]["type"] for name in STRING_MAPS} == {"flat_object"}


@pytest.mark.parametrize("template_path", [ES_TEMPLATE, OS_TEMPLATE], ids=["elasticsearch", "opensearch"])
def test_no_field_can_refuse_a_document(template_path: Path) -> None:
    """ip/date/number values that do not parse, and keyword values over Lucene's term limit, are ignored."""
    template = read_json(template_path)
    props = properties(template)
    assert template["template"]["mappings"]["dynamic"] is False
    for name, mapping in props.items():
        if mapping["type"] in ("ip", "date", "long", "double"):
            assert mapping.get("ignore_malformed") is True, name
        if mapping["type"] in ("keyword", "flattened"):
            assert mapping["ignore_above"] * 4 <= 32766, name  # 4 bytes per character at most


def test_elasticsearch_template_is_the_opensearch_one_but_for_documented_differences() -> None:
    """Differences: flattened (with ignore_above) vs flat_object, ILM setting, OpenSearch's derived
    field (tagsScope), Elasticsearch's runtime fields (the computed ECS ones: OpenSearch 2.19 cannot
    name a derived field with dots)."""
    es, opensearch = read_json(ES_TEMPLATE), read_json(OS_TEMPLATE)
    translated = copy.deepcopy(es)
    for name in STRING_MAPS:
        translated["template"]["mappings"]["properties"][name] = {"type": "flat_object"}
    assert translated["template"]["settings"]["index"].pop("lifecycle") == {"name": "hf-audit"}
    runtime = translated["template"]["mappings"].pop("runtime")
    derived = opensearch["template"]["mappings"].pop("derived")
    assert translated == opensearch
    assert set(derived) == {"tagsScope"}
    assert set(runtime) == {"source.geo.location", "source.geo.country_iso_code", "user_agent.original"}


def test_both_templates_match_the_monthly_indices_the_outputs_write() -> None:
    for template in (read_json(ES_TEMPLATE), read_json(OS_TEMPLATE)):
        assert template["index_patterns"] == ["hf-audit-*"]
    assert index_for("hf-audit", {"eventTime": "2026-11-25T17:03:34.123Z"}) == "hf-audit-2026.11"


def test_lifecycle_policies_delete_indices_after_the_same_age() -> None:
    ilm = read_json(ES_ILM_POLICY)["policy"]["phases"]
    ism = read_json(OS_ISM_POLICY)["policy"]
    assert ilm["delete"]["actions"] == {"delete": {}}
    transition = ism["states"][0]["transitions"][0]
    assert transition["conditions"]["min_index_age"] == ilm["delete"]["min_age"] == "396d"
    assert ism["states"][1]["actions"] == [{"delete": {}}]
    assert ism["ism_template"][0]["index_patterns"] == ["hf-audit-*"]


def test_field_catalog_marks_every_dashboard_field_aggregatable_on_elasticsearch() -> None:
    fields = read_json(FIELDS_CATALOG)["fields"]
    for name in DASHBOARD_FIELDS:
        assert fields[name]["elasticsearch"]["aggregatable"] is True, name
    assert fields["tags"]["elasticsearch"]["keyed_subfields"]["aggregatable"] is True
    assert fields["tags"]["opensearch"]["keyed_subfields"]["aggregatable"] is False
    assert fields["tagsScope"]["opensearch"]["aggregatable"] is True
    assert fields["rawLog"]["elasticsearch"]["aggregatable"] is False


# --- the real engine -------------------------------------------------------------------------------------

needs_opensearch = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


@dataclass
class Delivery:
    records: list[dict]
    first: list[dict]  # bulk answers of the first delivery
    count_after_first: int
    second: list[dict]  # bulk answers of the same requests sent again
    count_after_second: int


@pytest.fixture(scope="module")
def client() -> SearchClient:
    return SearchClient(start_session_node().url)  # shared per process, stopped at exit


def install_template(client: SearchClient, prefix: str) -> None:
    template = read_json(OS_TEMPLATE)
    template["index_patterns"] = [f"{prefix}-*"]
    client.put(f"/_index_template/{prefix}", template)


def send_in_bulks(client: SearchClient, records: list[dict]) -> list[dict]:
    return [client.bulk(bulk_body(records[i : i + BULK_DOCS], PREFIX)) for i in range(0, len(records), BULK_DOCS)]


@pytest.fixture(scope="module")
def delivery(client: SearchClient, tmp_path_factory: pytest.TempPathFactory) -> Delivery:
    lines = export_lines(search_export_events(), tmp_path_factory.mktemp("search-export"))
    records = [json.loads(line) for line in lines]
    install_template(client, PREFIX)
    first = send_in_bulks(client, records)
    count_after_first = client.count(INDICES)
    second = send_in_bulks(client, records)
    return Delivery(records, first, count_after_first, second, client.count(INDICES))


@pytest.fixture(scope="module")
def records(delivery: Delivery) -> list[dict]:
    return delivery.records


def items(answers: list[dict]) -> list[dict]:
    return [item["index"] for answer in answers for item in answer["items"]]


def search(client: SearchClient, body: dict) -> dict:
    return client.search(INDICES, body)


def aggregate(client: SearchClient, aggs: dict, query: dict | None = None) -> dict:
    body: dict = {"size": 0, "aggs": aggs}
    if query is not None:
        body["query"] = query
    return search(client, body)["aggregations"]


def top_terms(field: str, size: int) -> dict:
    """The N most frequent values. One index per month means several shards, so top-N counts are
    exact only when every shard returns enough candidates: shard_size does that (Kibana's
    "accuracy mode"); the default would make the 10th count approximate."""
    return {"terms": {"field": field, "size": size, "shard_size": 1000, "order": [{"_count": "desc"}, {"_key": "asc"}]}}


def top(counter: Counter, size: int) -> list[tuple[str, int]]:
    """Terms-aggregation order: count descending, then key ascending."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:size]


@needs_opensearch
class TestOpenSearchAcceptsTheExport:
    def test_the_export_is_a_full_one(self, records: list[dict]) -> None:
        assert len(records) > 2000
        assert len({index_for(PREFIX, r) for r in records}) >= 3  # several monthly indices
        assert any(r["tags"].get("truncated") == "true" for r in records)
        assert any(r["eventName"] == "org.future_feature.enable" for r in records)

    def test_new_monthly_indices_take_the_shipped_mapping(self, client: SearchClient, delivery: Delivery) -> None:
        mappings = client.get(f"/{INDICES}/_mapping")
        assert len(mappings) >= 3
        for index in mappings.values():
            props = index["mappings"]["properties"]
            assert props["tags"]["type"] == "flat_object"
            assert props["srcIP"]["type"] == "ip"

    def test_every_record_is_accepted_without_item_errors(self, delivery: Delivery) -> None:
        assert [answer["errors"] for answer in delivery.first] == [False] * len(delivery.first)
        errors = [item for item in items(delivery.first) if "error" in item]
        assert errors == []
        assert len(items(delivery.first)) == len(delivery.records)

    def test_document_count_equals_record_count(self, delivery: Delivery) -> None:
        assert delivery.count_after_first == len(delivery.records)

    def test_sending_the_same_bulks_again_overwrites_and_adds_nothing(self, delivery: Delivery) -> None:
        assert all(answer["errors"] is False for answer in delivery.second)
        assert Counter(item["result"] for item in items(delivery.second)) == {"updated": len(delivery.records)}
        assert delivery.count_after_second == delivery.count_after_first

    def test_each_record_is_in_the_index_of_its_event_month(self, client: SearchClient, records: list[dict]) -> None:
        by_index = terms_counts(aggregate(client, {"i": {"terms": {"field": "_index", "size": 100}}})["i"])
        assert by_index == Counter(index_for(PREFIX, r) for r in records)

    def test_timestamp_and_event_time_are_indexed_as_the_same_instant(
        self, client: SearchClient, records: list[dict]
    ) -> None:
        differs = "doc['@timestamp'].value.toInstant() != doc['eventTime'].value.toInstant()"
        mismatched = client.count(INDICES, {"script": {"script": {"source": differs}}})
        assert mismatched == 0
        assert client.count(INDICES, {"exists": {"field": "@timestamp"}}) == len(records)

    def test_every_event_type_is_present(self, client: SearchClient, records: list[dict]) -> None:
        names = terms_counts(aggregate(client, {"n": {"terms": {"field": "eventName", "size": 1000}}})["n"])
        assert names == Counter(r["eventName"] for r in records)
        assert len(names) >= 117  # the 116 known types and a future one

    def test_records_without_an_address_are_kept_with_the_ip_ignored(
        self, client: SearchClient, records: list[dict]
    ) -> None:
        empty = sum(1 for r in records if r["srcIP"] == "")
        assert empty > 0
        assert client.count(INDICES, {"term": {"_ignored": "srcIP"}}) == empty
        assert client.count(INDICES, {"term": {"_ignored": "dstIP"}}) == len(records)  # always ""
        assert client.count(INDICES, {"exists": {"field": "srcIP"}}) == len(records) - empty

    def test_ip_fields_answer_address_and_network_queries(self, client: SearchClient, records: list[dict]) -> None:
        address = next(r["srcIP"] for r in records if "." in r["srcIP"])
        network = address.rsplit(".", 1)[0] + ".0/24"
        in_network = sum(1 for r in records if r["srcIP"].startswith(address.rsplit(".", 1)[0] + "."))
        assert client.count(INDICES, {"term": {"srcIP": address}}) == sum(1 for r in records if r["srcIP"] == address)
        assert client.count(INDICES, {"term": {"srcIP": network}}) == in_network
        assert client.count(INDICES, {"term": {"srcIP": "2001:db8::"}}) == 1

    def test_dotted_tag_keys_are_searchable(self, client: SearchClient, records: list[dict]) -> None:
        repo = Counter(r["tags"]["data.repo.name"] for r in records if "data.repo.name" in r["tags"])
        name, expected = repo.most_common(1)[0]
        assert client.count(INDICES, {"term": {"tags.data.repo.name": name}}) == expected

    def test_actor_keys_are_searchable(self, client: SearchClient, records: list[dict]) -> None:
        user, expected = Counter(r["actor"]["user"] for r in records).most_common(1)[0]
        assert client.count(INDICES, {"term": {"actor.user": user}}) == expected

    def test_the_truncated_record_is_indexed_and_flagged(self, client: SearchClient, records: list[dict]) -> None:
        truncated = [r for r in records if r["tags"].get("truncated") == "true"]
        assert client.count(INDICES, {"term": {"tags.truncated": "true"}}) == len(truncated)

    def test_the_longest_raw_log_is_stored_whole(self, client: SearchClient, records: list[dict]) -> None:
        longest = max(records, key=lambda r: len(r["rawLog"]))
        hit = client.get(f"/{index_for(PREFIX, longest)}/_doc/{longest['id']}")
        assert hit["_source"]["rawLog"] == longest["rawLog"]
        assert client.count(INDICES, {"match_phrase": {"rawLog": longest["eventID"]}}) >= 1

    def test_message_is_searchable_as_text(self, client: SearchClient, records: list[dict]) -> None:
        expected = sum(1 for r in records if "secret" in r["message"].lower().split())
        assert expected > 0
        assert client.count(INDICES, {"match": {"message": "secret"}}) == expected


@needs_opensearch
class TestDashboardQueries:
    """The aggregations behind the dashboards, against the numbers Python computes from the records."""

    def test_events_over_time_by_scope(self, client: SearchClient, records: list[dict]) -> None:
        aggs = {"day": {
            "date_histogram": {"field": "eventTime", "calendar_interval": "1d", "time_zone": "UTC", "min_doc_count": 1},
            "aggs": {"scope": {"terms": {"field": "tagsScope", "size": 100}}},
        }}  # fmt: skip
        got = {
            (day["key_as_string"][:10], scope["key"]): scope["doc_count"]
            for day in aggregate(client, aggs)["day"]["buckets"]
            for scope in day["scope"]["buckets"]
        }
        assert got == Counter((r["eventTime"][:10], r["tags"]["scope"]) for r in records)

    def test_scope_filters_on_the_flat_object_subfield(self, client: SearchClient, records: list[dict]) -> None:
        scopes = Counter(r["tags"]["scope"] for r in records)
        filters = {scope: {"term": {"tags.scope": scope}} for scope in scopes}
        got = aggregate(client, {"s": {"filters": {"filters": filters}}})["s"]["buckets"]
        assert {scope: bucket["doc_count"] for scope, bucket in got.items()} == scopes

    def test_top_actors(self, client: SearchClient, records: list[dict]) -> None:
        buckets = aggregate(client, {"a": top_terms("authorUser", 10)})["a"]["buckets"]
        assert [(b["key"], b["doc_count"]) for b in buckets] == top(Counter(r["authorUser"] for r in records), 10)

    def test_top_event_types(self, client: SearchClient, records: list[dict]) -> None:
        buckets = aggregate(client, {"e": top_terms("eventName", 10)})["e"]["buckets"]
        assert [(b["key"], b["doc_count"]) for b in buckets] == top(Counter(r["eventName"] for r in records), 10)

    def test_token_usage_by_role(self, client: SearchClient, records: list[dict]) -> None:
        got = terms_counts(aggregate(client, {"r": {"terms": {"field": "tokenRole", "size": 50}}})["r"])
        assert got == Counter(r["tokenRole"] for r in records)

    def test_settings_and_security_changes(self, client: SearchClient, records: list[dict]) -> None:
        query = {"bool": {"should": [
            {"prefix": {"eventName": "org.settings."}}, {"term": {"eventName": "org.update_settings"}},
        ], "minimum_should_match": 1}}  # fmt: skip
        got = terms_counts(aggregate(client, {"e": {"terms": {"field": "eventName", "size": 100}}}, query)["e"])
        expected = Counter(
            r["eventName"] for r in records
            if r["eventName"].startswith("org.settings.") or r["eventName"] == "org.update_settings"
        )  # fmt: skip
        assert got == expected
        assert len(expected) > 10

    def test_secrets_and_variables_changes(self, client: SearchClient, records: list[dict]) -> None:
        query = {"bool": {"should": [
            {"wildcard": {"eventName": "*secret*"}}, {"wildcard": {"eventName": "*variable*"}},
        ], "minimum_should_match": 1}}  # fmt: skip
        got = terms_counts(aggregate(client, {"e": {"terms": {"field": "eventName", "size": 100}}}, query)["e"])
        names = (r["eventName"] for r in records)
        expected = Counter(name for name in names if "secret" in name or "variable" in name)
        assert got == expected
        assert len(expected) >= 9

    def test_source_countries(self, client: SearchClient, records: list[dict]) -> None:
        got = terms_counts(aggregate(client, {"c": {"terms": {"field": "locationCountry", "size": 300}}})["c"])
        assert got == Counter(r["locationCountry"] for r in records)

    def test_resources(self, client: SearchClient, records: list[dict]) -> None:
        got = terms_counts(aggregate(client, {"r": {"terms": {"field": "resources", "size": 10_000}}})["r"])
        assert got == Counter(resource for r in records for resource in r["resources"])

    def test_read_only_events(self, client: SearchClient, records: list[dict]) -> None:
        got = aggregate(client, {"r": {"terms": {"field": "readOnly"}}})["r"]["buckets"]
        assert {b["key_as_string"]: b["doc_count"] for b in got} == {
            str(value).lower(): n for value, n in Counter(r["readOnly"] for r in records).items()
        }

    def test_latest_events(self, client: SearchClient, records: list[dict]) -> None:
        body = {"size": 25, "sort": [{"eventTime": "desc"}, {"id": "asc"}], "_source": ["id"]}
        got = [hit["_source"]["id"] for hit in search(client, body)["hits"]["hits"]]
        by_id = sorted(records, key=lambda r: r["id"])
        latest = sorted(by_id, key=lambda r: r["eventTime"], reverse=True)[:25]
        assert got == [r["id"] for r in latest]


def plugin_record(event: dict, workdir: Path, **settings: str) -> dict:
    """The one record hf-audit-poll prints for `event`."""
    lines = export_lines([event], workdir, **settings)
    assert len(lines) == 1
    return json.loads(lines[0])


def limit_event(seed: int) -> dict:
    created = datetime.now(UTC) - timedelta(hours=1)
    return make_event("repo.create", created, rng=random.Random(seed), org=ORG)


@needs_opensearch
class TestRecordsAtTheLimits:
    """Records the plugin prints for events with values that stress the mapping, each in its own bulk."""

    @staticmethod
    def send(client: SearchClient, record: dict, prefix: str) -> dict:
        install_template(client, prefix)
        answer = client.bulk(bulk_body([record], prefix))
        return answer["items"][0]["index"]

    def test_keyword_values_beyond_the_lucene_term_limit_are_accepted(
        self, client: SearchClient, tmp_path: Path
    ) -> None:
        event = limit_event(1)
        event["location"]["formatted"] = "é" * 20_000  # 40 kB of UTF-8: over the 32766-byte term limit
        # The value is also in rawLog: a line bound of 128 KiB (with a Buf_Size to match) keeps both whole.
        record = plugin_record(event, tmp_path, HF_AUDIT_MAX_LINE_BYTES="131072")
        assert len(record["locationFormatted"].encode()) > 32766
        item = self.send(client, record, "limits-keyword")
        assert item["status"] == 201, item
        assert client.count("limits-keyword-*", {"term": {"locationFormatted": record["locationFormatted"]}}) == 0

    def test_unknown_new_fields_are_kept_in_source_without_a_mapping_change(
        self, client: SearchClient, tmp_path: Path
    ) -> None:
        record = plugin_record(limit_event(2), tmp_path)
        record["futureColumn"] = {"nested": [1, "two", {"three": 3.0}]}  # a column a later plugin may add
        item = self.send(client, record, "limits-unknown")
        assert item["status"] == 201, item
        source = client.get(f"/{index_for('limits-unknown', record)}/_doc/{record['id']}")["_source"]
        assert source["futureColumn"] == record["futureColumn"]
        mapping = client.get("/limits-unknown-*/_mapping")
        assert all("futureColumn" not in m["mappings"]["properties"] for m in mapping.values())

    def test_actor_values_beyond_the_lucene_term_limit_are_accepted(self, client: SearchClient, tmp_path: Path) -> None:
        event = limit_event(3)
        event["author"]["avatarUrl"] = "/avatars/" + "a" * 40_000
        record = plugin_record(event, tmp_path)
        item = self.send(client, record, "limits-actor")
        assert item["status"] == 201, item


# --- the install scripts, against a recording HTTP server ------------------------------------------------

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="the install scripts need curl on PATH")


@dataclass
class Request:
    method: str
    path: str
    authorization: str | None
    body: bytes


class RecordingServer:
    """Loopback HTTP server: records every request, answers from `answers` ((method, path) -> (status, body))."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.answers: dict[tuple[str, str], tuple[int, dict]] = {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                recorder.requests.append(Request(self.command, self.path, self.headers.get("Authorization"), body))
                path = self.path.split("?", 1)[0]
                status, answer = recorder.answers.get((self.command, path), (200, {"acknowledged": True}))
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = _handle

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def run_install(script: Path, env: dict[str, str], tmp_path: Path) -> tuple[subprocess.CompletedProcess, str]:
    """Run an install script with a curl wrapper that logs its command lines; return (result, argv log)."""
    wrapper_dir = tmp_path / "bin"
    wrapper_dir.mkdir(exist_ok=True)
    log = tmp_path / "curl-argv.log"
    wrapper = wrapper_dir / "curl"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{shutil.which("curl")}" "$@"\n')
    wrapper.chmod(0o755)
    full_env = {"PATH": f"{wrapper_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path), **env}
    result = subprocess.run(["sh", str(script)], env=full_env, capture_output=True, text=True, timeout=60)
    return result, log.read_text() if log.exists() else ""


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


PASSWORD = 'pa"ss\\w0rd secret'


@needs_curl
def test_es_install_puts_the_policy_then_the_template_for_the_prefix(tmp_path: Path) -> None:
    with RecordingServer() as server:
        env = {"HF_AUDIT_ES_PORT": str(server.port), "HF_AUDIT_ES_INDEX_PREFIX": "acme-audit",
               "HF_AUDIT_ES_USER": "elastic", "HF_AUDIT_ES_PASSWORD": PASSWORD}  # fmt: skip
        result, _ = run_install(ES_INSTALL, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert [(r.method, r.path) for r in server.requests] == [
        ("PUT", "/_ilm/policy/acme-audit"), ("PUT", "/_index_template/acme-audit"),
    ]  # fmt: skip
    policy, template = (json.loads(r.body) for r in server.requests)
    assert policy == read_json(ES_ILM_POLICY)
    expected = read_json(ES_TEMPLATE)
    expected["index_patterns"] = ["acme-audit-*"]
    expected["template"]["settings"]["index"]["lifecycle"]["name"] = "acme-audit"
    assert template == expected
    assert {r.authorization for r in server.requests} == {basic("elastic", PASSWORD)}


@needs_curl
def test_install_keeps_credentials_off_curls_command_line(tmp_path: Path) -> None:
    with RecordingServer() as server:
        env = {"HF_AUDIT_ES_PORT": str(server.port), "HF_AUDIT_ES_USER": "elastic", "HF_AUDIT_ES_PASSWORD": PASSWORD}
        result, argv = run_install(ES_INSTALL, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert argv.count("--config -") == 2
    assert "secret" not in argv and "elastic" not in argv


@needs_curl
def test_es_install_sends_an_api_key_and_the_chosen_retention(tmp_path: Path) -> None:
    with RecordingServer() as server:
        env = {"HF_AUDIT_ES_PORT": str(server.port), "HF_AUDIT_ES_API_KEY": "aWQ6a2V5",
               "HF_AUDIT_ES_DELETE_AFTER": "30d"}  # fmt: skip
        result, _ = run_install(ES_INSTALL, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert {r.authorization for r in server.requests} == {"ApiKey aWQ6a2V5"}
    assert json.loads(server.requests[0].body)["policy"]["phases"]["delete"]["min_age"] == "30d"
    assert server.requests[1].path == "/_index_template/hf-audit"


@needs_curl
def test_es_install_fails_and_shows_the_answer_when_elasticsearch_refuses(tmp_path: Path) -> None:
    with RecordingServer() as server:
        server.answers[("PUT", "/_index_template/hf-audit")] = (400, {"error": "mapper_parsing_exception"})
        result, _ = run_install(ES_INSTALL, {"HF_AUDIT_ES_PORT": str(server.port)}, tmp_path)
    assert result.returncode != 0
    assert "HTTP 400" in result.stderr and "mapper_parsing_exception" in result.stderr


@needs_curl
def test_install_refuses_an_index_prefix_elasticsearch_would_refuse(tmp_path: Path) -> None:
    with RecordingServer() as server:
        env = {"HF_AUDIT_ES_PORT": str(server.port), "HF_AUDIT_ES_INDEX_PREFIX": "Audit/Logs"}
        result, _ = run_install(ES_INSTALL, env, tmp_path)
    assert result.returncode != 0 and "HF_AUDIT_ES_INDEX_PREFIX" in result.stderr
    assert server.requests == []


@needs_curl
def test_opensearch_install_creates_a_missing_policy_then_the_template(tmp_path: Path) -> None:
    with RecordingServer() as server:
        server.answers[("GET", "/_plugins/_ism/policies/hf-audit")] = (404, {"error": "not found"})
        env = {"HF_AUDIT_OPENSEARCH_PORT": str(server.port), "HF_AUDIT_OPENSEARCH_USER": "admin",
               "HF_AUDIT_OPENSEARCH_PASSWORD": PASSWORD}  # fmt: skip
        result, _ = run_install(OS_INSTALL, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/_plugins/_ism/policies/hf-audit"),
        ("PUT", "/_plugins/_ism/policies/hf-audit"),
        ("PUT", "/_index_template/hf-audit"),
    ]
    assert json.loads(server.requests[1].body) == read_json(OS_ISM_POLICY)
    assert json.loads(server.requests[2].body) == read_json(OS_TEMPLATE)
    assert {r.authorization for r in server.requests} == {basic("admin", PASSWORD)}


@needs_curl
def test_opensearch_install_updates_an_existing_policy_at_its_version(tmp_path: Path) -> None:
    with RecordingServer() as server:
        current = {"_id": "acme", "_version": 2, "_primary_term": 3, "_seq_no": 17, "policy": {}}
        server.answers[("GET", "/_plugins/_ism/policies/acme")] = (200, current)
        env = {"HF_AUDIT_OPENSEARCH_PORT": str(server.port), "HF_AUDIT_OPENSEARCH_INDEX_PREFIX": "acme"}
        result, _ = run_install(OS_INSTALL, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert server.requests[1].path == "/_plugins/_ism/policies/acme?if_seq_no=17&if_primary_term=3"
    policy = json.loads(server.requests[1].body)["policy"]
    assert policy["ism_template"][0]["index_patterns"] == ["acme-*"]
    assert json.loads(server.requests[2].body)["index_patterns"] == ["acme-*"]


@needs_curl
def test_opensearch_install_can_skip_the_policy(tmp_path: Path) -> None:
    with RecordingServer() as server:
        env = {"HF_AUDIT_OPENSEARCH_PORT": str(server.port), "HF_AUDIT_OPENSEARCH_ISM": "off"}
        result, _ = run_install(OS_INSTALL, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert [(r.method, r.path) for r in server.requests] == [("PUT", "/_index_template/hf-audit")]
