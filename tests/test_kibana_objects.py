"""The shipped Kibana saved objects: well formed, self-contained, and every field they use is mapped.

No Kibana runs here. These tests hold the NDJSON to the structure Kibana's import and its migrations
expect, and hold every field a panel, query or saved search uses to the shipped index templates.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
KIBANA_DIR = REPO / "fluent-bit" / "kibana"
KIBANA_NDJSON = KIBANA_DIR / "hf-audit.ndjson"
OSD_NDJSON = KIBANA_DIR / "hf-audit-opensearch-dashboards.ndjson"
ES_TEMPLATE = REPO / "fluent-bit" / "elasticsearch" / "index-template.json"
OS_TEMPLATE = REPO / "fluent-bit" / "opensearch" / "index-template.json"

# Field types that carry doc values, so Kibana can aggregate, sort and draw charts on them.
AGGREGATABLE_TYPES = frozenset(
    {"keyword", "constant_keyword", "date", "date_nanos", "ip", "boolean",
     "long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}
)  # fmt: skip
# A key of one of these is a keyword leaf: searchable on both engines, aggregatable on ES only.
KEYED_OBJECT_TYPES = {"flattened": True, "flat_object": False}

# Attributes each type may carry in both Kibana (its create schema forbids unknown keys) and
# OpenSearch Dashboards (its .kibana mapping is strict for these types).
DASHBOARD_ATTRIBUTES = {
    "title", "description", "panelsJSON", "optionsJSON", "timeRestore", "timeFrom", "timeTo",
    "refreshInterval", "kibanaSavedObjectMeta", "version", "hits",
}  # fmt: skip
SAVED_SEARCH_ATTRIBUTES = {"title", "description", "columns", "sort", "kibanaSavedObjectMeta", "version", "hits"}
LENS_VISUALIZATION_TYPES = {"lnsXY", "lnsDatatable", "lnsPie", "lnsMetric"}


# --- loading -------------------------------------------------------------------------------------


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_saved_objects", KIBANA_DIR / "build_saved_objects.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def read_ndjson(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return read_ndjson(KIBANA_NDJSON)


def by_type(objects: list[dict[str, Any]], type_: str) -> dict[str, Any]:
    found = [obj for obj in objects if obj["type"] == type_]
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def panels(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return json.loads(by_type(objects, "dashboard")["attributes"]["panelsJSON"])


def lens_panels(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [panel for panel in panels(objects) if panel["type"] == "lens"]


def layers(lens_attributes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return lens_attributes["state"]["datasourceStates"]["formBased"]["layers"]


def load_template(path: Path) -> dict[str, Any]:
    if not path.exists():
        pytest.fail(f"{path.relative_to(REPO)} is missing: the saved objects are checked against it")
    return json.loads(path.read_text(encoding="utf-8"))


# --- field resolution ----------------------------------------------------------------------------


def mapped_fields(properties: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, type) of every mapped field, multi-fields such as message.keyword included."""
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        yield path, spec.get("type", "object")
        for sub, sub_spec in spec.get("fields", {}).items():
            yield f"{path}.{sub}", sub_spec["type"]
        yield from mapped_fields(spec.get("properties", {}), f"{path}.")


