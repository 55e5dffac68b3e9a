"""Hub events for the detection rules: for every alerting rule, events it must catch and near misses it
must not, plus bursts for the correlation rules. Every event is a schema-valid export item that goes
through the plugin's own parser and normalizer, so the rules are tested on real records.

Single-event fixtures are spaced two hours apart (no correlation can cross on them); each one names
every alerting rule it fires (`fires`), and every rule's query must return exactly those events.

Where a rule needs `data`, whose shape the Hub does not document, the positives and near misses come
in each shape the rule assumes (and a granular-settings rule is tested on legacy org.update_settings
events too).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from conftest import ORG, SPEC_DIR
from hf_audit.events import parse_event
from hf_audit.line import to_line
from hf_audit.normalize import RecordContext, normalize

SINGLE_START = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
BURST_START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MEMBERS = ("alice-admin", "bob-ml", "carol-data", "dave-ops")
# Types the Hub documents besides the export schema's enum (event-types.txt): the export itself.
EXTRA_TYPES = ("org.audit_log.export",)
COUNTRIES = {
    "FR": ("Paris, Île-de-France, France", "Paris"),
    "DE": ("Berlin, Germany", "Berlin"),
    "US": ("New York, New York, United States", "New York"),
}


@dataclass(frozen=True)
class Spec:
    """One event to build: its type, data, author, and the alerting rules it must fire."""

    type: str
    data: Any = None
    fires: frozenset[str] = frozenset()
    author: str | None = None
    author_type: str = "user"
    country: str | None = "FR"
    oauth: dict[str, str] | None = None


@dataclass
class Fixture:
    key: str
    event: dict[str, Any]
    fires: frozenset[str]
    record: dict[str, Any] = field(default_factory=dict)


def ev(type_: str, data: Any = None, *also: str, **kwargs: Any) -> Spec:
    """A spec that fires the rules in `also` (the case's own rule is added by `case`)."""
    return Spec(type_, data, frozenset(also), **kwargs)


def legacy(data: Any, *also: str) -> Spec:
    """A legacy settings event: every one also fires the catch-all org-settings-changed."""
    return Spec("org.update_settings", data, frozenset({"org-settings-changed", *also}))


def case(rule: str, positives: list[Spec], negatives: list[Spec]) -> tuple[str, list[Spec], list[Spec]]:
    return rule, [Spec(**{**p.__dict__, "fires": p.fires | {rule}}) for p in positives], negatives


def legacy_shapes(name: str, old: Any, new: Any) -> list[Any]:
    """The four shapes the settings rules assume for a legacy change of `name` from old to new."""
    return [
        {"setting": name, "old": old, "new": new},
        {name: new},
        {name: {"old": old, "new": new}},
        {"changes": {name: new}},
    ]


def settings_case(rule: str, granular: str, opposite: str | None, names: tuple[str, ...], old: Any, new: Any, opposite_fires: tuple[str, ...] = ()) -> tuple[str, list[Spec], list[Spec]]:
    """Both generations: the granular type (with and without data), and each legacy shape, using each
    assumed setting name in turn; near misses are the opposite change in each shape, and the right
    value on another setting."""
    shapes = legacy_shapes(names[0], old, new)
    positives = [ev(granular, {"setting": names[0], "old": old, "new": new}), ev(granular)]
    positives += [legacy(shape) for shape in shapes]
    positives += [legacy({"changes": {name: new}}) for name in names[1:]]
    negatives = [legacy(shape) for shape in legacy_shapes(names[0], new, old)]
    negatives += [legacy({"setting": "displayName", "old": old, "new": new}), legacy({"displayName": new})]
    if opposite:
        negatives.append(ev(opposite, {"setting": names[0], "old": new, "new": old}, *opposite_fires))
    return case(rule, positives, negatives)


def types_case(rule: str, types: list[str], negatives: list[Spec]) -> tuple[str, list[Spec], list[Spec]]:
    """A rule keyed on the event type alone: one positive per type, with and without data."""
    positives = [ev(t, {"note": "type alone is the signal"} if i % 2 else None) for i, t in enumerate(types)]
    return case(rule, positives, negatives)


REPO = {"name": f"{ORG}/llm-evals", "type": "model"}

CASES: list[tuple[str, list[Spec], list[Spec]]] = [
    settings_case("org-sso-disabled", "org.settings.sso.disable", "org.settings.sso.enable", ("ssoEnabled", "sso", "requireSso"), True, False, ("org-sso-configuration-changed",)),
    settings_case("org-2fa-requirement-disabled", "org.settings.security.2fa.disable", "org.settings.security.2fa.enable", ("requireTwoFactor", "twoFactorRequired"), True, False),
    settings_case("org-ip-restriction-disabled", "org.settings.network.ip_restriction.disable", "org.settings.network.ip_restriction.enable", ("ipRestriction", "ipRestrictionEnabled"), True, False),
    settings_case("org-auth-enforcement-disabled", "org.settings.network.auth_enforcement.disable", "org.settings.network.auth_enforcement.enable", ("authEnforcement", "enforceAuthentication"), True, False),
    settings_case("org-members-privacy-disabled", "org.settings.security.members_privacy.disable", "org.settings.security.members_privacy.enable", ("membersPrivacy", "hideMembers"), True, False),
    settings_case("org-auto-join-enabled", "org.settings.security.auto_join.enable", "org.settings.security.auto_join.disable", ("autoJoin", "autoJoinEnabled"), False, True),
    settings_case("org-repo-visibility-policy-public", "org.settings.security.repo_visibility", None, ("defaultRepoVisibility", "repoVisibility"), "private", "public"),
    types_case("org-token-approval-disabled", ["org.token_approval.disabled"], [ev("org.token_approval.enabled")]),
    types_case("org-sso-configuration-changed", ["org.settings.sso", "org.settings.sso.enable"], [ev("org.sso_login", {"provider": "okta"})]),
    types_case("org-network-settings-changed", ["org.settings.network"], [ev("org.settings.network.ip_restriction.enable")]),
    types_case("org-join-settings-changed", ["org.update_join_settings"], [ev("org.invite_user", {"user": "erin-new", "role": "read"})]),
    types_case("org-settings-changed", ["org.update_settings", "org.settings.profile", "org.settings.regions", "org.settings.resource_groups", "org.settings.publisher_gating"],
               [ev("org.settings.security.2fa.enable"), ev("org.settings.inference_providers", None, "org-inference-provider-settings-changed")]),
    types_case("org-token-access-authorized", ["org.token_approval.authorization_request.authorized"],
               [ev("org.token_approval.authorization_request.denied", {"token": {"name": "laptop", "owner": "bob-ml"}}), ev("org.token_approval.authorization_request")]),
    types_case("org-inference-provider-key-added", ["org.settings.inference_providers.keys.add"],
               [ev("org.settings.inference_providers.keys.remove", {"setting": "inference_providers.keys", "old": "fal-ai", "new": None}, "org-inference-provider-settings-changed")]),
    types_case("org-inference-provider-settings-changed", ["org.settings.inference_providers", "org.settings.inference_providers.usage", "org.settings.inference_providers.keys.remove"],
               [ev("org.settings.inference_providers.keys.add", None, "org-inference-provider-key-added")]),
    case("org-admin-role-granted",
         [ev("org.add_user", {"user": "erin-new", "role": "admin"}), ev("org.change_role", {"user": "bob-ml", "newRole": "admin"}),
          ev("org.change_role", {"setting": "role", "old": "write", "new": "admin"}), ev("org.invite_user", {"user": {"user": "erin-new", "role": "admin"}}),
          ev("org.invite.email", {"email": "e***@example.com", "role": "admin"}), ev("org.join.automatic", {"user": "erin-new", "role": "admin"}, "org-joined-without-invitation")],
         [ev("org.change_role", {"user": "bob-ml", "role": "write"}), ev("org.add_user", {"user": "erin-new", "role": "read"}),
          ev("resource_group.change_role", {"resourceGroup": {"id": "a" * 24, "name": "research"}, "user": "bob-ml", "role": "admin"}, "resource-group-admin-role-granted"),
          ev("org.remove_user", {"user": "admin"}, "org-member-removed")]),
    case("resource-group-admin-role-granted",
         [ev("resource_group.change_role", {"resourceGroup": {"id": "b" * 24, "name": "finance"}, "user": "carol-data", "role": "admin"}),
          ev("resource_group.add_users", {"resourceGroup": {"id": "b" * 24, "name": "finance"}, "users": ["carol-data", "dave-ops"], "role": "admin"}),
          ev("resource_group.change_role", {"setting": "role", "old": "read", "new": "admin"})],
         [ev("resource_group.change_role", {"resourceGroup": {"id": "b" * 24, "name": "finance"}, "user": "carol-data", "role": "read"}),
          ev("org.change_role", {"user": "carol-data", "role": "admin"}, "org-admin-role-granted")]),
    types_case("org-member-removed", ["org.remove_user"], [ev("org.leave", {"user": "dave-ops"})]),
    types_case("org-joined-without-invitation", ["org.join.automatic", "org.join.from_domain"], [ev("org.invite.accept", {"user": "erin-new", "role": "read"})]),
    types_case("org-deleted", ["org.delete"], [ev("org.restore")]),
    types_case("org-renamed", ["org.rename"], [ev("repo.move", {"repo": REPO, "from": f"{ORG}/old", "to": f"{ORG}/llm-evals"}, "repo-moved")]),
    types_case("org-token-rotated", ["org.rotate_token"], [ev("org.service_account.token.rotate", None, "service-account-token-minted")]),
    case("repo-made-public",
         [ev("repo.update_settings", {"repo": REPO, "changes": {"private": False}}), ev("repo.update_settings", {"repo": REPO, "private": False}),
          ev("repo.update_settings", {"repo": REPO, "visibility": "public"}), ev("repo.update_settings", {"repo": REPO, "changes": {"visibility": "public"}}),
          ev("repo.update_settings", {"setting": "private", "old": True, "new": False}), ev("repo.update_settings", {"setting": "visibility", "old": "private", "new": "public"}),
          ev("repo.update_settings", {"repo": REPO, "changes": {"private": False, "gated": "manual"}})],
         [ev("repo.update_settings", {"repo": REPO, "changes": {"private": True}}), ev("repo.update_settings", {"repo": REPO, "changes": {"gated": "auto"}}),
          ev("repo.update_settings", {"setting": "private", "old": False, "new": True}), ev("repo.update_settings", {"repo": REPO, "visibility": "private"}),
          ev("repo.update_settings", {"setting": "visibility", "old": "public", "new": "private"}), ev("repo.create", {"repo": REPO, "private": False})]),
    types_case("repo-deleted", ["repo.delete"], [ev("repo.create", {"repo": REPO})]),
    types_case("repo-moved", ["repo.move"], [ev("repo.duplication", {"repo": REPO}, "repo-duplicated")]),
    types_case("repo-disabled-or-doi-deleted", ["repo.disable", "repo.removeDisable", "repo.delete_doi"], [ev("repo.update_settings", {"repo": REPO, "changes": {"gated": "auto"}})]),
    types_case("repo-lfs-file-deleted", ["repo.delete_lfs_file"], [ev("repo.delete", {"repo": REPO}, "repo-deleted")]),
    types_case("repo-duplicated", ["repo.duplication"], [ev("repo.create", {"repo": REPO})]),
    types_case("repo-secret-added-or-updated", ["repo.add_secret", "repo.add_secrets", "repo.update_secret"], [ev("repo.remove_secret", {"repo": REPO, "key": "HF_TOKEN"}, "repo-secret-removed")]),
    types_case("repo-secret-removed", ["repo.remove_secret", "repo.remove_secrets"], [ev("repo.add_variable", {"repo": REPO, "key": "MODEL_ID"}, "repo-variables-changed")]),
    types_case("repo-variables-changed", ["repo.add_variable", "repo.add_variables", "repo.update_variable", "repo.remove_variable", "repo.remove_variables"],
               [ev("repo.update_secret", {"repo": REPO, "key": "OPENAI_API_KEY"}, "repo-secret-added-or-updated")]),
    types_case("repo-trusted-publisher-added", ["repo.add_trusted_publisher"], [ev("repo.remove_trusted_publisher", None, "repo-trusted-publisher-removed")]),
    types_case("repo-trusted-publisher-removed", ["repo.remove_trusted_publisher"], [ev("repo.add_trusted_publisher", {"repo": REPO, "publisher": {"provider": "github", "repository": f"{ORG}/ci"}}, "repo-trusted-publisher-added")]),
    types_case("repo-resource-group-changed", ["repo.update_resource_group", "collection.update_resource_group"], [ev("resource_group.settings", {"setting": "autoJoin", "old": False, "new": True})]),
    types_case("service-account-created", ["org.service_account.create"], [ev("org.service_account.delete", None, "service-account-or-token-deleted")]),
    types_case("service-account-token-minted", ["org.service_account.token.create", "org.service_account.token.rotate"], [ev("org.service_account.token.update", None, "service-account-token-updated")]),
    types_case("service-account-token-updated", ["org.service_account.token.update"], [ev("org.service_account.token.delete", None, "service-account-or-token-deleted")]),
    types_case("service-account-or-token-deleted", ["org.service_account.delete", "org.service_account.token.delete"], [ev("org.service_account.create", None, "service-account-created")]),
    types_case("spaces-hardware-changed", ["spaces.update_hardware"], [ev("spaces.update_sleep_time", {"repo": {"name": f"{ORG}/demo", "type": "space"}, "sleepTimeSeconds": -1})]),
    types_case("spaces-storage-removed", ["spaces.remove_storage", "spaces.remove_volumes"], [ev("spaces.add_storage", {"tier": "large"}, "spaces-storage-added")]),
    types_case("spaces-storage-added", ["spaces.add_storage", "spaces.set_volumes"], [ev("spaces.remove_volumes", None, "spaces-storage-removed")]),
    types_case("job-created", ["jobs.create"], [ev("jobs.cancel", {"job": {"id": "c" * 24, "flavor": "a10g-small", "image": "python:3.12"}})]),
    types_case("job-exposed", ["jobs.update_expose"], [ev("jobs.update_labels", {"job": {"id": "c" * 24}})]),
    types_case("scheduled-job-created-or-changed", ["scheduled_job.create", "scheduled_job.resume", "scheduled_job.update_schedule"],
               [ev("scheduled_job.suspend"), ev("scheduled_job.run", {"scheduledJob": {"id": "d" * 24}})]),
    types_case("billing-payment-method-changed", ["billing.update_payment_method", "billing.remove_payment_method", "billing.create_customer", "billing.aws_add", "billing.aws_remove", "billing.gcp_add", "billing.gcp_remove"],
               [ev("billing.start_subscription", None, "billing-subscription-changed")]),
    types_case("billing-subscription-changed", ["billing.marketplace_approve", "billing.start_subscription", "billing.cancel_subscription", "billing.un_cancel_subscription", "billing.renew_subscription", "billing.update_subscription", "billing.update_subscription_plan"],
               [ev("billing.aws_add", None, "billing-payment-method-changed")]),
    case("oauth-token-issued", [ev("oauth.token", None, oauth={"clientId": "e2b1c4d5-aaaa-bbbb-cccc-0123456789ab", "name": "Spaces CI"})], [ev("org.sso_login", {"provider": "okta"})]),
    case("audit-log-exported", [ev("org.audit_log.export", {"format": "json"})], [ev("org.sso_join", {"provider": "okta"})]),
]


def _hex24(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:24]


def hub_event(spec: Spec, at: datetime, seq: int) -> dict[str, Any]:
    """A realistic export item for `spec` at `at` (an ObjectId-style _id whose head is the second)."""
    author = spec.author or MEMBERS[seq % len(MEMBERS)]
    event: dict[str, Any] = {
        "_id": f"{int(at.timestamp()):08x}{_hex24('event', seq)[:16]}",
        "createdAt": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{seq % 1000:03d}Z",
        "type": spec.type,
        "message": f"{author} {spec.type.replace('.', ' ').replace('_', ' ')}",
        "author": {"_id": _hex24("user", author), "user": author, "avatarUrl": f"/avatars/{_hex24('avatar', author)}.svg", "type": spec.author_type},
        "ip": f"198.51.100.{seq % 250 + 1}",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    }
    if spec.country:
        formatted, city = COUNTRIES[spec.country]
        event["location"] = {"formatted": formatted, "country": spec.country, "city": city}
    if spec.data is not None:
        event["data"] = spec.data
    if spec.oauth is not None:
        event["oauth"] = spec.oauth
    else:
        event["token"] = {"type": "access_token", "id": _hex24("token", author), "role": "fineGrained", "last4": "x9Qa", "deleted": False}
    return event


def record_of(event: dict[str, Any], received_at: datetime) -> dict[str, Any]:
    """The record hf-audit-poll prints for the event: parsed, normalized, bounded, as JSON."""
    ctx = RecordContext(org=ORG, workspace_id="ws-detections", source_id="src-detections", source_ttl_days=0,
                        received_at=received_at)
    raw = json.loads(json.dumps(event))
    return orjson.loads(to_line(normalize(parse_event(raw), raw, ctx), 65535))


def single_fixtures(received_at: datetime) -> list[Fixture]:
    """Every case's events, two hours apart."""
    fixtures = []
    for rule, positives, negatives in CASES:
        for kind, specs in (("positive", positives), ("negative", negatives)):
            for index, spec in enumerate(specs):
                seq = len(fixtures)
                event = hub_event(spec, SINGLE_START + timedelta(hours=2 * seq), seq)
                fixtures.append(Fixture(f"{rule}/{kind}/{index}", event, spec.fires, record_of(event, received_at)))
    return fixtures


# --- correlations ------------------------------------------------------------------------------------

DELETIONS = ["repo.delete", "repo.delete_lfs_file", "collection.delete", "resource_group.delete", "spaces.remove_storage",
             "spaces.remove_volumes", "scheduled_job.delete", "org.service_account.delete"]
CREDENTIALS = ["org.service_account.token.create", "org.service_account.token.rotate", "org.rotate_token",
               "org.token_approval.authorization_request.authorized"]


@dataclass(frozen=True)
class Burst:
    """Events by one author: (minutes after the burst's start, type, country)."""

    author: str
    events: list[tuple[float, str, str | None]]
    author_type: str = "user"


def _series(types: list[str], count: int, every_minutes: float, country: str | None = "FR") -> list[tuple[float, str, str | None]]:
    return [(i * every_minutes, types[i % len(types)], country) for i in range(count)]


# correlation rule -> (bursts, {author: expected count of the group that crosses})
CORRELATION_CASES: dict[str, tuple[list[Burst], dict[str, int]]] = {
    "mass-deletion-by-one-actor": (
        [Burst("mallory-x", _series(DELETIONS, 10, 5)),            # 10 deletions in 45 minutes
         Burst("eve-cleanup", _series(DELETIONS, 9, 5)),           # one short
         Burst("frank-slow", _series(DELETIONS, 10, 25)),          # 10, but never 10 within an hour
         Burst("grace-busy", _series(["repo.create", "repo.update_settings"], 12, 2))],  # not deletions
        {"mallory-x": 10},
    ),
    "actor-in-several-countries": (
        [Burst("oscar-trip", [(0, "repo.create", "FR"), (30, "repo.update_settings", "DE"), (45, "repo.create", "DE")]),
         Burst("paula-travel", [(0, "repo.create", "FR"), (61, "repo.create", "DE")]),     # more than an hour apart
         Burst("quentin-home", _series(["repo.create"], 5, 5, "FR")),                      # one country
         Burst("rachel-nogeo", [(0, "repo.create", "FR"), (5, "repo.create", None)]),      # no location is no country
         Burst("hub-system", [(0, "repo.disable", "FR"), (5, "repo.disable", "US")], author_type="system")],
        {"oscar-trip": 2},
    ),
    "many-credentials-created": (
        [Burst("sam-rotator", _series(CREDENTIALS, 6, 5)),
         Burst("tina-four", _series(CREDENTIALS, 4, 5)),
         Burst("uma-daily", _series(CREDENTIALS, 5, 70))],
        {"sam-rotator": 6},
    ),
    "many-members-removed": (
        [Burst("victor-purge", _series(["org.remove_user"], 5, 4)),
         Burst("wendy-four", _series(["org.remove_user"], 4, 4)),
         Burst("xavier-leavers", _series(["org.leave"], 8, 2))],
        {"victor-purge": 5},
    ),
}


def correlation_fixtures(received_at: datetime) -> list[Fixture]:
    """Every burst of every correlation case; bursts start a day apart."""
    fixtures: list[Fixture] = []
    bursts = [burst for bursts_, _ in CORRELATION_CASES.values() for burst in bursts_]
    for number, burst in enumerate(bursts):
        start = BURST_START + timedelta(days=number)
        for minutes, type_, country in burst.events:
            seq = 10_000 + len(fixtures)
            spec = Spec(type_, {"repo": REPO} if type_.startswith("repo.") else None, author=burst.author,
                        author_type=burst.author_type, country=country)
            event = hub_event(spec, start + timedelta(minutes=minutes), seq)
            fixtures.append(Fixture(f"{burst.author}/{minutes}", event, frozenset(), record_of(event, received_at)))
    return fixtures


def export_item_schema() -> dict[str, Any]:
    """The export's item schema, its type enum extended by the types the Hub documents elsewhere."""
    spec = json.loads((SPEC_DIR / "hf-audit-log-export.openapi.json").read_text())
    items = spec["response_schema"]["items"]
    items["properties"]["type"]["enum"] = [*items["properties"]["type"]["enum"], *EXTRA_TYPES]
    return {"$schema": spec["response_schema"]["$schema"], **items}
