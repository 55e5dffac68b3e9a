#!/usr/bin/env python3
"""The one source of truth for the search-engine assets of hf-audit records.

Running this file writes, next to it:

- ``../elasticsearch/index-template.json``  composable template for Elasticsearch 8/9 (``flattened``)
- ``../elasticsearch/ilm-policy.json``      ILM policy that deletes old monthly indices
- ``../opensearch/index-template.json``     the same mapping for OpenSearch 2.x (``flat_object``)
- ``../opensearch/ism-policy.json``         ISM policy, attached to new indices by its ``ism_template``
- ``fields.json``                           every field with its type and aggregatability per engine

``--check`` writes nothing and exits 1 when a committed file differs from what it would write.

Index layout: the es/opensearch outputs use ``Logstash_Format`` with ``Logstash_DateFormat %Y.%m``,
so each record goes to ``hf-audit-YYYY.MM`` named after the month of its ``eventTime`` (the record
time). An event therefore always lands in the same index, and ``Id_Key id`` with
``Write_Operation index`` overwrites it there on re-delivery: no duplicates, whenever it is re-sent.

Only the standard library is used, so the file runs anywhere Python 3.11 does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FLUENT_BIT_DIR = HERE.parent

INDEX_PREFIX = "hf-audit"
INDEX_PATTERN = f"{INDEX_PREFIX}-*"
TEMPLATE_NAME = INDEX_PREFIX
POLICY_NAME = INDEX_PREFIX
TEMPLATE_PRIORITY = 200
TEMPLATE_VERSION = 2  # 2: ECS aliases, constant and runtime fields

# Retention: the plugin's default sourceTTL is 365 days. An index holds one calendar month and is
# created when its first event arrives, so it is deleted 365 + 31 days after creation: every event
# in it is then at least a year old. Backfilled months are created late, so they are kept longer
# (never deleted early).
RETENTION_DAYS = 365
DELETE_AFTER = f"{RETENTION_DAYS + 31}d"

# Lucene refuses a term longer than 32766 UTF-8 bytes and the whole document with it. A character
# is at most 4 bytes, so longer keyword values are left unindexed (still in _source), never refused.
KEYWORD_IGNORE_ABOVE = 8191
MESSAGE_KEYWORD_IGNORE_ABOVE = 1024

# Logical field types. Order: @timestamp, then the 51 record columns in their order.
KEYWORD = "keyword"
IP = "ip"
DATE = "date"
LONG = "long"
DOUBLE = "double"
BOOLEAN = "boolean"
STRING_MAP = "string_map"  # ES flattened / OpenSearch flat_object
TEXT_WITH_KEYWORD = "text_with_keyword"
TEXT = "text"
UNINDEXED_OBJECT = "unindexed_object"

FIELDS: tuple[tuple[str, str], ...] = (
    ("@timestamp", DATE),  # added by the es/opensearch output from the record time (= eventTime)
    ("workspaceID", KEYWORD),
    ("sourceID", KEYWORD),
    ("sourceType", KEYWORD),
    ("sourceTTL", LONG),
    ("receivedAt", DATE),
    ("id", KEYWORD),
    ("eventTime", DATE),
    ("eventName", KEYWORD),
    ("eventID", KEYWORD),
    ("srcIP", IP),
    ("srcASCountryCode", KEYWORD),
    ("srcASNumber", LONG),
    ("srcASOrganization", KEYWORD),
    ("srcCity", KEYWORD),
    ("srcConnectionType", KEYWORD),
    ("srcISP", KEYWORD),
    ("srcLatitude", DOUBLE),
    ("srcLongitude", DOUBLE),
    ("srcUserType", KEYWORD),
    ("dstIP", IP),
    ("dstASCountryCode", KEYWORD),
    ("dstASNumber", LONG),
    ("dstASOrganization", KEYWORD),
    ("dstCity", KEYWORD),
    ("dstConnectionType", KEYWORD),
    ("dstISP", KEYWORD),
    ("dstLatitude", DOUBLE),
    ("dstLongitude", DOUBLE),
    ("dstUserType", KEYWORD),
    ("actor", STRING_MAP),
    ("tags", STRING_MAP),
    ("resources", KEYWORD),
    ("serviceName", KEYWORD),
    ("enrichments", UNINDEXED_OBJECT),
    ("readOnly", BOOLEAN),
    ("rawLog", TEXT),
    ("auditID", KEYWORD),
    ("eventType", KEYWORD),
    ("message", TEXT_WITH_KEYWORD),
    ("authorID", KEYWORD),
    ("authorUser", KEYWORD),
    ("authorType", KEYWORD),
    ("actorIP", IP),
    ("locationFormatted", KEYWORD),
    ("locationCountry", KEYWORD),
    ("locationCity", KEYWORD),
    ("tokenType", KEYWORD),
    ("tokenID", KEYWORD),
    ("tokenRole", KEYWORD),
    ("tokenLast4", KEYWORD),
    ("tokenDeleted", BOOLEAN),
)

ENGINES = ("elasticsearch", "opensearch")

# --- Elastic Common Schema ------------------------------------------------------------------------
# ECS names for our columns, as `alias` fields: searches, aggregations and detection rules written
# for ECS see the records, and no value is stored twice. An alias must point at a concrete field of
# the same index, never at a key of a flattened/flat_object field, so user_agent.original (a key of
# tags) and the geo_point (two columns) are computed fields below instead.
ECS_VERSION = "8.11.0"
ECS_ALIASES: dict[str, str] = {
    "event.action": "eventName",
    "event.id": "eventID",
    "event.created": "receivedAt",
    "event.provider": "serviceName",
    "event.original": "rawLog",
    "source.ip": "srcIP",
    "source.as.number": "srcASNumber",
    "source.as.organization.name": "srcASOrganization",
    "source.geo.city_name": "srcCity",
    "source.geo.country_name": "locationCountry",
    "user.id": "authorID",
    "user.name": "authorUser",
}
# Fields every record has the same value of: constant_keyword (Elasticsearch 7.7+, OpenSearch 2.14+)
# answers queries and aggregations from the mapping alone, without a byte per document.
ECS_CONSTANTS: dict[str, str] = {
    "ecs.version": ECS_VERSION,
    "event.module": "huggingface",
    "event.dataset": "huggingface.audit",
    "event.kind": "event",
    "event.category": "configuration",  # ECS allows one constant here; most audit events change settings
}


def _source_script(body: str) -> dict[str, Any]:
    """A Painless script over _source: it works whatever the index mapped, or did not map yet."""
    return {"source": body}


# Fields computed at query time (Elasticsearch `runtime`, OpenSearch `derived`, one script text for
# both): nothing stored twice, nothing to re-index. Reading _source keeps them from failing on an
# index where no record has the key yet, or where the mapping of `tags` is not ours.
COMPUTED_FIELDS: dict[str, dict[str, Any]] = {
    "source.geo.location": {
        "type": "geo_point",
        "script": _source_script(
            "def lat = params._source['srcLatitude']; def lon = params._source['srcLongitude'];"
            " if (lat instanceof Number && lon instanceof Number && (lat != 0 || lon != 0))"
            " { emit(((Number) lat).doubleValue(), ((Number) lon).doubleValue()); }"
        ),
    },
    "source.geo.country_iso_code": {
        "type": "keyword",
        "script": _source_script(
            "def entries = params._source['enrichments'];"
            " if (entries instanceof List) { for (def entry : entries) {"
            " if (entry instanceof Map && entry['name'] == 'geoip-city' && entry['data'] instanceof Map"
            " && entry['data']['countryIsoCode'] != null) { emit(entry['data']['countryIsoCode'].toString()); return; } } }"
        ),
    },
    "user_agent.original": {
        "type": "keyword",
        "script": _source_script(
            "def tags = params._source['tags'];"
            " if (tags instanceof Map && tags['userAgent'] != null) { emit(tags['userAgent'].toString()); }"
        ),
    },
}


def _nested(dotted: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`{"a.b": spec}` as mapping properties `{"a": {"properties": {"b": spec}}}`."""
    root: dict[str, Any] = {}
    for name, spec in dotted.items():
        *parents, leaf = name.split(".")
        node = root
        for parent in parents:
            node = node.setdefault(parent, {"properties": {}})["properties"]
        node[leaf] = spec
    return root


