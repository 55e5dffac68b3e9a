"""pySigma's own rule validators over the pack."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import cast

from sigma.collection import SigmaCollection
from sigma.plugins import InstalledSigmaPlugins
from sigma.rule import SigmaRule
from sigma.validation import SigmaValidator
from sigma.validators.base import SigmaRuleValidator, SigmaValidationIssue

from .pack import PackRule

# Loads the MITRE D3FEND ontology from the internet for any tag; the pack has no d3fend tags (a test
# says so), so leaving it out loses nothing and keeps validation offline.
OFFLINE_EXCLUDED = frozenset({"d3_fendtag"})


def validate_pack(pack: list[PackRule]) -> list[SigmaValidationIssue]:
    """Every validator pySigma ships, over the whole pack (uniqueness checks need all rules at once)."""
    validators = {
        name: validator
        for name, validator in InstalledSigmaPlugins.autodiscover().validators.items()
        if name not in OFFLINE_EXCLUDED
    }
    collection = SigmaCollection.from_yaml("\n---\n".join(entry.text.strip() for entry in pack))
    # pySigma annotates its plugin registry with validator instances but fills it with the classes
    # SigmaValidator expects; and its validators take correlation rules as well as plain ones.
    classes = cast("Iterable[type[SigmaRuleValidator]]", validators.values())
    rules = cast("Iterator[SigmaRule]", iter(collection.rules))
    return SigmaValidator(classes).validate_rules(rules)
