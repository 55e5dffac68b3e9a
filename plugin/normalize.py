"""Turn one Hub event into the 51-column record (plugin/line.py makes the record one bounded line).

Every column is always present and never null, so Elasticsearch, Loki and ClickHouse see one stable
shape. Unknown event types flow through like any other.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import Any, Self

from pydantic import BaseModel, ConfigDict

from .events import ExportEvent
from .line import MAX_TAG_VALUE_CHARS, compact_json_clipped
from .timefmt import format_time

COLUMNS: tuple[str, ...] = (
    "workspaceID", "sourceID", "sourceType", "sourceTTL", "receivedAt", "id", "eventTime",
    "eventName", "eventID", "srcIP", "srcASCountryCode", "srcASNumber", "srcASOrganization",
    "srcCity", "srcConnectionType", "srcISP", "srcLatitude", "srcLongitude", "srcUserType",
    "dstIP", "dstASCountryCode", "dstASNumber", "dstASOrganization", "dstCity",
    "dstConnectionType", "dstISP", "dstLatitude", "dstLongitude", "dstUserType", "actor", "tags",
    "resources", "serviceName", "enrichments", "readOnly", "rawLog", "auditID", "eventType",
    "message", "authorID", "authorUser", "authorType", "actorIP", "locationFormatted",
    "locationCountry", "locationCity", "tokenType", "tokenID", "tokenRole", "tokenLast4",
    "tokenDeleted",
)  # fmt: skip

SOURCE_TYPE = "huggingface"
SERVICE_NAME = "huggingface-hub"
# Fixed namespace so the record id of an event is the same on every machine and every poll.
_ID_NAMESPACE = uuid.UUID("6f1c1a52-8f3e-4d59-9a43-5b0f7f0c2b11")

_NO_FIELDS: dict[str, Any] = {}  # an absent author, location or token: every column takes its default

# Types that record a read or a sign-in and change nothing in the organization.
READ_ONLY_TYPES = frozenset({"org.audit_log.export", "org.sso_login"})

MAX_DATA_TAGS = 64
MAX_TAG_KEY_CHARS = 128
MAX_DATA_DEPTH = 6
MAX_RESOURCES = 32


class RecordContext(BaseModel):
    """What a poll adds to every record besides the event itself."""

    model_config = ConfigDict(frozen=True)

    org: str
    workspace_id: str
    source_id: str
    source_ttl_days: int
    received_at: datetime

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A context built afresh: a plain copy would carry this one's cached id prefix and record
        template over to another organization, source or poll time. `deep` changes nothing: every
        field is immutable."""
        return type(self)(**{**self.model_dump(), **(update or {})})

    @cached_property
    def received_at_text(self) -> str:
        return format_time(self.received_at)

    @cached_property
    def id_prefix(self) -> bytes:
        """What record_id hashes before the event id: the fixed namespace, then this organization."""
        return _ID_NAMESPACE.bytes + f"huggingface:{self.org}:".encode()

    @cached_property
    def _id_prefix_hash(self) -> Any:
        return hashlib.sha1(self.id_prefix)

    @cached_property
    def record_template(self) -> dict[str, Any]:
        """A record with every column in order: this poll's values for the columns that are the
        same in every record (the enrichment columns are empty until an enrichment fills them),
        and the event columns' defaults."""
        defaults: dict[str, Any] = {
            "workspaceID": self.workspace_id,
            "sourceID": self.source_id,
            "sourceType": SOURCE_TYPE,
            "sourceTTL": self.source_ttl_days,
            "receivedAt": self.received_at_text,
            "srcASNumber": 0,
            "srcLatitude": 0.0,
            "srcLongitude": 0.0,
            "dstASNumber": 0,
            "dstLatitude": 0.0,
            "dstLongitude": 0.0,
            "actor": {},
            "tags": {},
            "resources": [],
            "serviceName": SERVICE_NAME,
            "enrichments": [],
            "readOnly": False,
            "tokenDeleted": False,
        }
        return {column: defaults.get(column, "") for column in COLUMNS}

    def record_id(self, event_id: str) -> str:
        """record_id(org, event_id), from a hash of the fixed prefix computed once a poll."""
        sha1 = self._id_prefix_hash.copy()
        sha1.update(event_id.encode())
        return _uuid5_text(sha1)


def record_id(org: str, event_id: str) -> str:
    """uuid5(namespace, "huggingface:<org>:<_id>"), built directly: uuid.uuid5 is slow per call."""
    return _uuid5_text(hashlib.sha1(_ID_NAMESPACE.bytes + f"huggingface:{org}:{event_id}".encode()))