def ecs_properties() -> dict[str, Any]:
    """The ECS alias and constant fields as mapping properties (objects holding them)."""
    fields: dict[str, dict[str, Any]] = {name: {"type": "alias", "path": path} for name, path in ECS_ALIASES.items()}
    fields |= {name: {"type": "constant_keyword", "value": value} for name, value in ECS_CONSTANTS.items()}
    return _nested(dict(sorted(fields.items())))

# OpenSearch cannot aggregate flat_object subfields (2.19 answers terms on tags.scope with stray
# "java.lang.Object@..." buckets). A derived field, computed from _source at query time, gives the
# dashboards' "by scope" split an aggregatable keyword there. Elasticsearch aggregates tags.scope.
OPENSEARCH_DERIVED_FIELDS: dict[str, dict[str, Any]] = {
    "tagsScope": {
        "type": "keyword",
        "script": {
            "source": (
                "def tags = params._source['tags'];"
                " if (tags != null && tags['scope'] != null) { emit(tags['scope']); }"
            )
        },
    }
}


def field_mapping(kind: str, engine: str) -> dict[str, Any]:
    """The mapping of one field of logical type `kind` on `engine`."""
    if kind == KEYWORD:
        return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    if kind == IP:
        # "" (no address) is malformed for an ip field: ignore_malformed keeps the document and
        # lists the field in _ignored instead of rejecting it.
        return {"type": "ip", "ignore_malformed": True}
    if kind == DATE:
        return {"type": "date", "format": "strict_date_optional_time", "ignore_malformed": True}
    if kind in (LONG, DOUBLE):
        return {"type": kind, "ignore_malformed": True}
    if kind == BOOLEAN:
        return {"type": "boolean"}
    if kind == STRING_MAP:
        if engine == "elasticsearch":
            return {"type": "flattened", "ignore_above": KEYWORD_IGNORE_ABOVE}
        return {"type": "flat_object"}  # accepts no parameters
    if kind == TEXT_WITH_KEYWORD:
        return {
            "type": "text",
            "fields": {"keyword": {"type": "keyword", "ignore_above": MESSAGE_KEYWORD_IGNORE_ABOVE}},
        }
    if kind == TEXT:
        return {"type": "text"}
    if kind == UNINDEXED_OBJECT:
        return {"type": "object", "enabled": False}
    raise ValueError(f"unknown field kind {kind!r}")


