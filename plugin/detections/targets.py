"""Each sink's conversion of one rule, with pySigma's maintained backends (and our ClickHouse dialect).

A rule a target cannot express is returned with the reason, so the caller lists it instead of
dropping it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sigma.backends.elasticsearch.elasticsearch_esql import ESQLBackend
from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
from sigma.backends.loki import LogQLBackend
from sigma.backends.opensearch.opensearch import OpensearchLuceneBackend
from sigma.conversion.base import Backend
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError

from .clickhouse import ClickHouseBackend
from .pack import PackRule, attack_tactic_names, fresh_collection
from .pipelines import INDEX_PATTERN, clickhouse_pipeline, esql_pipeline, loki_pipeline, lucene_pipeline

SCHEDULE_MINUTES = 5
# Records reach the index minutes after their eventTime (a poll interval, the Hub's own delay), and a
# backfill brings events days old. A rule that looked at @timestamp (= eventTime) over the last run
# would miss them: the Kibana rules look at receivedAt, when hf-audit fetched the event, instead.
RECEIVED_AT = "receivedAt"
# A correlation's ES|QL rule reads back one window plus a run, so a burst is seen whole.
ESQL_LOOKBACK = "now-65m"

_LUCENE_CANNOT_COUNT = (
    "a Lucene query string matches single documents; it cannot count events per group over a time window "
    "(a correlation rule)."
)
_CORRELATION_REASONS = {
    "elasticsearch-lucene": _LUCENE_CANNOT_COUNT + " Use its ES|QL query or its Kibana rule (ES|QL).",
    "opensearch-lucene": _LUCENE_CANNOT_COUNT + " Use its ClickHouse query or its Loki rule.",
    "opensearch-monitor": "the backend generates query-level monitors only, which run one Lucene query and cannot "
    "count per group over a time window (that needs a bucket-level monitor). Use its ClickHouse query or its Loki rule.",
}


@dataclass(frozen=True)
class Conversion:
    """One rule on one target: the output, or why there is none."""

    rule: PackRule
    output: Any = None
    reason: str | None = None

    @property
    def converted(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    convert: Callable[[PackRule, list[PackRule]], Any]


def _run(backend: Backend, entry: PackRule, pack: list[PackRule], output_format: str) -> list[Any]:
    """The backend's outputs for this rule alone (a correlation's counted rules are inputs only)."""
    collection = fresh_collection(entry, pack)
    for rule in collection.rules:
        if isinstance(rule, SigmaCorrelationRule):
            rule.generate = False
    outputs = backend.convert(collection, output_format)
    if not outputs:
        raise SigmaError(f"{backend.name} produced nothing for this rule")
    return list(outputs)


def _single(outputs: list[Any], backend: str) -> Any:
    if len(outputs) != 1:
        raise SigmaError(f"{backend} split the rule into {len(outputs)} queries")
    return outputs[0]


def _single_query(outputs: list[Any], backend: str) -> str:
    """The one query text a backend's "default" format gives (pySigma types its results as Any)."""
    query = _single(outputs, backend)
    if not isinstance(query, str):
        raise SigmaError(f"{backend} gave a {type(query).__name__}, not a query text")
    return query


def _single_object(outputs: list[Any], backend: str) -> dict[str, Any]:
    """The one rule or monitor object a backend's output format gives."""
    found = _single(outputs, backend)
    if not isinstance(found, dict):
        raise SigmaError(f"{backend} gave a {type(found).__name__}, not an object")
    return found


def lucene_query(entry: PackRule, pack: list[PackRule]) -> str:
    return _single_query(_run(LuceneBackend(lucene_pipeline(), index_names=[INDEX_PATTERN]), entry, pack, "default"), "Lucene")


def esql_query(entry: PackRule, pack: list[PackRule]) -> str:
    return _single_query(_run(ESQLBackend(esql_pipeline()), entry, pack, "default"), "ES|QL")


def _with_tactic_names(rule: dict[str, Any]) -> dict[str, Any]:
    """The backend titles the tag ("Defense-Evasion"); Kibana shows ATT&CK's own name ("Defense Evasion")."""
    names = attack_tactic_names()
    for threat in rule.get("threat", []):
        threat["tactic"]["name"] = names.get(threat["tactic"]["id"], threat["tactic"]["name"])
    return rule


