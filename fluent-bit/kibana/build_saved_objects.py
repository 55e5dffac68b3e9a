#!/usr/bin/env python3
"""Build the Kibana saved objects for hf-audit records: a data view, a saved search and a dashboard.

Running this file rewrites, next to it, ``hf-audit.ndjson`` (Kibana 8.9+ and 9.x) and
``hf-audit-opensearch-dashboards.ndjson`` (the data view and saved search for OpenSearch Dashboards);
``--check`` writes nothing and exits 1 when a committed file differs from what it would write.
Only the standard library is used.

Format: the objects are written as Kibana 8.9+ exports them (``coreMigrationVersion`` 8.8.0, which
later versions keep, and a ``typeMigrationVersion`` per object). Each ``typeMigrationVersion`` names
the shape the object is written in, so Kibana runs only the later migrations on import (none for the
dashboard on 8.9, whose Lens and map state it already has). Kibana refuses objects that claim a newer
version than it knows, which is why they are not stamped with a recent one.

The dashboard's visualizations are Lens panels stored by value in ``panelsJSON``; their data view
references live in the dashboard's ``references`` as ``<panelIndex>:indexpattern-datasource-layer-
<layerId>`` (the form Kibana's reference extraction gives them). Every id is fixed, so a re-import
with ``overwrite=true`` replaces the objects instead of adding copies.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KIBANA_FILE = HERE / "hf-audit.ndjson"
OPENSEARCH_DASHBOARDS_FILE = HERE / "hf-audit-opensearch-dashboards.ndjson"

DATA_VIEW_ID = "hf-audit-data-view"
SAVED_SEARCH_ID = "hf-audit-latest-events"
DASHBOARD_ID = "hf-audit-dashboard"

# The es/opensearch outputs write monthly indices hf-audit-YYYY.MM; the index template matches them.
INDEX_PATTERN = "hf-audit-*"
# The event's own time: in every record, whatever shipped it (@timestamp only exists when Fluent Bit's
# es/opensearch output added it, and then holds the same instant).
TIME_FIELD = "eventTime"

CORE_MIGRATION_VERSION = "8.8.0"  # what Kibana 8.8 and every later version write in an export
TYPE_MIGRATION_VERSION = {
    "index-pattern": "8.0.0",
    "search": "8.0.0",
    # The panels' Lens state (formBased datasource) and map state are those of Kibana 8.9.
    "dashboard": "8.9.0",
}
PANEL_VERSION = "8.9.0"

# Kibana's field list has no entry for a key of a flattened field, so Lens cannot use tags.scope
# directly: this runtime field gives it one. It reads _source, not doc['tags.scope'], so it cannot
# fail whatever an index holds: no record with tags.scope yet, or an index created before the
# template, where `tags` was mapped dynamically (doc[] on its text subfields would throw). The same
# script is OpenSearch's derived field (fluent-bit/search/build_templates.py).
SCOPE_FIELD = "tagsScope"
RUNTIME_FIELDS: dict[str, dict[str, Any]] = {
    SCOPE_FIELD: {
        "type": "keyword",
        "script": {
            "source": (
                "def tags = params._source['tags'];"
                " if (tags != null && tags['scope'] != null) { emit(tags['scope']); }"
            )
        },
    }
}
# The ECS geo_point the map of source locations draws, computed at query time from srcLatitude and
# srcLongitude. The index template defines it too; the data view repeats it (same script) so the map
# also works on monthly indices created before that template was installed.
GEO_FIELD = "source.geo.location"
RUNTIME_FIELDS[GEO_FIELD] = {
    "type": "geo_point",
    "script": {
        "source": (
            "def lat = params._source['srcLatitude']; def lon = params._source['srcLongitude'];"
            " if (lat instanceof Number && lon instanceof Number && (lat != 0 || lon != 0))"
            " { emit(((Number) lat).doubleValue(), ((Number) lon).doubleValue()); }"
        )
    },
}

LATEST_EVENTS_COLUMNS = ("eventName", "authorUser", "srcIP", "locationCountry", "message", "resources")

SETTINGS_CHANGES_KQL = (
    "eventName : org.settings.* or eventName : org.update_settings"
    " or eventName : org.update_join_settings or eventName : org.token_approval.*"
)
SECRETS_CHANGES_KQL = "eventName : repo.*secret* or eventName : repo.*variable*"

COUNT_FIELD = "___records___"  # Lens' name for "count of documents"
_ID_NAMESPACE = uuid.UUID("0b6f7f4e-2a7c-4c55-9d0f-5e0f1f3a9b21")


def stable_id(*parts: str) -> str:
    """A UUID that is the same on every run, derived from a path of names."""
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(parts)))


def compact(value: Any) -> str:
    """JSON as Kibana stores it inside string attributes (panelsJSON, searchSourceJSON, ...)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def saved_object(
    type_: str, id_: str, attributes: dict[str, Any], references: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "id": id_,
        "type": type_,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSION[type_],
        "managed": False,
    }