def mappings(engine: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_meta": {"source": "hf-audit", "template_version": TEMPLATE_VERSION},
        # Unknown future fields stay in _source and are never a reason to refuse a document.
        "dynamic": False,
        "properties": {**{name: field_mapping(kind, engine) for name, kind in FIELDS}, **ecs_properties()},
    }
    if engine == "opensearch":
        # Not the ECS computed fields: OpenSearch 2.19 accepts a derived field with a dotted name in a
        # template, then fails to allocate the index's shard ("No type specified for field [user_agent]").
        body["derived"] = OPENSEARCH_DERIVED_FIELDS
    else:
        body["runtime"] = COMPUTED_FIELDS
    return body


def settings(engine: str) -> dict[str, Any]:
    index: dict[str, Any] = {
        "number_of_shards": 1,  # one monthly index of audit events is small
        "codec": "best_compression",
    }
    if engine == "elasticsearch":
        index["lifecycle"] = {"name": POLICY_NAME}
    return {"index": index}


def index_template(engine: str) -> dict[str, Any]:
    description = (
        "hf-audit: Hugging Face audit-log records shipped by Fluent Bit, one index per month "
        f"of eventTime ({INDEX_PREFIX}-YYYY.MM)"
    )
    return {
        "index_patterns": [INDEX_PATTERN],
        "priority": TEMPLATE_PRIORITY,
        "version": TEMPLATE_VERSION,
        "_meta": {"description": description, "managed_by": "hf-audit"},
        "template": {"settings": settings(engine), "mappings": mappings(engine)},
    }


def ilm_policy() -> dict[str, Any]:
    return {
        "policy": {
            "_meta": {"description": f"hf-audit: delete a monthly index {DELETE_AFTER} after it was created"},
            "phases": {
                "hot": {"min_age": "0ms", "actions": {"set_priority": {"priority": 100}}},
                "delete": {"min_age": DELETE_AFTER, "actions": {"delete": {}}},
            },
        }
    }


def ism_policy() -> dict[str, Any]:
    return {
        "policy": {
            "description": f"hf-audit: delete a monthly index {DELETE_AFTER} after it was created",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [],
                    "transitions": [{"state_name": "delete", "conditions": {"min_index_age": DELETE_AFTER}}],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
            # Attaches the policy to every new index of the pattern (install the policy first).
            "ism_template": [{"index_patterns": [INDEX_PATTERN], "priority": 100}],
        }
    }


_TYPE_NAMES = {
    KEYWORD: "keyword",
    IP: "ip",
    DATE: "date",
    LONG: "long",
    DOUBLE: "double",
    BOOLEAN: "boolean",
    TEXT: "text",
    TEXT_WITH_KEYWORD: "text",
    UNINDEXED_OBJECT: "object",
}