class Mapping:
    """Answers 'is this field mapped, and can Kibana aggregate on it' for one index template."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.index_patterns: list[str] = template["index_patterns"]
        self.types = dict(mapped_fields(template["template"]["mappings"]["properties"]))

    def _keyed_parent(self, field_name: str) -> str | None:
        for path, type_ in self.types.items():
            if type_ in KEYED_OBJECT_TYPES and field_name.startswith(f"{path}."):
                return path
        return None

    def exists(self, field_name: str) -> bool:
        return field_name in self.types or self._keyed_parent(field_name) is not None

    def aggregatable(self, field_name: str) -> bool:
        if field_name in self.types:
            return self.types[field_name] in AGGREGATABLE_TYPES
        parent = self._keyed_parent(field_name)
        return parent is not None and KEYED_OBJECT_TYPES[self.types[parent]]


def runtime_fields(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return json.loads(by_type(objects, "index-pattern")["attributes"].get("runtimeFieldMap", "{}"))


def script_source_fields(runtime_field: dict[str, Any]) -> set[str]:
    """The mapped fields a runtime field's Painless script reads: doc['a.b'], or a key of a source
    object (`def x = params._source['a']; ... x['b']` reads a.b)."""
    source = runtime_field["script"]["source"]
    fields = set(re.findall(r"doc\['([^']+)'\]", source))
    for variable, parent in re.findall(r"def (\w+) = params\._source\['([^']+)'\]", source):
        keys = re.findall(rf"\b{variable}\['([^']+)'\]", source)
        fields |= {f"{parent}.{key}" for key in keys} if keys else {parent}
    return fields


def kql_fields(query: str) -> set[str]:
    """Field names in a KQL query (`field : value` clauses); quoted values are left out first."""
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)
    return set(re.findall(r"([A-Za-z_@][\w.@]*)\s*:", unquoted))


def lens_source_fields(objects: list[dict[str, Any]]) -> set[str]:
    fields = set()
    for panel in lens_panels(objects):
        for layer in layers(panel["embeddableConfig"]["attributes"]).values():
            fields |= {column["sourceField"] for column in layer["columns"].values() if "sourceField" in column}
    return fields - {"___records___"}


def panel_queries(objects: list[dict[str, Any]]) -> list[str]:
    queries = [panel["embeddableConfig"]["attributes"]["state"]["query"]["query"] for panel in lens_panels(objects)]
    for obj in objects:
        meta = obj["attributes"].get("kibanaSavedObjectMeta")
        if meta:
            queries.append(json.loads(meta["searchSourceJSON"])["query"]["query"])
    return queries


def filter_fields(objects: list[dict[str, Any]]) -> set[str]:
    """Fields of the pinned filters (Lens state `filters`, searchSourceJSON `filter`)."""
    filters = [f for panel in lens_panels(objects) for f in panel["embeddableConfig"]["attributes"]["state"]["filters"]]
    for obj in objects:
        meta = obj["attributes"].get("kibanaSavedObjectMeta")
        if meta:
            filters += json.loads(meta["searchSourceJSON"]).get("filter", [])
    return {f["meta"]["key"] for f in filters}


def fields_panels_aggregate_on(objects: list[dict[str, Any]]) -> set[str]:
    """Mapped fields behind every chart column, query and filter; runtime fields resolve to what they read."""
    runtime = runtime_fields(objects)
    used = lens_source_fields(objects) | filter_fields(objects)
    used |= {field for query in panel_queries(objects) for field in kql_fields(query)}
    mapped = {field for field in used if field not in runtime}
    for name in used & runtime.keys():
        mapped |= script_source_fields(runtime[name])
    return mapped


def saved_search_fields(objects: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    attributes = by_type(objects, "search")["attributes"]
    return attributes["columns"], [field for field, _direction in attributes["sort"]]


# --- the NDJSON itself ---------------------------------------------------------------------------


def test_every_line_of_the_ndjson_is_one_json_object() -> None:
    text = KIBANA_NDJSON.read_text(encoding="utf-8")
    assert text.endswith("\n")
    lines = text.splitlines()
    assert all(line.strip() for line in lines), "blank line in the NDJSON"
    assert all(isinstance(json.loads(line), dict) for line in lines)


@pytest.mark.parametrize("path", [KIBANA_NDJSON, OSD_NDJSON], ids=lambda path: path.name)
def test_committed_ndjson_is_what_the_generator_writes(path: Path) -> None:
    assert path.read_text(encoding="utf-8") == load_generator().outputs()[path], (
        f"{path.name} differs from build_saved_objects.py's output: run the generator"
    )


def test_file_holds_the_data_view_the_saved_search_and_the_dashboard(objects: list[dict[str, Any]]) -> None:
    assert sorted((obj["type"], obj["id"]) for obj in objects) == [
        ("dashboard", "hf-audit-dashboard"),
        ("index-pattern", "hf-audit-data-view"),
        ("search", "hf-audit-latest-events"),
    ]


def test_every_object_has_id_type_attributes_references_and_migration_versions(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        assert isinstance(obj["id"], str) and obj["id"], obj
        assert isinstance(obj["type"], str) and obj["type"], obj
        assert isinstance(obj["attributes"], dict) and obj["attributes"].get("title"), obj["id"]
        assert isinstance(obj["references"], list), obj["id"]
        assert obj["coreMigrationVersion"] == "8.8.0", obj["id"]
        assert re.fullmatch(r"\d+\.\d+\.\d+", obj["typeMigrationVersion"]), obj["id"]


def test_no_object_claims_a_migration_version_newer_than_kibana_8_9(objects: list[dict[str, Any]]) -> None:
    # Kibana refuses to import an object stamped with a version newer than the ones it knows.
    def version(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split("."))

    for obj in objects:
        assert version(obj["typeMigrationVersion"]) <= (8, 9, 0), obj["id"]


def test_dashboard_is_stamped_at_the_version_of_its_lens_state(objects: list[dict[str, Any]]) -> None:
    # An 8.9 export: no dashboard migration re-runs on import into 8.9.
    assert by_type(objects, "dashboard")["typeMigrationVersion"] == "8.9.0"
    assert {panel["version"] for panel in panels(objects)} == {"8.9.0"}


def test_every_reference_points_at_an_object_in_the_file(objects: list[dict[str, Any]]) -> None:
    present = {(obj["type"], obj["id"]) for obj in objects}
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in present, f"{obj['id']} -> {ref}"
    for panel in lens_panels(objects):
        for ref in panel["embeddableConfig"]["attributes"]["references"]:
            assert (ref["type"], ref["id"]) in present, f"{panel['title']} -> {ref}"


# --- the saved search and the data view ----------------------------------------------------------


def test_saved_search_reads_the_data_view_through_its_index_reference(objects: list[dict[str, Any]]) -> None:
    search = by_type(objects, "search")
    source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    ref_names = {ref["name"]: ref for ref in search["references"]}
    assert ref_names[source["indexRefName"]]["id"] == by_type(objects, "index-pattern")["id"]


def test_saved_search_shows_the_agreed_columns_newest_first(objects: list[dict[str, Any]]) -> None:
    attributes = by_type(objects, "search")["attributes"]
    assert attributes["title"] == "Latest Hugging Face audit events"
    assert attributes["columns"] == ["eventName", "authorUser", "srcIP", "locationCountry", "message", "resources"]
    assert attributes["sort"] == [[by_type(objects, "index-pattern")["attributes"]["timeFieldName"], "desc"]]


def test_saved_search_attributes_fit_kibana_and_opensearch_dashboards(objects: list[dict[str, Any]]) -> None:
    assert set(by_type(objects, "search")["attributes"]) <= SAVED_SEARCH_ATTRIBUTES


def test_data_view_runtime_fields_emit_values_from_the_source(objects: list[dict[str, Any]]) -> None:
    runtime = runtime_fields(objects)
    assert runtime["tagsScope"]["type"] == "keyword", "the scope chart needs the tagsScope runtime field"
    assert runtime["source.geo.location"]["type"] == "geo_point", "the map needs a geo_point"
    for name, spec in runtime.items():
        assert "emit(" in spec["script"]["source"] and script_source_fields(spec), name
        assert name not in script_source_fields(spec), f"{name} would read itself"
        # doc['...'] throws on an index whose mapping lacks the field or maps it as text.
        assert "doc[" not in spec["script"]["source"], name


# --- the dashboard -------------------------------------------------------------------------------


def test_dashboard_attributes_fit_kibana_and_opensearch_dashboards(objects: list[dict[str, Any]]) -> None:
    attributes = by_type(objects, "dashboard")["attributes"]
    assert set(attributes) <= DASHBOARD_ATTRIBUTES
    json.loads(attributes["optionsJSON"])
    json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])


def test_dashboard_has_the_panels_a_security_engineer_opens_first(objects: list[dict[str, Any]]) -> None:
    titles = {panel["title"] for panel in panels(objects)}
    assert {
        "Events over time by scope", "Top actors", "Top event types", "Token usage by role",
        "Settings and security changes", "Secrets and variables changes", "Source countries", "Latest events",
    } <= titles  # fmt: skip


def test_every_panel_has_a_unique_index_and_a_grid_cell_inside_48_columns(objects: list[dict[str, Any]]) -> None:
    indexes = [panel["panelIndex"] for panel in panels(objects)]
    assert len(set(indexes)) == len(indexes)
    for panel in panels(objects):
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"]
        assert grid["x"] >= 0 and grid["y"] >= 0 and grid["w"] > 0 and grid["h"] > 0
        assert grid["x"] + grid["w"] <= 48, panel["title"]


def test_no_two_panels_overlap(objects: list[dict[str, Any]]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(objects):
        grid = panel["gridData"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_saved_search_panel_resolves_through_its_panel_reference(objects: list[dict[str, Any]]) -> None:
    dashboard = by_type(objects, "dashboard")
    refs = {ref["name"]: ref for ref in dashboard["references"]}
    search_panels = [panel for panel in panels(objects) if panel["type"] == "search"]
    assert len(search_panels) == 1
    panel = search_panels[0]
    ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
    assert (ref["type"], ref["id"]) == ("search", by_type(objects, "search")["id"])


def test_every_lens_layer_is_referenced_to_the_data_view_from_the_dashboard(objects: list[dict[str, Any]]) -> None:
    data_view_id = by_type(objects, "index-pattern")["id"]
    refs = {ref["name"]: ref for ref in by_type(objects, "dashboard")["references"]}
    for panel in lens_panels(objects):
        attributes = panel["embeddableConfig"]["attributes"]
        own = {ref["name"]: ref["id"] for ref in attributes["references"]}
        for layer_id in layers(attributes):
            name = f"indexpattern-datasource-layer-{layer_id}"
            assert own[name] == data_view_id, panel["title"]
            assert refs[f"{panel['panelIndex']}:{name}"]["id"] == data_view_id, panel["title"]


def test_every_lens_panel_is_well_formed(objects: list[dict[str, Any]]) -> None:
    for panel in lens_panels(objects):
        attributes = panel["embeddableConfig"]["attributes"]
        assert attributes["type"] == "lens" and attributes["visualizationType"] in LENS_VISUALIZATION_TYPES
        state = attributes["state"]
        assert state["query"]["language"] == "kuery" and isinstance(state["filters"], list)
        for layer in layers(attributes).values():
            assert layer["columnOrder"] == list(layer["columns"]), panel["title"]
            for column in layer["columns"].values():
                assert {"label", "dataType", "operationType", "isBucketed"} <= column.keys(), panel["title"]
                order_by = column.get("params", {}).get("orderBy", {})
                if order_by.get("type") == "column":
                    assert order_by["columnId"] in layer["columns"], panel["title"]


def visualization_accessors(attributes: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(layer id, column id) of every column the visualization state draws."""
    visualization = attributes["state"]["visualization"]
    if attributes["visualizationType"] == "lnsXY":
        for layer in visualization["layers"]:
            for key in ("xAccessor", "splitAccessor"):
                if key in layer:
                    yield layer["layerId"], layer[key]
            for accessor in layer["accessors"]:
                yield layer["layerId"], accessor
    elif attributes["visualizationType"] == "lnsDatatable":
        for column in visualization["columns"]:
            yield visualization["layerId"], column["columnId"]
        yield visualization["layerId"], visualization["sorting"]["columnId"]


