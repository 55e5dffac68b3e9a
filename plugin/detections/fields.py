"""The fields a rule may select on: the record's 51 columns and the keys of its two string maps."""

from __future__ import annotations

import re

from ..normalize import COLUMNS

MAP_COLUMNS = ("tags", "actor")  # Map(String, String) columns: `tags.data.repo.name` is tags['data.repo.name']
ARRAY_COLUMNS = ("resources",)  # a value matches when one element does
# Whole maps and the enrichment tuples hold no single value a rule could compare.
NOT_SELECTABLE = frozenset({*MAP_COLUMNS, "enrichments"})
SELECTABLE_COLUMNS = tuple(column for column in COLUMNS if column not in NOT_SELECTABLE)
# A rule field is a selectable column, or a map column, a dot and a key.
FIELD_PATTERN = re.compile(r"^(?:{}|(?:{})\..+)$".format("|".join(SELECTABLE_COLUMNS), "|".join(MAP_COLUMNS)))

# Elastic Common Schema names for the same facts, so rules written against ECS convert too.
ECS_ALIASES: dict[str | None, str | list[str]] = {
    "event.action": "eventName",
    "event.id": "eventID",
    "user.name": "authorUser",
    "user.id": "authorID",
    "source.ip": "srcIP",
    "source.geo.country_iso_code": "locationCountry",
    "source.geo.city_name": "locationCity",
    "user_agent.original": "tags.userAgent",
    "organization.name": "tags.org",
}


def is_record_field(name: str) -> bool:
    return FIELD_PATTERN.match(name) is not None


def map_key(name: str) -> tuple[str, str] | None:
    """(map column, key) for a `tags.` or `actor.` field, None for a plain column."""
    column, dot, key = name.partition(".")
    if dot and column in MAP_COLUMNS and key:
        return column, key
    return None