def _catalog_entry(kind: str, engine: str) -> dict[str, Any]:
    mapped = field_mapping(kind, engine)
    aggregatable = kind in (KEYWORD, IP, DATE, LONG, DOUBLE, BOOLEAN)
    entry: dict[str, Any] = {
        "type": mapped["type"],
        "searchable": kind != UNINDEXED_OBJECT,
        "aggregatable": aggregatable,
    }
    if kind == STRING_MAP:
        # ES aggregates a flattened field's keys and its root (all values); OpenSearch 2.19 refuses
        # the root ("does not support doc_value in root field") and mis-buckets the keys.
        on_es = engine == "elasticsearch"
        entry["aggregatable"] = on_es
        entry["keyed_subfields"] = {"type": "keyword", "searchable": True, "aggregatable": on_es}
    return entry


def fields_catalog() -> dict[str, Any]:
    """A machine-readable summary for dashboards and tests: what each field is, per engine."""
    fields: dict[str, Any] = {}
    for name, kind in FIELDS:
        fields[name] = {engine: _catalog_entry(kind, engine) for engine in ENGINES}
        if kind == TEXT_WITH_KEYWORD:
            sub = {"type": "keyword", "searchable": True, "aggregatable": True}
            fields[f"{name}.keyword"] = {engine: dict(sub) for engine in ENGINES}
    for name, spec in OPENSEARCH_DERIVED_FIELDS.items():
        fields[name] = {
            "opensearch": {"type": spec["type"], "searchable": True, "aggregatable": True, "derived": True}
        }
    for name, path in ECS_ALIASES.items():
        fields[name] = {engine: {**fields[path][engine], "alias_of": path} for engine in ENGINES}
    for name, value in ECS_CONSTANTS.items():
        # OpenSearch 2.19 answers a terms aggregation on a constant_keyword with the index name.
        fields[name] = {
            engine: {"type": "constant_keyword", "searchable": True, "aggregatable": engine == "elasticsearch", "value": value}
            for engine in ENGINES
        }
    for name, spec in COMPUTED_FIELDS.items():
        fields[name] = {"elasticsearch": {"type": spec["type"], "searchable": True, "aggregatable": True, "runtime": True}}
    return {
        "index_pattern": INDEX_PATTERN,
        "index_name_format": f"{INDEX_PREFIX}-YYYY.MM (month of eventTime, UTC)",
        "time_fields": ["@timestamp", "eventTime", "receivedAt"],
        "default_time_field": "eventTime",
        "document_id": "id",
        "notes": {
            "keyed_subfields": (
                "actor.<key> and tags.<key> (keys may contain dots, e.g. tags.data.repo.name) are "
                "keyword leaves: searchable on both engines, aggregatable on Elasticsearch only"
            ),
            "tagsScope": "OpenSearch only: derived keyword equal to tags.scope, for aggregations",
            "ecs": (
                f"Elastic Common Schema {ECS_VERSION} names: alias fields (alias_of names the column, no data "
                "stored twice), constant_keyword fields (the same value in every record), and fields computed "
                "at query time from _source (Elasticsearch runtime fields; OpenSearch 2.19 cannot give a derived "
                "field a dotted name, so it has no such fields)"
            ),
        },
        "fields": fields,
    }


def _render(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def outputs() -> dict[Path, bytes]:
    """Every generated file and its exact bytes."""
    return {
        FLUENT_BIT_DIR / "elasticsearch" / "index-template.json": _render(index_template("elasticsearch")),
        FLUENT_BIT_DIR / "elasticsearch" / "ilm-policy.json": _render(ilm_policy()),
        FLUENT_BIT_DIR / "opensearch" / "index-template.json": _render(index_template("opensearch")),
        FLUENT_BIT_DIR / "opensearch" / "ism-policy.json": _render(ism_policy()),
        HERE / "fields.json": _render(fields_catalog()),
    }


def stale_files() -> list[Path]:
    """Generated files that are missing or differ from what this module produces."""
    stale = []
    for path, content in outputs().items():
        if not path.is_file() or path.read_bytes() != content:
            stale.append(path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"out of date: {path.relative_to(FLUENT_BIT_DIR.parent)}", file=sys.stderr)
        return 1 if stale else 0
    for path, content in outputs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        print(f"wrote {path.relative_to(FLUENT_BIT_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
