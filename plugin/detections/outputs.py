"""Everything `hf-audit-rules generate` writes, as {relative path: text}, so the same function feeds
the files in fluent-bit/detections/ and the check that they are current."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .loki_ruler import ruler_file
from .pack import PackRule
from .targets import TARGETS, Conversion, Target, convert

UNSUPPORTED_FILE = "unsupported.json"


@dataclass(frozen=True)
class PackConversions:
    """Every alerting rule of the pack on every target."""

    pack: list[PackRule]
    by_target: dict[str, list[Conversion]]

    @property
    def alerts(self) -> list[PackRule]:
        return [entry for entry in self.pack if not entry.building_block]

    def converted(self, target: str) -> list[Conversion]:
        return [conversion for conversion in self.by_target[target] if conversion.converted]

    def unsupported(self) -> list[dict[str, str]]:
        return [
            {"target": target, "rule": c.rule.name, "id": str(c.rule.rule.id), "reason": c.reason or ""}
            for target, conversions in self.by_target.items()
            for c in conversions
            if not c.converted
        ]

    def targets_of(self, entry: PackRule) -> list[str]:
        return [target for target, conversions in self.by_target.items() for c in conversions if c.rule is entry and c.converted]


def convert_pack(pack: list[PackRule], targets: tuple[Target, ...] = TARGETS) -> PackConversions:
    """Building blocks (rules only correlations use) are inputs of their correlations, not alerts."""
    alerts = [entry for entry in pack if not entry.building_block]
    return PackConversions(pack, {target.name: [convert(target, entry, pack) for entry in alerts] for target in targets})


def _query_list(conversions: list[Conversion]) -> str:
    items = [
        {"rule": c.rule.name, "id": str(c.rule.rule.id), "title": c.rule.rule.title, "level": c.rule.level, "query": c.output}
        for c in conversions
    ]
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def _ndjson(objects: list[Any]) -> str:
    return "".join(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n" for item in objects)


def rendered_files(result: PackConversions) -> dict[str, str]:
    files: dict[str, str] = {
        "elasticsearch/lucene-queries.json": _query_list(result.converted("elasticsearch-lucene")),
        "elasticsearch/esql-queries.json": _query_list(result.converted("elasticsearch-esql")),
        "elasticsearch/kibana-detection-rules.ndjson": _ndjson([c.output for c in result.converted("kibana")]),
        "opensearch/lucene-queries.json": _query_list(result.converted("opensearch-lucene")),
        "opensearch/alerting-monitors.ndjson": _ndjson([c.output for c in result.converted("opensearch-monitor")]),
        "loki/logql-queries.json": _query_list(result.converted("loki")),
        "loki/hf-audit-rules.yaml": ruler_file([(c.rule, c.output) for c in result.converted("loki")]),
        UNSUPPORTED_FILE: json.dumps(result.unsupported(), indent=2, ensure_ascii=False) + "\n",
    }
    for c in result.converted("clickhouse"):
        files[f"clickhouse/{c.rule.name}.sql"] = c.output
    return files


def write_files(files: dict[str, str], out_dir: Path) -> None:
    """Write the files, and remove generated files of rules that no longer exist."""
    for stale in stale_files(files, out_dir):
        stale.unlink()
    for relative, text in files.items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def stale_files(files: dict[str, str], out_dir: Path) -> list[Path]:
    return sorted(path for path in (out_dir / "clickhouse").glob("*.sql") if path.relative_to(out_dir).as_posix() not in files)


def differing_files(files: dict[str, str], out_dir: Path) -> list[str]:
    """Relative paths whose committed text is not what the converter produces now (missing, changed, stale)."""
    differing = [
        relative
        for relative, text in files.items()
        if not (out_dir / relative).is_file() or (out_dir / relative).read_text(encoding="utf-8") != text
    ]
    return differing + [path.relative_to(out_dir).as_posix() for path in stale_files(files, out_dir)]