def reference(name: str, type_: str, id_: str) -> dict[str, str]:
    return {"name": name, "type": type_, "id": id_}


# --- Lens columns --------------------------------------------------------------------------------


def count_column(label: str = "Events") -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "count",
        "isBucketed": False,
        "scale": "ratio",
        "sourceField": COUNT_FIELD,
        "params": {"emptyAsNull": True},
    }


def date_histogram_column(field_name: str) -> dict[str, Any]:
    return {
        "label": field_name,
        "dataType": "date",
        "operationType": "date_histogram",
        "isBucketed": True,
        "scale": "interval",
        "sourceField": field_name,
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def terms_column(
    field_name: str, label: str, size: int, order_by: str, *, data_type: str = "string", other_bucket: bool = False
) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": data_type,
        "operationType": "terms",
        "isBucketed": True,
        "scale": "ordinal",
        "sourceField": field_name,
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": order_by},
            "orderDirection": "desc",
            "otherBucket": other_bucket,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
            "include": [],
            "exclude": [],
            "includeIsRegex": False,
            "excludeIsRegex": False,
        },
    }


# --- Lens visualizations -------------------------------------------------------------------------


def layer_id_of(key: str) -> str:
    return stable_id(key, "layer")


@dataclass
class LensPanel:
    """One Lens chart on the dashboard: its columns, visualization state, query and grid cell."""

    key: str  # stable name the ids derive from
    title: str
    visualization_type: str
    columns: dict[str, dict[str, Any]]  # column id -> column, in display order
    visualization: dict[str, Any]
    grid: tuple[int, int, int, int]  # x, y, w, h on the 48-column grid
    kql: str = ""
    description: str = ""

    @property
    def layer_id(self) -> str:
        return layer_id_of(self.key)

    @property
    def panel_index(self) -> str:
        return stable_id(self.key, "panel")

    def layer_reference_name(self) -> str:
        return f"indexpattern-datasource-layer-{self.layer_id}"

    def attributes(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "visualizationType": self.visualization_type,
            "type": "lens",
            "references": [reference(self.layer_reference_name(), "index-pattern", DATA_VIEW_ID)],
            "state": {
                "datasourceStates": {
                    "formBased": {
                        "layers": {
                            self.layer_id: {
                                "columns": self.columns,
                                "columnOrder": list(self.columns),
                                "incompleteColumns": {},
                                "sampling": 1,
                            }
                        }
                    }
                },
                "visualization": self.visualization,
                "query": {"query": self.kql, "language": "kuery"},
                "filters": [],
                "internalReferences": [],
                "adHocDataViews": {},
            },
        }


def xy_visualization(
    layer_id: str, series_type: str, x: str, y: str, *, split: str | None = None, legend: bool = False
) -> dict[str, Any]:
    layer: dict[str, Any] = {
        "layerId": layer_id,
        "layerType": "data",
        "seriesType": series_type,
        "xAccessor": x,
        "accessors": [y],
        "position": "top",
        "showGridlines": False,
    }
    if split is not None:
        layer["splitAccessor"] = split
        layer["palette"] = {"type": "palette", "name": "default"}
    return {
        "legend": {"isVisible": legend, "position": "right", "legendSize": "auto"},
        "valueLabels": "hide",
        "fittingFunction": "None",
        "preferredSeriesType": series_type,
        "axisTitlesVisibilitySettings": {"x": False, "yLeft": False, "yRight": False},
        "tickLabelsVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "gridlinesVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "layers": [layer],
    }


