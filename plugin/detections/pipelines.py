"""The processing pipelines of each target: rule fields (record columns, `tags.`/`actor.` keys) to
what the sink stores, and the checks that make an unsupported rule fail loudly instead of converting
to a query that matches nothing."""

from __future__ import annotations

import re

from sigma.pipelines.loki import LokiCustomAttributes
from sigma.processing.conditions import ExcludeFieldCondition, IncludeFieldCondition, LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    DetectionItemFailureTransformation,
    FieldFunctionTransformation,
    FieldMappingTransformation,
    RuleFailureTransformation,
    SetCustomAttributeTransformation,
    SetStateTransformation,
)

from .fields import ECS_ALIASES, FIELD_PATTERN, MAP_COLUMNS
from .pack import LOGSOURCE

INDEX_PATTERN = "hf-audit-*"  # the es/opensearch outputs' default logstash_prefix, one index a month
# The loki output's stream labels (fluent-bit/outputs/loki.yaml): these three values are taken out of
# the line and put on the stream instead.
LOKI_LABELS = {"tags.org": "org", "tags.scope": "scope", "sourceType": "source_type"}
LOKI_STREAM_SELECTOR = '{job="hf-audit"}'
MAP_FIELD_RE = r"^(?:{})\..+$".format("|".join(MAP_COLUMNS))


def _record_pipeline() -> list[ProcessingItem]:
    """What every target shares: only our log source, ECS aliases, and no field outside the record."""
    return [
        ProcessingItem(
            identifier="hf_audit_logsource_only",
            transformation=RuleFailureTransformation(
                f"the rule's log source is not product: {LOGSOURCE['product']}, service: {LOGSOURCE['service']}"
            ),
            rule_conditions=[LogsourceCondition(**LOGSOURCE)],
            rule_condition_negation=True,
        ),
        ProcessingItem(identifier="hf_audit_ecs_aliases", transformation=FieldMappingTransformation(ECS_ALIASES)),
        ProcessingItem(
            identifier="hf_audit_record_fields_only",
            transformation=DetectionItemFailureTransformation(
                "the rule selects on a field that is not a column of the hf-audit record "
                "(nor a tags./actor. key); see huggingface_logs.columns.tsv"
            ),
            field_name_conditions=[ExcludeFieldCondition(fields=[FIELD_PATTERN.pattern], mode="re")],
        ),
    ]


def lucene_pipeline() -> ProcessingPipeline:
    """Elasticsearch and OpenSearch: the documents are the records (tags and actor are flattened /
    flat_object fields whose keys query as `tags.<key>`), so the fields stay as they are."""
    return ProcessingPipeline(name="hf-audit records in Elasticsearch/OpenSearch", priority=10, items=_record_pipeline())


def esql_pipeline() -> ProcessingPipeline:
    """ES|QL reads the same indices, but not the subfields of a flattened field."""
    items = _record_pipeline() + [
        ProcessingItem(
            identifier="hf_audit_esql_no_map_keys",
            transformation=DetectionItemFailureTransformation(
                "ES|QL cannot read the keys of tags/actor: they are a flattened field, which ES|QL "
                "does not support (use the Lucene query or the Kibana detection rule)"
            ),
            field_name_conditions=[IncludeFieldCondition(fields=[MAP_FIELD_RE], mode="re")],
        ),
        ProcessingItem(identifier="hf_audit_esql_index", transformation=SetStateTransformation("index", INDEX_PATTERN)),
    ]
    return ProcessingPipeline(name="hf-audit records for ES|QL", priority=10, items=items)


_LOKI_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_]")


def loki_json_label(field: str | None) -> str:
    """The label `| json` extracts for a record field: nested keys joined with `_`, and every
    character a label name cannot hold (the dots of tags keys) replaced by `_`."""
    assert field is not None
    return _LOKI_LABEL_CHARS.sub("_", field)


def loki_pipeline() -> ProcessingPipeline:
    """Loki: the line is the record as JSON (parsed with `| json`), minus the stream labels."""
    items = _record_pipeline() + [
        ProcessingItem(identifier="hf_audit_loki_stream_labels", transformation=FieldMappingTransformation({name: label for name, label in LOKI_LABELS.items()})),
        ProcessingItem(
            identifier="hf_audit_loki_json_labels",
            transformation=FieldFunctionTransformation(mapping={}, transform_func=loki_json_label),
            field_name_conditions=[ExcludeFieldCondition(fields=list(LOKI_LABELS.values()))],
        ),
        ProcessingItem(
            identifier="hf_audit_loki_parser",
            transformation=SetCustomAttributeTransformation(LokiCustomAttributes.PARSER.value, "json"),
        ),
        ProcessingItem(
            identifier="hf_audit_loki_stream",
            transformation=SetCustomAttributeTransformation(LokiCustomAttributes.LOGSOURCE_SELECTION.value, LOKI_STREAM_SELECTOR),
        ),
    ]
    return ProcessingPipeline(name="hf-audit records in Loki", priority=10, items=items)


def clickhouse_pipeline() -> ProcessingPipeline:
    """ClickHouse: the table's columns are the record's; the dialect writes map access for keys."""
    return ProcessingPipeline(name="hf-audit records in ClickHouse", priority=10, items=_record_pipeline())
