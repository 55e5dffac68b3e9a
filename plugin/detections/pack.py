"""The rule pack shipped in this package, and the ATT&CK records its tags use, read offline."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.data import mitre_attack
from sigma.rule import SigmaRule

RULES_DIR = Path(__file__).resolve().parent / "rules"
# The few ATT&CK tactics and techniques the rules are tagged with, as STIX objects in the shape of
# MITRE's enterprise-attack.json: pySigma otherwise downloads the whole file at conversion time.
ATTACK_FILE = Path(__file__).resolve().parent / "attack" / "enterprise-attack-subset.json"
LOGSOURCE = {"product": "huggingface", "service": "audit"}


@dataclass(frozen=True)
class PackRule:
    """One rule file of the pack."""

    name: str
    path: Path
    text: str
    rule: SigmaRule | SigmaCorrelationRule
    # Referenced only by correlations with `generate: false`: a building block, not an alert itself.
    building_block: bool

    @property
    def is_correlation(self) -> bool:
        return isinstance(self.rule, SigmaCorrelationRule)

    @property
    def level(self) -> str:
        return self.rule.level.name.lower() if self.rule.level else "none"

    @property
    def references(self) -> list[str]:
        """Names or ids of the rules a correlation counts (empty for a plain rule)."""
        if isinstance(self.rule, SigmaCorrelationRule):
            return [str(reference.reference) for reference in self.rule.rules or []]
        return []


def parse_rule(text: str) -> SigmaRule | SigmaCorrelationRule:
    """One rule file's rule; a correlation's references stay unresolved here."""
    document = yaml.safe_load(text)
    if isinstance(document, dict) and "correlation" in document:
        return SigmaCorrelationRule.from_dict(document)
    return SigmaRule.from_yaml(text)


def rule_files(rules_dir: Path = RULES_DIR) -> list[Path]:
    return sorted(rules_dir.glob("*.yml"))


def load_pack(rules_dir: Path = RULES_DIR) -> list[PackRule]:
    """Every rule of the pack, in file-name order, each parsed on its own (an error names its file)."""
    files = rule_files(rules_dir)
    parsed: list[tuple[Path, str, SigmaRule | SigmaCorrelationRule]] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        rule = parse_rule(text)
        name = rule.name or path.stem
        if name != path.stem:
            raise ValueError(f"{path.name}: the rule's name is {name!r}; the file must be named after it")
        parsed.append((path, text, rule))
    generated: set[str] = set()
    blocks: set[str] = set()
    # A correlation names the rules it counts by name or by id.
    known = {key: path.stem for path, _, rule in parsed for key in (path.stem, str(rule.id))}
    for path, _, rule in parsed:
        if isinstance(rule, SigmaCorrelationRule):
            references = {str(reference.reference) for reference in rule.rules or []}
            if unknown := sorted(references - known.keys()):
                raise ValueError(f"{path.name}: the correlation counts {', '.join(unknown)}, not rules of the pack")
            (generated if rule.generate else blocks).update(known[reference] for reference in references)
    return [
        PackRule(path.stem, path, text, rule, building_block=path.stem in blocks - generated)
        for path, text, rule in parsed
    ]


def fresh_collection(entry: PackRule, pack: list[PackRule]) -> SigmaCollection:
    """A newly parsed collection of one rule (and, for a correlation, the rules it counts).

    Conversion changes rules in place (pipelines rewrite fields, the Elasticsearch backend takes the
    ATT&CK tags away), so every conversion starts from the text."""
    by_key = {key: other for other in pack for key in (other.name, str(other.rule.id))}
    texts = [by_key[reference].text for reference in entry.references] + [entry.text]
    return SigmaCollection.from_yaml("\n---\n".join(text.strip().removeprefix("---") for text in texts))


def attack_tactic_names(attack_file: Path = ATTACK_FILE) -> dict[str, str]:
    """Tactic id -> its ATT&CK display name ("TA0005" -> "Defense Evasion")."""
    bundle = json.loads(attack_file.read_text(encoding="utf-8"))
    return {
        reference["external_id"]: item["name"]
        for item in bundle["objects"]
        if item.get("type") == "x-mitre-tactic"
        for reference in item.get("external_references", [])
        if reference.get("source_name") == "mitre-attack"
    }


@contextmanager
def offline_attack_data(attack_file: Path = ATTACK_FILE) -> Iterator[None]:
    """pySigma's ATT&CK lookups read `attack_file` through a private cache for the duration: no download."""
    with tempfile.TemporaryDirectory(prefix="hf-audit-attack-") as cache_dir:
        mitre_attack.set_cache_dir(cache_dir)
        mitre_attack.set_url(str(attack_file))
        try:
            yield
        finally:
            mitre_attack.clear_cache()
            mitre_attack.set_cache_dir(str(Path(cache_dir)))  # closes the cache before the folder goes