def test_every_drawn_column_exists_in_its_lens_layer(objects: list[dict[str, Any]]) -> None:
    for panel in lens_panels(objects):
        attributes = panel["embeddableConfig"]["attributes"]
        drawn = list(visualization_accessors(attributes))
        assert drawn, panel["title"]
        for layer_id, column_id in drawn:
            assert column_id in layers(attributes)[layer_id]["columns"], f"{panel['title']}: {column_id}"


def test_kql_queries_are_balanced_and_name_fields(objects: list[dict[str, Any]]) -> None:
    for query in filter(None, panel_queries(objects)):
        assert query.count('"') % 2 == 0 and query.count("(") == query.count(")"), query
        assert kql_fields(query), query


# --- fields against the shipped index templates ---------------------------------------------------


def test_every_field_a_panel_aggregates_or_filters_on_is_aggregatable_in_the_es_template(
    objects: list[dict[str, Any]],
) -> None:
    mapping = Mapping(load_template(ES_TEMPLATE))
    used = fields_panels_aggregate_on(objects)
    assert {"eventName", "authorUser", "tokenRole", "locationCountry", "tags.scope"} <= used
    not_aggregatable = sorted(field for field in used if not mapping.aggregatable(field))
    assert not not_aggregatable, f"not aggregatable (or not mapped) in {ES_TEMPLATE.name}: {not_aggregatable}"