def _uuid5_text(sha1: Any) -> str:
    """The first 16 bytes of the hash as a UUID, with the version (5) and RFC 4122 variant bits set."""
    h = sha1.hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:32]}"


# The variant's two top bits are 10: the 17th hex digit keeps its two low bits, in 8-b.
_VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 0x3] for digit in "0123456789abcdef"}


def normalize(event: ExportEvent, raw: dict[str, Any], ctx: RecordContext) -> dict[str, Any]:
    """The record for `event` (from parse_event), whose parsed JSON object is `raw` (kept
    verbatim in rawLog)."""
    event_id, event_type, ip = event["_id"], event["type"], event.get("ip", "")
    scope, _, action = event_type.partition(".")
    location = event.get("location") or _NO_FIELDS
    author = event.get("author") or _NO_FIELDS
    token = event.get("token") or _NO_FIELDS
    oauth = event.get("oauth")
    data = event.get("data")
    tags: dict[str, str] = {"scope": scope, "action": action, "org": ctx.org}
    if user_agent := event.get("userAgent"):
        tags["userAgent"] = user_agent
    if oauth is not None:
        tags["oauth.clientId"] = oauth.get("clientId", "")
        if oauth_name := oauth.get("name"):
            tags["oauth.name"] = oauth_name
    if data is not None and not _flatten_data(data, tags):
        tags["truncated"] = "true"
    raw_log, clipped = compact_json_clipped(raw)
    if clipped:
        tags["truncated"] = "true"
        tags["truncatedFields"] = "rawLog"
    author_id, author_user, author_type = author.get("_id", ""), author.get("user", ""), author.get("type", "")
    actor = {"id": author_id, "user": author_user, "type": author_type}
    if avatar_url := author.get("avatarUrl"):
        actor["avatarUrl"] = avatar_url
    if (deleted := author.get("deleted")) is not None:
        actor["deleted"] = "true" if deleted else "false"
    if len(author_id) > MAX_TAG_VALUE_CHARS or len(author_user) > MAX_TAG_VALUE_CHARS or (
        len(author_type) > MAX_TAG_VALUE_CHARS or len(avatar_url or "") > MAX_TAG_VALUE_CHARS
    ):
        # Map values are indexed as single terms (flattened/flat_object have a term size limit).
        actor = {key: value[:MAX_TAG_VALUE_CHARS] for key, value in actor.items()}
        tags["truncated"] = "true"
    # Copying the poll's record, whose columns are in order and hold the poll's constants and the
    # defaults, then setting this event's columns costs a third of building all 51 anew.
    record = ctx.record_template.copy()
    record["id"] = ctx.record_id(event_id)
    record["eventTime"] = event["createdAt"]
    record["eventName"] = record["eventType"] = event_type
    record["eventID"] = record["auditID"] = event_id
    record["srcIP"] = record["actorIP"] = ip
    record["srcCity"] = record["locationCity"] = location.get("city", "")
    record["actor"] = actor
    record["tags"] = tags
    record["resources"] = resources_of(data, scope)
    record["enrichments"] = []  # a list of its own: records must not share a mutable value
    record["readOnly"] = event_type in READ_ONLY_TYPES
    record["rawLog"] = raw_log
    record["message"] = event.get("message", "")
    record["authorID"] = author_id
    record["authorUser"] = author_user
    record["authorType"] = author_type
    record["locationFormatted"] = location.get("formatted", "")
    record["locationCountry"] = location.get("country", "")
    record["tokenType"] = token.get("type", "")
    record["tokenID"] = token.get("id", "")
    record["tokenRole"] = token.get("role", "")
    record["tokenLast4"] = token.get("last4", "")
    record["tokenDeleted"] = token.get("deleted", False)
    return record


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return ""
    return None


def _flatten_data(data: Any, tags: dict[str, str]) -> bool:
    """Add data's scalar leaves to tags under dotted keys (`data.repo.name`); False when something
    was left out: past MAX_DATA_TAGS tags, MAX_DATA_DEPTH levels, or a key or value too long.

    Lists of scalars become one comma-separated value; lists of objects are indexed (`.0.path`).
    """
    if type(data) is dict or type(data) is list:
        return _flatten_container(data, "data", tags, 0, MAX_DATA_TAGS)[0]
    return _add_tag("data", _scalar_text(data) or "", tags)


def _add_tag(key: str, text: str, tags: dict[str, str]) -> bool:
    """One tag, cut to the key and value bounds; False when it was cut."""
    if len(text) <= MAX_TAG_VALUE_CHARS and len(key) <= MAX_TAG_KEY_CHARS:
        tags[key] = text
        return True
    tags[key[:MAX_TAG_KEY_CHARS]] = text[:MAX_TAG_VALUE_CHARS]
    return False