def table_visualization(layer_id: str, column_ids: list[str], sort_by: str) -> dict[str, Any]:
    return {
        "layerId": layer_id,
        "layerType": "data",
        "columns": [{"columnId": column_id, "isTransposed": False} for column_id in column_ids],
        "sorting": {"columnId": sort_by, "direction": "desc"},
        "rowHeight": "single",
        "rowHeightLines": 1,
    }


def events_over_time_by_scope() -> LensPanel:
    key = "events-over-time-by-scope"
    when, scope, events = stable_id(key, "time"), stable_id(key, "scope"), stable_id(key, "count")
    return LensPanel(
        key=key,
        title="Events over time by scope",
        description="Audit events per time bucket, stacked by the event's scope (tags.scope: org, repo, jobs, ...).",
        visualization_type="lnsXY",
        columns={
            scope: terms_column(SCOPE_FIELD, "Scope", 10, events, other_bucket=True),
            when: date_histogram_column(TIME_FIELD),
            events: count_column(),
        },
        visualization=xy_visualization(layer_id_of(key), "bar_stacked", when, events, split=scope, legend=True),
        grid=(0, 0, 32, 13),
    )


def top_values_bar(
    key: str, title: str, description: str, field_name: str, label: str, size: int,
    grid: tuple[int, int, int, int], *, kql: str = "", data_type: str = "string",
) -> LensPanel:  # fmt: skip
    """A horizontal bar per value of one field, most frequent first."""
    value, events = stable_id(key, "value"), stable_id(key, "count")
    return LensPanel(
        key=key,
        title=title,
        description=description,
        visualization_type="lnsXY",
        columns={value: terms_column(field_name, label, size, events, data_type=data_type), events: count_column()},
        visualization=xy_visualization(layer_id_of(key), "bar_horizontal", value, events),
        grid=grid,
        kql=kql,
    )


def change_table(
    key: str, title: str, description: str, kql: str, rows: list[tuple[str, str, int]],
    grid: tuple[int, int, int, int],
) -> LensPanel:  # fmt: skip
    """A table of (field values..., event count) for the events matching `kql`, most frequent first."""
    events = stable_id(key, "count")
    columns = {stable_id(key, name): terms_column(name, label, size, events) for name, label, size in rows}
    columns[events] = count_column()
    return LensPanel(
        key=key,
        title=title,
        description=description,
        visualization_type="lnsDatatable",
        columns=columns,
        visualization=table_visualization(layer_id_of(key), list(columns), events),
        grid=grid,
        kql=kql,
    )


def lens_panels() -> list[LensPanel]:
    return [
        events_over_time_by_scope(),
        top_values_bar(
            "top-event-types", "Top event types", "The most frequent event types (eventName).",
            "eventName", "Event type", 15, (32, 0, 16, 13),
        ),
        top_values_bar(
            "top-actors", "Top actors", "Users and service accounts behind the most events (authorUser).",
            "authorUser", "Actor", 10, (0, 13, 12, 12),
        ),
        top_values_bar(
            "token-usage-by-role", "Token usage by role",
            "Events performed with an access token, per token role (events without a token left out).",
            "tokenRole", "Token role", 10, (12, 13, 12, 12), kql='not tokenRole : ""',
        ),
        top_values_bar(
            "source-countries", "Source countries",
            "Countries the events came from (events without a location left out).",
            "locationCountry", "Country", 15, (24, 13, 12, 12), kql='not locationCountry : ""',
        ),
        top_values_bar(
            "source-ips", "Top source IP addresses", "Client IP addresses behind the most events (srcIP).",
            "srcIP", "Source IP", 10, (36, 13, 12, 12), data_type="ip",
        ),
        change_table(
            "settings-changes", "Settings and security changes",
            "Organization settings, join settings and token-approval changes: who changed what.",
            SETTINGS_CHANGES_KQL, [("eventName", "Change", 25), ("authorUser", "Actor", 10)], (0, 25, 24, 14),
        ),
        change_table(
            "secrets-changes", "Secrets and variables changes",
            "Repository secrets and variables added, updated or removed: where and by whom (never values).",
            SECRETS_CHANGES_KQL,
            [("resources", "Repository", 25), ("eventName", "Change", 10), ("authorUser", "Actor", 10)],
            (24, 25, 24, 14),
        ),
        top_values_bar(
            "source-as-organizations", "Source networks (AS organization)",
            "Networks the events came from, by autonomous system (srcASOrganization, filled by the poller's "
            "optional ASN database or iptoasn file; events without AS data left out).",
            "srcASOrganization", "AS organization", 15, (32, 39, 16, 16), kql='not srcASOrganization : ""',
        ),
    ]  # fmt: skip