def test_saved_search_columns_and_sort_exist_in_the_es_template(objects: list[dict[str, Any]]) -> None:
    mapping = Mapping(load_template(ES_TEMPLATE))
    columns, sort_fields = saved_search_fields(objects)
    assert [column for column in columns if not mapping.exists(column)] == []
    assert [field for field in sort_fields if not mapping.aggregatable(field)] == []


@pytest.mark.parametrize("template_path", [ES_TEMPLATE, OS_TEMPLATE], ids=["elasticsearch", "opensearch"])
def test_data_view_time_field_is_a_date_in_the_template(objects: list[dict[str, Any]], template_path: Path) -> None:
    mapping = Mapping(load_template(template_path))
    assert mapping.types[by_type(objects, "index-pattern")["attributes"]["timeFieldName"]] == "date"


@pytest.mark.parametrize("template_path", [ES_TEMPLATE, OS_TEMPLATE], ids=["elasticsearch", "opensearch"])
def test_data_view_pattern_is_the_template_index_pattern(objects: list[dict[str, Any]], template_path: Path) -> None:
    # The data view must cover exactly the indices the template maps, e.g. hf-audit-2026.11.
    title = by_type(objects, "index-pattern")["attributes"]["title"]
    assert title in Mapping(load_template(template_path)).index_patterns
    assert fnmatch.fnmatch("hf-audit-2026.11", title)