def _scalar_texts(items: list[Any]) -> list[str] | None:
    """Each item as tag text, or None when one is not a scalar (an object, a list)."""
    texts: list[str] = []
    for item in items:
        if type(item) is str:
            texts.append(item)
        elif (text := _scalar_text(item)) is not None:
            texts.append(text)
        else:
            return None
    return texts


def _flatten_container(
    value: dict[str, Any] | list[Any], key: str, tags: dict[str, str], depth: int, budget: int
) -> tuple[bool, int]:
    """_flatten_data below `key` for a dict or list, with `budget` tags left: whether nothing was
    left out, and the tags still left. Runs for every leaf of every event's data, so the common
    leaves (text, nested containers) are handled inline rather than through helpers."""
    if depth >= MAX_DATA_DEPTH:
        return False, budget
    if isinstance(value, list):
        texts = _scalar_texts(value)
        if texts is not None:
            if budget <= 0:
                return False, budget
            return _add_tag(key, ",".join(texts), tags), budget - 1
        children: Any = enumerate(value)
    else:
        children = value.items()
    complete = True
    prefix = key + "."
    for child_key, child in children:
        kind = type(child)
        if kind is str:
            text = child
        elif kind is dict or kind is list:
            done, budget = _flatten_container(child, f"{prefix}{child_key}", tags, depth + 1, budget)
            complete = complete and done
            continue
        elif kind is int or kind is float:  # exact types: bool, an int subclass, is spelled out below
            text = str(child)
        elif kind is bool:
            text = "true" if child else "false"
        elif child is None:
            text = ""
        else:
            text = _scalar_text(child)
            if text is None:
                continue  # not a JSON value: nothing to add
        if budget <= 0:
            complete = False
            continue  # the budget is spent: no later leaf is added
        budget -= 1
        path = f"{prefix}{child_key}"
        if len(text) <= MAX_TAG_VALUE_CHARS and len(path) <= MAX_TAG_KEY_CHARS:
            tags[path] = text
        else:
            tags[path[:MAX_TAG_KEY_CHARS]] = text[:MAX_TAG_VALUE_CHARS]
            complete = False
    return complete, budget


def _repo_resource(repo: Any) -> str | None:
    if isinstance(repo, str) and repo:
        return f"model:{repo}"
    if isinstance(repo, dict):
        name = repo.get("name") or repo.get("id")
        if isinstance(name, str) and name:
            kind = repo.get("type") if isinstance(repo.get("type"), str) else "model"
            return f"{kind}:{name}"
    return None


def _named(prefix: str, value: Any, fields: tuple[str, ...]) -> str | None:
    if isinstance(value, str) and value:
        return f"{prefix}:{value}"
    if isinstance(value, dict):
        for field in fields:
            found = value.get(field)
            if isinstance(found, str) and found:
                return f"{prefix}:{found}"
    return None


# data key -> (resource kind, the fields of an object value that name it)
_NAMED_RESOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "collection": ("collection", ("slug", "id")),
    "resourceGroup": ("resource_group", ("id", "name")),
    "job": ("job", ("id",)),
    "scheduledJob": ("scheduled_job", ("id",)),
    "serviceAccount": ("service_account", ("id", "name")),
    "user": ("user", ("user", "name")),
}
_REPO_KEYS = frozenset({"repo", "repoId", "from", "to"})
_RESOURCE_KEYS = frozenset({*_REPO_KEYS, "users", *_NAMED_RESOURCES})


def resources_of(data: Any, scope: str) -> list[str]:
    """The Hub resources an event's data names, as `kind:identifier` strings, in a fixed order
    (the same event gives the same row)."""
    if type(data) is not dict or _RESOURCE_KEYS.isdisjoint(data):
        return []
    found: list[str] = []
    if not _REPO_KEYS.isdisjoint(data):
        for key in ("repo", "repoId"):
            if key in data and (repo := _repo_resource(data[key])):
                found.append(repo)
        if scope == "repo" and isinstance(data.get("from"), str) and isinstance(data.get("to"), str):
            kind = found[0].split(":", 1)[0] if found else "model"
            found += [f"{kind}:{data['from']}", f"{kind}:{data['to']}"]
    if not _NAMED_RESOURCES.keys().isdisjoint(data):
        for key, (prefix, fields) in _NAMED_RESOURCES.items():
            if key in data and (name := _named(prefix, data[key], fields)):
                found.append(name)
    users = data.get("users")
    if isinstance(users, list):
        found += [name for user in users if (name := _named("user", user, ("user", "name")))]
    return found if len(found) < 2 else list(dict.fromkeys(found))[:MAX_RESOURCES]