# --- the map -------------------------------------------------------------------------------------


@dataclass
class MapPanel:
    """A Kibana Maps panel stored by value: a basemap and clusters of events by source location."""

    key: str
    title: str
    description: str
    geo_field: str
    grid: tuple[int, int, int, int]

    @property
    def panel_index(self) -> str:
        return stable_id(self.key, "panel")

    # Kibana names a by-value map's data view references layer_<n>_source_index_pattern, n being the
    # layer's position in layerListJSON; the dashboard keeps them as <panelIndex>:<name>.
    def source_reference_name(self) -> str:
        return "layer_1_source_index_pattern"

    def layers(self) -> list[dict[str, Any]]:
        basemap = {
            "sourceDescriptor": {"type": "EMS_TMS", "isAutoSelect": True, "lightModeDefault": "road_map_desaturated"},
            "id": stable_id(self.key, "basemap"),
            "label": None,
            "minZoom": 0,
            "maxZoom": 24,
            "alpha": 1,
            "visible": True,
            "style": {"type": "EMS_VECTOR_TILE", "color": ""},
            "includeInFitToBounds": True,
            "type": "EMS_VECTOR_TILE",
        }
        count_size = {"name": "doc_count", "origin": "source"}
        clusters = {
            "sourceDescriptor": {
                "type": "ES_GEO_GRID",
                "id": stable_id(self.key, "source"),
                "geoField": self.geo_field,
                "metrics": [{"type": "count", "label": "Events"}],
                "requestType": "point",
                "resolution": "COARSE",
                "applyGlobalQuery": True,
                "applyGlobalTime": True,
                "applyForceRefresh": True,
                "indexPatternRefName": self.source_reference_name(),
            },
            "id": stable_id(self.key, "clusters"),
            "label": "Events by source location",
            "minZoom": 0,
            "maxZoom": 24,
            "alpha": 0.75,
            "visible": True,
            "style": {
                "type": "VECTOR",
                "properties": {
                    "icon": {"type": "STATIC", "options": {"value": "marker"}},
                    "fillColor": {
                        "type": "DYNAMIC",
                        "options": {
                            "color": "Blues", "colorCategory": "palette_0", "field": count_size,
                            "fieldMetaOptions": {"isEnabled": True, "sigma": 3}, "type": "ORDINAL",
                        },
                    },
                    "lineColor": {"type": "STATIC", "options": {"color": "#FFFFFF"}},
                    "lineWidth": {"type": "STATIC", "options": {"size": 0}},
                    "iconSize": {
                        "type": "DYNAMIC",
                        "options": {
                            "minSize": 7, "maxSize": 32, "field": count_size,
                            "fieldMetaOptions": {"isEnabled": True, "sigma": 3},
                        },
                    },
                    "iconOrientation": {"type": "STATIC", "options": {"orientation": 0}},
                    "labelText": {"type": "DYNAMIC", "options": {"field": count_size}},
                    "labelColor": {"type": "STATIC", "options": {"color": "#000000"}},
                    "labelSize": {"type": "STATIC", "options": {"size": 14}},
                    "labelBorderColor": {"type": "STATIC", "options": {"color": "#FFFFFF"}},
                    "symbolizeAs": {"options": {"value": "circle"}},
                    "labelBorderSize": {"options": {"size": "SMALL"}},
                },
                "isTimeAware": True,
            },
            "includeInFitToBounds": True,
            "type": "GEOJSON_VECTOR",
            "joins": [],
        }  # fmt: skip
        return [basemap, clusters]

    def attributes(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "layerListJSON": compact(self.layers()),
            "mapStateJSON": compact(
                {
                    "zoom": 1.2,
                    "center": {"lon": 0, "lat": 20},
                    "timeFilters": {"from": "now-7d", "to": "now"},
                    "refreshConfig": {"isPaused": True, "interval": 60000},
                    "query": {"query": "", "language": "kuery"},
                    "filters": [],
                    "settings": {"autoFitToDataBounds": False, "initialLocation": "LAST_SAVED_LOCATION"},
                }
            ),
            "uiStateJSON": compact({"isLayerTOCOpen": False, "openTOCDetails": []}),
        }


