"""Elastic Common Schema names in the search templates, and the Kibana panels that use them.

Static tests hold the generated templates and saved objects to the ECS definitions of
fluent-bit/search/build_templates.py. The engine tests run on a real OpenSearch 2.19 node
(tests/opensearch_node.py; skipped, naming what is missing, without java 17+ and mvn): records
of a real poll with the enrichment databases set are indexed through the shipped template, and a
search on each ECS alias must return exactly the documents the same search on its column returns;
the constant fields must answer term queries. No Elasticsearch server is available here: its
runtime-field scripts are run by OpenSearch's Painless as search-time derived fields instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import ORG, REPO, TOKEN, poller_env, run_like_fluent_bit
from hf_audit.normalize import COLUMNS
from hf_audit.simhub.server import SimulatedHub
from ip_databases import build_databases
from opensearch_node import skip_reason, start_session_node
from search_assets import (
    ES_TEMPLATE,
    OS_TEMPLATE,
    SearchClient,
    bulk_body,
    load_build_templates,
    read_json,
    search_export_events,
)

KIBANA_NDJSON = REPO / "fluent-bit" / "kibana" / "hf-audit.ndjson"
README = (REPO / "README.md").read_text(encoding="utf-8")
ES_README = (REPO / "fluent-bit" / "elasticsearch" / "README.md").read_text(encoding="utf-8")
PREFIX = "ecstest"
build = load_build_templates()

REQUIRED_ALIASES = {
    "event.action", "event.id", "source.ip", "source.as.number", "source.as.organization.name",
    "source.geo.city_name", "user.id", "user.name",
}  # fmt: skip
REQUIRED_CONSTANTS = {"event.module", "event.dataset", "event.kind", "event.category"}


def leaf(template: dict[str, Any], dotted: str) -> dict[str, Any]:
    node: dict[str, Any] = {"properties": template["template"]["mappings"]["properties"]}
    for part in dotted.split("."):
        node = node["properties"][part]
    return node


# --- static: the templates -------------------------------------------------------------------------


def test_the_issue_s_ecs_names_are_aliases_or_constants() -> None:
    assert REQUIRED_ALIASES <= build.ECS_ALIASES.keys()
    assert REQUIRED_CONSTANTS <= build.ECS_CONSTANTS.keys()


@pytest.mark.parametrize("template_path", [ES_TEMPLATE, OS_TEMPLATE], ids=["elasticsearch", "opensearch"])
def test_every_alias_points_at_a_record_column_of_the_template(template_path: Path) -> None:
    template = read_json(template_path)
    properties = template["template"]["mappings"]["properties"]
    for name, path in build.ECS_ALIASES.items():
        assert leaf(template, name) == {"type": "alias", "path": path}, name
        assert path in COLUMNS and "type" in properties[path], name
        assert properties[path]["type"] not in ("alias", "flattened", "flat_object", "object"), name


@pytest.mark.parametrize("template_path", [ES_TEMPLATE, OS_TEMPLATE], ids=["elasticsearch", "opensearch"])
def test_constant_fields_are_constant_keywords_with_their_value(template_path: Path) -> None:
    template = read_json(template_path)
    for name, value in build.ECS_CONSTANTS.items():
        assert leaf(template, name) == {"type": "constant_keyword", "value": value}, name


def test_elasticsearch_computes_what_an_alias_cannot_express() -> None:
    runtime = read_json(ES_TEMPLATE)["template"]["mappings"]["runtime"]
    assert runtime["source.geo.location"]["type"] == "geo_point"
    assert runtime["user_agent.original"]["type"] == "keyword"
    assert runtime["source.geo.country_iso_code"]["type"] == "keyword"
    for name, spec in runtime.items():
        assert "doc[" not in spec["script"]["source"], f"{name} must read _source: it cannot fail on any index"


def test_opensearch_has_no_dotted_derived_fields() -> None:
    derived = read_json(OS_TEMPLATE)["template"]["mappings"]["derived"]
    assert all("." not in name for name in derived), "OpenSearch 2.19 cannot allocate such an index"


def test_no_record_column_changes_for_ecs() -> None:
    es = read_json(ES_TEMPLATE)["template"]["mappings"]["properties"]
    assert set(es) - set(build.ecs_properties()) == {"@timestamp", *COLUMNS}


# --- static: the Kibana objects --------------------------------------------------------------------


def kibana_objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in KIBANA_NDJSON.read_text(encoding="utf-8").splitlines()]


def dashboard_panels() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dashboard = next(obj for obj in kibana_objects() if obj["type"] == "dashboard")
    return dashboard, json.loads(dashboard["attributes"]["panelsJSON"])


def test_dashboard_has_a_map_of_source_locations_on_the_ecs_geo_point() -> None:
    dashboard, panels = dashboard_panels()
    maps = [panel for panel in panels if panel["type"] == "map"]
    assert len(maps) == 1
    layers = json.loads(maps[0]["embeddableConfig"]["attributes"]["layerListJSON"])
    data_layers = [layer for layer in layers if layer["sourceDescriptor"]["type"].startswith("ES_")]
    assert [layer["sourceDescriptor"]["geoField"] for layer in data_layers] == ["source.geo.location"]
    runtime = read_json(ES_TEMPLATE)["template"]["mappings"]["runtime"]
    assert runtime["source.geo.location"]["type"] == "geo_point"
    # Kibana resolves a by-value map layer's data view from <panelIndex>:<indexPatternRefName>.
    references = {ref["name"]: ref for ref in dashboard["references"]}
    for index, layer in enumerate(layers):
        ref_name = layer["sourceDescriptor"].get("indexPatternRefName")
        if ref_name:
            assert ref_name == f"layer_{index}_source_index_pattern"
            assert references[f"{maps[0]['panelIndex']}:{ref_name}"]["id"] == "hf-audit-data-view"


def test_dashboard_has_a_panel_by_as_organization() -> None:
    _, panels = dashboard_panels()
    fields = {
        column.get("sourceField")
        for panel in panels
        if panel["type"] == "lens"
        for layer in panel["embeddableConfig"]["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].values()
        for column in layer["columns"].values()
    }
    assert "srcASOrganization" in fields


def test_kibana_scope_field_is_the_opensearch_derived_field() -> None:
    data_view = next(obj for obj in kibana_objects() if obj["type"] == "index-pattern")
    kibana = json.loads(data_view["attributes"]["runtimeFieldMap"])["tagsScope"]
    opensearch = read_json(OS_TEMPLATE)["template"]["mappings"]["derived"]["tagsScope"]
    assert kibana == opensearch


def test_readme_names_every_ecs_field_and_what_each_engine_lacks() -> None:
    for name in [*build.ECS_ALIASES, *build.ECS_CONSTANTS, *build.COMPUTED_FIELDS]:
        assert f"`{name}`" in ES_README, name
    assert "OpenSearch" in ES_README and "constant_keyword" in ES_README


# --- the real engine -------------------------------------------------------------------------------

needs_opensearch = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


@pytest.fixture(scope="module")
def client() -> SearchClient:
    return SearchClient(start_session_node().url)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """A poll of the simulated export with the City, ASN and iptoasn databases set."""
    work = tmp_path_factory.mktemp("ecs-export")
    databases = build_databases(work / "ipdb")
    settings = {
        "HF_AUDIT_GEOIP_CITY_DB": str(databases.city), "HF_AUDIT_GEOIP_ASN_DB": str(databases.asn),
        "HF_AUDIT_IPTOASN_TSV": str(databases.iptoasn),
    }  # fmt: skip
    with SimulatedHub(org=ORG, token=TOKEN, events=search_export_events(600)) as hub:
        run = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, work / "state", work, **settings))
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


@pytest.fixture(scope="module")
def indexed(client: SearchClient, records: list[dict]) -> list[dict]:
    template = read_json(OS_TEMPLATE)
    template["index_patterns"] = [f"{PREFIX}-*"]
    client.put(f"/_index_template/{PREFIX}", template)
    answer = client.bulk(bulk_body(records, PREFIX))
    assert not answer["errors"], [item for item in answer["items"] if "error" in item["index"]][:3]
    return records


def ids(client: SearchClient, query: dict) -> set[str]:
    hits = client.search(f"{PREFIX}-*", {"size": 10_000, "_source": False, "query": query})["hits"]["hits"]
    return {hit["_id"] for hit in hits}


def common_value(records: list[dict], column: str) -> Any:
    values = Counter(record[column] for record in records if record[column] not in ("", 0, 0.0))
    assert values, f"no record has a {column}: the alias test would prove nothing"
    return values.most_common(1)[0][0]


@needs_opensearch
@pytest.mark.parametrize("alias", sorted(build.ECS_ALIASES))
def test_a_search_on_an_ecs_alias_returns_the_documents_of_its_column(
    client: SearchClient, indexed: list[dict], alias: str
) -> None:
    column = build.ECS_ALIASES[alias]
    if column in ("rawLog",):  # text: a word of it
        value = "repo"
        query = lambda field: {"match": {field: value}}  # noqa: E731
    else:
        value = common_value(indexed, column)
        query = lambda field: {"term": {field: value}}  # noqa: E731
    expected = ids(client, query(column))
    assert expected, f"{column} = {value!r} matches nothing"
    assert ids(client, query(alias)) == expected
    assert ids(client, {"exists": {"field": alias}}) == ids(client, {"exists": {"field": column}})


@needs_opensearch
def test_enriched_source_columns_are_searchable_under_their_ecs_names(client: SearchClient, indexed: list[dict]) -> None:
    orange = {record["id"] for record in indexed if record["srcASNumber"] == 3215}
    assert orange
    assert ids(client, {"term": {"source.as.number": 3215}}) == orange
    assert ids(client, {"term": {"source.as.organization.name": "Orange"}}) == orange
    paris = {record["id"] for record in indexed if record["srcCity"] == "Paris"}
    assert ids(client, {"term": {"source.geo.city_name": "Paris"}}) == paris


@needs_opensearch
@pytest.mark.parametrize("name", sorted(build.ECS_CONSTANTS))
def test_a_constant_field_answers_a_term_query(client: SearchClient, indexed: list[dict], name: str) -> None:
    value = build.ECS_CONSTANTS[name]
    assert client.count(f"{PREFIX}-*", {"term": {name: value}}) == len(indexed)
    assert client.count(f"{PREFIX}-*", {"term": {name: value + "-other"}}) == 0


@needs_opensearch
def test_the_scope_field_works_on_an_index_where_no_record_has_a_scope(client: SearchClient) -> None:
    """The data view's tagsScope script on indices without tags.scope: one with our template, one
    created before it (dynamic mapping). Every shard answers; no bucket appears."""
    template = read_json(OS_TEMPLATE)
    template["index_patterns"] = ["noscope-templated-*"]
    client.put("/_index_template/noscope-templated", template)
    script = read_json(OS_TEMPLATE)["template"]["mappings"]["derived"]["tagsScope"]
    for index in ("noscope-templated-1", "noscope-dynamic-1"):
        client.bulk(
            (json.dumps({"index": {"_index": index, "_id": "1"}}) + "\n" + json.dumps({"eventName": "x", "tags": {"org": "acme"}}) + "\n").encode()
        )
        body = {"size": 0, "derived": {"scope": script}, "aggs": {"scope": {"terms": {"field": "scope"}}}}
        answer = client.search(index, body)
        assert answer["_shards"]["failed"] == 0, answer
        assert answer["aggregations"]["scope"]["buckets"] == []


@needs_opensearch
@pytest.mark.parametrize("name", sorted(build.COMPUTED_FIELDS))
def test_elasticsearch_runtime_scripts_compute_the_ecs_value_on_a_real_painless(
    client: SearchClient, indexed: list[dict], name: str
) -> None:
    spec = build.COMPUTED_FIELDS[name]
    body = {
        "size": 10_000,
        "_source": ["srcLatitude", "srcLongitude", "tags", "enrichments"],
        "derived": {"computed": spec},
        "fields": ["computed"],
        "query": {"match_all": {}},
    }
    hits = client.search(f"{PREFIX}-*", body)["hits"]["hits"]
    assert len(hits) == len(indexed)
    computed = {hit["_id"]: hit.get("fields", {}).get("computed") for hit in hits}
    by_id = {record["id"]: record for record in indexed}
    for doc_id, value in computed.items():
        record = by_id[doc_id]
        if name == "user_agent.original":
            expected = [record["tags"]["userAgent"]] if "userAgent" in record["tags"] else None
        elif name == "source.geo.country_iso_code":
            codes = [e["data"]["countryIsoCode"] for e in record["enrichments"] if e["name"] == "geoip-city" and "countryIsoCode" in e["data"]]
            expected = codes[:1] or None
        else:
            has_point = (record["srcLatitude"], record["srcLongitude"]) != (0.0, 0.0)
            expected = [(record["srcLatitude"], record["srcLongitude"])] if has_point else None
            value = [(point["lat"], point["lon"]) for point in value] if value else None
            if value and expected:
                assert value[0] == pytest.approx(expected[0], abs=1e-6), doc_id
                continue
        assert value == expected, doc_id
    assert any(value for value in computed.values()), f"no record has a {name}: the test would prove nothing"


def test_the_data_view_computes_the_map_s_geo_point_like_the_template() -> None:
    data_view = next(obj for obj in kibana_objects() if obj["type"] == "index-pattern")
    runtime = json.loads(data_view["attributes"]["runtimeFieldMap"])
    assert runtime["source.geo.location"] == build.COMPUTED_FIELDS["source.geo.location"]


# --- kibana-import.sh against a recording saved-objects endpoint ------------------------------------

IMPORT_SCRIPT = REPO / "fluent-bit" / "docker" / "kibana-import.sh"
KIBANA_ANSWER = b'{"successCount":3,"success":true,"warnings":[],"successResults":[]}'


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []
    answer = KIBANA_ANSWER

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *args: Any) -> None:
        pass


def run_import(env: dict[str, str], answer: bytes = KIBANA_ANSWER) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    handler = type("Recorder", (_Recorder,), {"seen": [], "answer": answer})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        run = subprocess.run(
            ["bash", str(IMPORT_SCRIPT)], cwd=REPO, env={"PATH": "/usr/bin:/bin", "KIBANA_URL": url, **env},
            capture_output=True, text=True, timeout=60,
        )
    finally:
        server.shutdown()
        server.server_close()
    return run, handler.seen


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="kibana-import.sh needs curl, not on PATH")


@needs_curl
def test_import_script_sends_the_kibana_file_with_kbn_xsrf() -> None:
    run, seen = run_import({})
    assert run.returncode == 0, run.stderr
    (request,) = seen
    assert request["path"] == "/api/saved_objects/_import?overwrite=true"
    assert request["headers"].get("kbn-xsrf") == "true" and "osd-xsrf" not in request["headers"]
    assert b'filename="hf-audit.ndjson"' in request["body"]


@needs_curl
def test_import_script_sends_the_opensearch_dashboards_file_with_osd_xsrf() -> None:
    run, seen = run_import({"DASHBOARDS": "opensearch-dashboards"})
    assert run.returncode == 0, run.stderr
    (request,) = seen
    assert request["headers"].get("osd-xsrf") == "true"
    assert b'filename="hf-audit-opensearch-dashboards.ndjson"' in request["body"]


@needs_curl
def test_import_script_fails_when_the_answer_is_not_a_success() -> None:
    run, _ = run_import({}, answer=b'{"successCount":2,"success":false,"errors":[{"id":"x"}]}')
    assert run.returncode == 1 and "failed" in run.stderr


def test_readme_shows_kibana_s_real_import_answer() -> None:
    kibana_readme = (REPO / "fluent-bit" / "kibana" / "README.md").read_text(encoding="utf-8")
    assert '`{"successCount":3,"success":true`' in kibana_readme
    assert '"success":true,"successCount"' not in kibana_readme