def kibana_rule(entry: PackRule, pack: list[PackRule]) -> dict[str, Any]:
    """A Kibana detection rule (Security > Rules > Import): Lucene for a plain rule, ES|QL for a correlation."""
    return _with_tactic_names(_kibana_rule(entry, pack))


def _kibana_rule(entry: PackRule, pack: list[PackRule]) -> dict[str, Any]:
    if entry.is_correlation:
        backend: Backend = ESQLBackend(esql_pipeline(), schedule_interval=SCHEDULE_MINUTES, schedule_interval_unit="m")
        rule = _single_object(_run(backend, entry, pack, "siem_rule_ndjson"), "ES|QL")
        rule["from"] = ESQL_LOOKBACK
        return rule
    backend = LuceneBackend(lucene_pipeline(), index_names=[INDEX_PATTERN], schedule_interval=SCHEDULE_MINUTES, schedule_interval_unit="m")
    rule = _single_object(_run(backend, entry, pack, "siem_rule_ndjson"), "Lucene")
    rule["timestamp_override"] = RECEIVED_AT
    rule["timestamp_override_fallback_disabled"] = False
    rule["from"] = f"now-{SCHEDULE_MINUTES + 1}m"  # one minute of overlap between runs
    return rule


def opensearch_query(entry: PackRule, pack: list[PackRule]) -> str:
    return _single_query(
        _run(OpensearchLuceneBackend(lucene_pipeline(), index_names=[INDEX_PATTERN]), entry, pack, "default"), "OpenSearch Lucene"
    )


# Fields pySigma adds to a monitor that are not part of the Alerting API's monitor object.
_NOT_MONITOR_FIELDS = ("sigma_meta_data", "references", "tags")


def opensearch_monitor(entry: PackRule, pack: list[PackRule]) -> dict[str, Any]:
    """A query-level Alerting monitor that looks at the records fetched since its last run."""
    backend = OpensearchLuceneBackend(lucene_pipeline(), index_names=[INDEX_PATTERN], monitor_interval=SCHEDULE_MINUTES)
    monitor = _single_object(_run(backend, entry, pack, "monitor_rule"), "OpenSearch monitor")
    for field in _NOT_MONITOR_FIELDS:
        monitor.pop(field, None)
    monitor["monitor_type"] = "query_level_monitor"
    search = monitor["inputs"][0]["search"]["query"]
    # Same reason as the Kibana rules: late records are caught by when they were received.
    search["query"]["bool"]["filter"] = [
        {
            "range": {
                RECEIVED_AT: {
                    "gte": f"{{{{period_end}}}}||-{SCHEDULE_MINUTES + 1}m",
                    "lte": "{{period_end}}",
                    "format": "epoch_millis",
                }
            }
        }
    ]
    for trigger in monitor["triggers"]:
        trigger["name"] = f"{entry.name} ({entry.rule.id})"
    return monitor


def loki_query(entry: PackRule, pack: list[PackRule]) -> str:
    return _single_query(_run(LogQLBackend(loki_pipeline()), entry, pack, "default"), "Loki")


def clickhouse_query(entry: PackRule, pack: list[PackRule]) -> str:
    return _single_query(_run(ClickHouseBackend(clickhouse_pipeline()), entry, pack, "default"), "ClickHouse")


TARGETS: tuple[Target, ...] = (
    Target("elasticsearch-lucene", "Elasticsearch Lucene query", lucene_query),
    Target("elasticsearch-esql", "Elasticsearch ES|QL query", esql_query),
    Target("kibana", "Kibana detection rule (NDJSON import)", kibana_rule),
    Target("opensearch-lucene", "OpenSearch Lucene query", opensearch_query),
    Target("opensearch-monitor", "OpenSearch Alerting monitor", opensearch_monitor),
    Target("loki", "Loki ruler alert (LogQL)", loki_query),
    Target("clickhouse", "ClickHouse SELECT", clickhouse_query),
)


def convert(target: Target, entry: PackRule, pack: list[PackRule]) -> Conversion:
    """The target's conversion of the rule, or the reason it has none."""
    try:
        return Conversion(entry, output=target.convert(entry, pack))
    except (SigmaError, NotImplementedError) as exc:
        reason = str(exc).split(" (while ")[0]
        if entry.is_correlation and isinstance(exc, NotImplementedError):
            reason = _CORRELATION_REASONS.get(target.name, reason)
        return Conversion(entry, reason=reason)