def source_locations_map() -> MapPanel:
    return MapPanel(
        key="source-locations",
        title="Source locations",
        description=(
            "Where the events came from: clusters of events by the source IP's location (source.geo.location, "
            "from srcLatitude/srcLongitude, filled by the poller's optional City database)."
        ),
        geo_field=GEO_FIELD,
        grid=(0, 39, 32, 16),
    )


# --- Saved objects -------------------------------------------------------------------------------


def data_view() -> dict[str, Any]:
    return saved_object(
        "index-pattern",
        DATA_VIEW_ID,
        {
            "title": INDEX_PATTERN,
            "name": "Hugging Face audit log (hf-audit)",
            "timeFieldName": TIME_FIELD,
            "runtimeFieldMap": compact(RUNTIME_FIELDS),
            "fieldAttrs": compact(
                {
                    SCOPE_FIELD: {"customLabel": "Scope (tags.scope)"},
                    GEO_FIELD: {"customLabel": "Source location (srcLatitude, srcLongitude)"},
                }
            ),
            "fieldFormatMap": "{}",
            "sourceFilters": "[]",
            "fields": "[]",
            "typeMeta": "{}",
        },
        [],
    )


def search_source(query: str = "") -> str:
    return compact(
        {
            "query": {"query": query, "language": "kuery"},
            "filter": [],
            "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
        }
    )


def saved_search() -> dict[str, Any]:
    return saved_object(
        "search",
        SAVED_SEARCH_ID,
        {
            "title": "Latest Hugging Face audit events",
            "description": "Every audit event, newest first, with who did it, from where and on what.",
            "columns": list(LATEST_EVENTS_COLUMNS),
            "sort": [[TIME_FIELD, "desc"]],
            "kibanaSavedObjectMeta": {"searchSourceJSON": search_source()},
        },
        [reference("kibanaSavedObjectMeta.searchSourceJSON.index", "index-pattern", DATA_VIEW_ID)],
    )


def lens_panel_json(panel: LensPanel) -> dict[str, Any]:
    x, y, w, h = panel.grid
    return {
        "version": PANEL_VERSION,
        "type": "lens",
        "gridData": {"x": x, "y": y, "w": w, "h": h, "i": panel.panel_index},
        "panelIndex": panel.panel_index,
        "embeddableConfig": {"attributes": panel.attributes(), "enhancements": {}, "hidePanelTitles": False},
        "title": panel.title,
    }


def saved_search_panel_json(panel_index: str, grid: tuple[int, int, int, int]) -> dict[str, Any]:
    x, y, w, h = grid
    return {
        "version": PANEL_VERSION,
        "type": "search",
        "gridData": {"x": x, "y": y, "w": w, "h": h, "i": panel_index},
        "panelIndex": panel_index,
        "embeddableConfig": {"enhancements": {}},
        "panelRefName": f"panel_{panel_index}",
        "title": "Latest events",
    }