def default_index_prefix(output_config: Path) -> str:
    """The default of `logstash_prefix: ${VAR:-default}` in a shipped es/opensearch output."""
    found = re.search(r"^\s*logstash_prefix:\s*\$\{\w+:-([^}]+)\}\s*$", output_config.read_text(), re.MULTILINE)
    assert found, f"no logstash_prefix with a default in {output_config.name}"
    return found.group(1)


@pytest.mark.parametrize("output", ["elasticsearch.yaml", "opensearch.yaml"])
def test_data_view_pattern_covers_the_default_index_names_of_the_output(
    objects: list[dict[str, Any]], output: str
) -> None:
    prefix = default_index_prefix(REPO / "fluent-bit" / "outputs" / output)
    assert by_type(objects, "index-pattern")["attributes"]["title"] == f"{prefix}-*"


def test_every_field_the_objects_use_exists_in_the_opensearch_template(objects: list[dict[str, Any]]) -> None:
    mapping = Mapping(load_template(OS_TEMPLATE))
    columns, sort_fields = saved_search_fields(objects)
    used = fields_panels_aggregate_on(objects) | set(columns) | set(sort_fields)
    assert sorted(field for field in used if not mapping.exists(field)) == []


def test_saved_search_sort_field_is_aggregatable_in_the_opensearch_template(objects: list[dict[str, Any]]) -> None:
    mapping = Mapping(load_template(OS_TEMPLATE))
    _columns, sort_fields = saved_search_fields(objects)
    assert all(mapping.aggregatable(field) for field in sort_fields)


# --- the OpenSearch Dashboards file --------------------------------------------------------------


def test_opensearch_dashboards_file_holds_only_the_data_view_and_saved_search() -> None:
    objects = read_ndjson(OSD_NDJSON)
    assert sorted(obj["type"] for obj in objects) == ["index-pattern", "search"]
    present = {(obj["type"], obj["id"]) for obj in objects}
    for obj in objects:
        assert obj["migrationVersion"].keys() == {obj["type"]}, obj["id"]
        assert "typeMigrationVersion" not in obj and "coreMigrationVersion" not in obj, obj["id"]
        assert all((ref["type"], ref["id"]) in present for ref in obj["references"]), obj["id"]
    assert set(by_type(objects, "search")["attributes"]) <= SAVED_SEARCH_ATTRIBUTES


def test_opensearch_dashboards_objects_match_the_kibana_ones(objects: list[dict[str, Any]]) -> None:
    osd = read_ndjson(OSD_NDJSON)
    assert by_type(osd, "search")["attributes"] == by_type(objects, "search")["attributes"]
    kibana_view, osd_view = by_type(objects, "index-pattern")["attributes"], by_type(osd, "index-pattern")["attributes"]
    assert (osd_view["title"], osd_view["timeFieldName"]) == (kibana_view["title"], kibana_view["timeFieldName"])