def map_panel_json(panel: MapPanel) -> dict[str, Any]:
    x, y, w, h = panel.grid
    return {
        "version": PANEL_VERSION,
        "type": "map",
        "gridData": {"x": x, "y": y, "w": w, "h": h, "i": panel.panel_index},
        "panelIndex": panel.panel_index,
        "embeddableConfig": {
            "attributes": panel.attributes(),
            "mapCenter": {"lat": 20, "lon": 0, "zoom": 1.2},
            "mapBuffer": {"minLon": -180, "minLat": -66.51326, "maxLon": 180, "maxLat": 66.51326},
            "isLayerTOCOpen": False,
            "openTOCDetails": [],
            "hiddenLayers": [],
            "enhancements": {},
        },
        "title": panel.title,
    }


def dashboard() -> dict[str, Any]:
    panels = lens_panels()
    geo = source_locations_map()
    search_panel_index = stable_id("latest-events", "panel")
    panels_json = [lens_panel_json(panel) for panel in panels]
    panels_json.append(map_panel_json(geo))
    panels_json.append(saved_search_panel_json(search_panel_index, (0, 55, 48, 20)))
    references = [
        reference(f"{panel.panel_index}:{panel.layer_reference_name()}", "index-pattern", DATA_VIEW_ID)
        for panel in panels
    ]
    references.append(reference(f"{geo.panel_index}:{geo.source_reference_name()}", "index-pattern", DATA_VIEW_ID))
    references.append(reference(f"{search_panel_index}:panel_{search_panel_index}", "search", SAVED_SEARCH_ID))
    return saved_object(
        "dashboard",
        DASHBOARD_ID,
        {
            "title": "Hugging Face audit log",
            "description": (
                "Hugging Face organization audit events shipped by hf-audit: activity by scope, actors, "
                "event types, token roles, settings and secrets changes, source countries, IPs, networks "
                "and a map of source locations."
            ),
            "panelsJSON": compact(panels_json),
            "optionsJSON": compact(
                {
                    "useMargins": True,
                    "syncColors": False,
                    "syncCursor": True,
                    "syncTooltips": False,
                    "hidePanelTitles": False,
                }
            ),
            "timeRestore": True,
            "timeFrom": "now-7d",
            "timeTo": "now",
            "refreshInterval": {"pause": True, "value": 60000},
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": compact({"query": {"query": "", "language": "kuery"}, "filter": []})
            },
            "version": 1,
        },
        references,
    )


def saved_objects() -> list[dict[str, Any]]:
    """Referenced objects first, as Kibana's export orders them."""
    return [data_view(), saved_search(), dashboard()]


# OpenSearch Dashboards is a fork of Kibana 7.10: it has no Lens, keeps the legacy `migrationVersion`
# map, and its saved search mapping is strict, so it gets its own copy of the two objects it can use.
OPENSEARCH_DASHBOARDS_MIGRATION_VERSION = {"index-pattern": "7.6.0", "search": "7.9.3"}


def for_opensearch_dashboards(obj: dict[str, Any]) -> dict[str, Any]:
    attributes = dict(obj["attributes"])
    if obj["type"] == "index-pattern":
        # Without `fields`, OpenSearch Dashboards reads the field list from the indices on first use.
        attributes = {key: attributes[key] for key in ("title", "timeFieldName")}
    return {
        "id": obj["id"],
        "type": obj["type"],
        "attributes": attributes,
        "references": obj["references"],
        "migrationVersion": {obj["type"]: OPENSEARCH_DASHBOARDS_MIGRATION_VERSION[obj["type"]]},
    }


def opensearch_dashboards_objects() -> list[dict[str, Any]]:
    return [for_opensearch_dashboards(data_view()), for_opensearch_dashboards(saved_search())]


def render(objects: list[dict[str, Any]]) -> str:
    return "".join(compact(obj) + "\n" for obj in objects)


def outputs() -> dict[Path, str]:
    return {
        KIBANA_FILE: render(saved_objects()),
        OPENSEARCH_DASHBOARDS_FILE: render(opensearch_dashboards_objects()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file is not up to date")
    args = parser.parse_args(argv)
    stale = 0
    for path, text in outputs().items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"{path} is out of date: run {Path(__file__).name}", file=sys.stderr)
                stale += 1
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
