"""Deterministic generator of realistic Hugging Face audit-log events.

The events mimic what `GET /api/organizations/{name}/audit-log/export` returns: every one
validates against the export's OpenAPI item schema, and `data` follows the key conventions
the normalizer relies on (`repo`, `collection`, `resourceGroup`, `user`, `setting`/`old`/`new`,
`token`, `serviceAccount`, `job`, `scheduledJob`, ...).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any, Literal

from .richdata import enrich_data

__all__ = ["EVENT_TYPES", "format_created_at", "generate_events", "make_event", "object_id"]

# The 116 types of the export's OpenAPI schema (2026-08), in the schema's order. Embedded
# because the shared spec folder is not part of the installed package.
EVENT_TYPES: tuple[str, ...] = (
    "billing.update_payment_method",
    "billing.create_customer",
    "billing.remove_payment_method",
    "billing.aws_add",
    "billing.aws_remove",
    "billing.gcp_add",
    "billing.gcp_remove",
    "billing.marketplace_approve",
    "billing.cancel_subscription",
    "billing.renew_subscription",
    "billing.start_subscription",
    "billing.un_cancel_subscription",
    "billing.update_subscription",
    "billing.update_subscription_plan",
    "collection.create",
    "collection.delete",
    "collection.update_resource_group",
    "org.add_user",
    "org.change_role",
    "org.create",
    "org.delete",
    "org.restore",
    "org.invite_user",
    "org.invite.accept",
    "org.invite.email",
    "org.join.from_domain",
    "org.join.automatic",
    "org.leave",
    "org.remove_user",
    "org.rename",
    "org.rotate_token",
    "org.sso_login",
    "org.sso_join",
    "org.update_join_settings",
    "org.update_settings",
    "org.settings.regions",
    "org.settings.profile",
    "org.settings.resource_groups",
    "org.settings.publisher_gating",
    "org.settings.inference_providers",
    "org.settings.inference_providers.keys.add",
    "org.settings.inference_providers.keys.remove",
    "org.settings.inference_providers.usage",
    "org.settings.sso",
    "org.settings.sso.enable",
    "org.settings.sso.disable",
    "org.settings.security.repo_visibility",
    "org.settings.security.2fa.enable",
    "org.settings.security.2fa.disable",
    "org.settings.security.auto_join.enable",
    "org.settings.security.auto_join.disable",
    "org.settings.security.members_privacy.enable",
    "org.settings.security.members_privacy.disable",
    "org.settings.network",
    "org.settings.network.ip_restriction.enable",
    "org.settings.network.ip_restriction.disable",
    "org.settings.network.auth_enforcement.enable",
    "org.settings.network.auth_enforcement.disable",
    "org.token_approval.enabled",
    "org.token_approval.disabled",
    "org.token_approval.authorization_request",
    "org.token_approval.authorization_request.authorized",
    "org.token_approval.authorization_request.revoked",
    "org.token_approval.authorization_request.denied",
    "repo.add_secrets",
    "repo.remove_secrets",
    "repo.add_secret",
    "repo.update_secret",
    "repo.remove_secret",
    "repo.create",
    "repo.delete",
    "repo.disable",
    "repo.removeDisable",
    "repo.duplication",
    "repo.delete_doi",
    "repo.move",
    "repo.update_resource_group",
    "repo.update_settings",
    "repo.add_variable",
    "repo.update_variable",
    "repo.remove_variable",
    "repo.add_variables",
    "repo.remove_variables",
    "repo.delete_lfs_file",
    "repo.add_trusted_publisher",
    "repo.remove_trusted_publisher",
    "spaces.add_storage",
    "spaces.remove_storage",
    "spaces.set_volumes",
    "spaces.remove_volumes",
    "spaces.update_hardware",
    "spaces.update_sleep_time",
    "resource_group.create",
    "resource_group.add_users",
    "resource_group.remove_users",
    "resource_group.change_role",
    "resource_group.settings",
    "resource_group.delete",
    "jobs.create",
    "jobs.cancel",
    "jobs.update_labels",
    "jobs.update_expose",
    "scheduled_job.create",
    "scheduled_job.delete",
    "scheduled_job.resume",
    "scheduled_job.suspend",
    "scheduled_job.run",
    "scheduled_job.update_schedule",
    "scheduled_job.update_labels",
    "org.service_account.create",
    "org.service_account.delete",
    "org.service_account.token.create",
    "org.service_account.token.delete",
    "org.service_account.token.rotate",
    "org.service_account.token.update",
    "oauth.token",
)

Event = dict[str, Any]
Data = dict[str, Any]
_Built = tuple[str, Data | None]  # (message after the author's name, data)

_MS = timedelta(milliseconds=1)
_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- ids and timestamps ---------------------------------------------------------------


def _as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken to be UTC already (never local time)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stable_hex24(key: str) -> str:
    """A fixed 24-hex id for things that recur across events (users, groups, apps)."""
    return hashlib.sha1(key.encode()).hexdigest()[:24]


def object_id(created_at: datetime, rng: random.Random) -> str:
    """A MongoDB ObjectId: the creation second in 8 hex digits, then 16 random hex digits."""
    second = (_as_utc(created_at) - _EPOCH) // _SECOND
    return f"{second:08x}{rng.getrandbits(64):016x}"


def format_created_at(moment: datetime) -> str:
    """`createdAt` as the Hub writes it: UTC, millisecond precision, `Z` suffix."""
    m = _as_utc(moment)  # plain formatting: several times faster than strftime
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond // 1000:03d}Z"
    )


# --- the cast: members of the organization ----------------------------------------------


@dataclass(frozen=True)
class _Member:
    user: str
    city: str
    country: str
    ips: tuple[str, ...]  # already anonymized, as the Hub exports them
    deleted: bool = False
    default_avatar: bool = False
    # Derived from the name once, so the same person keeps the same id and avatar.
    id: str = field(init=False)
    avatar_url: str = field(init=False)

    def __post_init__(self) -> None:
        ident, digest = _stable_hex24(f"user:{self.user}"), hashlib.md5(self.user.encode()).hexdigest()
        avatar = (
            f"/avatars/{digest}.svg"
            if self.default_avatar
            else f"https://cdn-avatars.huggingface.co/v1/production/uploads/{ident}/{digest[:21]}.png"
        )
        object.__setattr__(self, "id", ident)
        object.__setattr__(self, "avatar_url", avatar)


_MEMBERS: tuple[_Member, ...] = (
    _Member("alice", "Paris", "France", ("81.64.12.0", "2a01:cb00:5c1::")),
    _Member("bob", "New York", "United States", ("203.0.113.0",)),
    _Member("carol", "Berlin", "Germany", ("91.64.80.0", "2003:e6:3f0b::")),
    _Member("dave", "London", "United Kingdom", ("198.51.100.0",), default_avatar=True),
    _Member("erin", "Tokyo", "Japan", ("126.75.4.0",)),
    _Member("frank", "São Paulo", "Brazil", ("177.92.40.0",), default_avatar=True),
    _Member("grace", "Montréal", "Canada", ("192.0.2.0", "2001:db8:aa::")),
    _Member("heidi", "Bengaluru", "India", ("49.207.52.0",)),
    _Member("ivan", "Zürich", "Switzerland", ("2001:db8:1f::",)),
    _Member("mallory", "Lyon", "France", ("203.0.113.128",), deleted=True),
)
# Admins act far more often than the rest of the organization (cumulative weights, for speed).
_MEMBER_CUM_WEIGHTS: tuple[int, ...] = tuple(accumulate((30, 20, 15, 10, 8, 5, 5, 4, 2, 1)))
_LIVE_MEMBERS: tuple[str, ...] = tuple(m.user for m in _MEMBERS if not m.deleted)

_SYSTEM_AUTHOR: dict[str, Any] = {
    "_id": _stable_hex24("system:huggingface"),
    "user": "huggingface",
    "avatarUrl": "https://huggingface.co/front/assets/huggingface_logo-noborder.svg",
    "type": "system",
}
# Types the Hub itself usually performs (renewals, scheduled runs, moderation).
_SYSTEM_TYPES = frozenset(
    {"billing.renew_subscription", "scheduled_job.run", "repo.disable", "repo.removeDisable"}
)

_USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "huggingface_hub/0.26.2; python/3.12.4; torch/2.5.1",
    "git/2.43.0",
    "curl/8.5.0",
)
_OAUTH_APPS = (("Gradio Login", True), ("My App", True), ("Notebook Sync", False))

# Frequent types, so a generated log looks like a real one rather than a uniform spread.
_TYPE_WEIGHTS: dict[str, int] = {
    "repo.create": 12,
    "repo.update_settings": 10,
    "repo.delete": 4,
    "repo.add_secret": 4,
    "repo.update_variable": 4,
    "org.sso_login": 12,
    "org.add_user": 3,
    "jobs.create": 8,
    "jobs.cancel": 3,
    "scheduled_job.run": 8,
    "oauth.token": 6,
    "collection.create": 3,
    "spaces.update_hardware": 4,
}


@dataclass(frozen=True)
class _Ctx:
    """What a `data` builder needs: randomness, the organization and who is acting."""

    rng: random.Random
    org: str
    actor: str

    def other_member(self) -> str:
        while (user := self.rng.choice(_LIVE_MEMBERS)) == self.actor:
            pass
        return user

    def pick(self, *options: Any) -> Any:
        return self.rng.choice(options)

    def hex24(self) -> str:
        return f"{self.rng.getrandbits(96):024x}"


# --- data builders, one per scope ---------------------------------------------------------
# Each returns (message tail, data) or None when it does not know the action, in which case
# the event becomes a generic one (the Hub adds types over time).

_REPO_NAMES = {
    "model": ("llama-ft", "bert-base-ner", "whisper-small-fr", "mistral-7b-dpo"),
    "dataset": ("support-tickets", "eval-suite", "web-crawl-2026"),
    "space": ("chat-demo", "leaderboard", "doc-search"),
}
_SECRET_KEYS = ("HF_API_KEY", "OPENAI_API_KEY", "WANDB_API_KEY", "DB_PASSWORD")
_VARIABLE_KEYS = ("MODEL_ID", "LOG_LEVEL", "MAX_BATCH_SIZE")
_HARDWARE = ("cpu-basic", "cpu-upgrade", "t4-small", "a10g-small", "a100-large")
_ROLES = ("read", "contributor", "write", "admin")


def _repo_ref(ctx: _Ctx, kind: str | None = None) -> dict[str, str]:
    kind = kind or ctx.rng.choices(("model", "dataset", "space"), (6, 3, 2))[0]
    return {"name": f"{ctx.org}/{ctx.rng.choice(_REPO_NAMES[kind])}", "type": kind}


def _resource_group_ref(ctx: _Ctx) -> dict[str, str]:
    name = ctx.pick("research", "production", "interns", "partners")
    return {"id": _stable_hex24(f"rg:{ctx.org}:{name}"), "name": name}


_REPO_PHRASES = {
    "create": "created {what}",
    "delete": "deleted {what}",
    "disable": "disabled {what}",
    "removeDisable": "re-enabled {what}",
    "delete_doi": "deleted the DOI of {what}",
    "delete_lfs_file": "deleted an LFS file from {what}",
    "update_settings": "updated the settings of {what}",
    "update_resource_group": "moved {what} to a resource group",
    "add_trusted_publisher": "added a trusted publisher to {what}",
    "remove_trusted_publisher": "removed a trusted publisher from {what}",
    "add_storage": "added persistent storage to {what}",
    "remove_storage": "removed persistent storage from {what}",
    "set_volumes": "set the volumes of {what}",
    "remove_volumes": "removed volumes from {what}",
    "update_hardware": "changed the hardware of {what}",
    "update_sleep_time": "changed the sleep time of {what}",
}


def _repo_keyed(action: str, ctx: _Ctx, data: Data, what: str) -> str:
    """Secrets and variables: singular actions name one key, plural ones a list (never values)."""
    noun, pool = ("secret", _SECRET_KEYS) if "secret" in action else ("variable", _VARIABLE_KEYS)
    verb = action.split("_", 1)[0] + ("ed" if action.startswith("add") else "d")
    if action.endswith("s"):
        data["keys"] = ctx.rng.sample(pool, ctx.rng.randint(2, len(pool)))
        return f"{verb} {len(data['keys'])} {noun}s of {what}"
    data["key"] = ctx.rng.choice(pool)
    return f"{verb} {noun} {data['key']} of {what}"


def _repo(action: str, ctx: _Ctx, *, kind: str | None = None) -> _Built | None:
    rng = ctx.rng
    repo = _repo_ref(ctx, kind)
    data: Data = {"repo": repo}
    what = f"{repo['type']} {repo['name']}"
    if "secret" in action or "variable" in action:
        return _repo_keyed(action, ctx, data, what), data
    if action in ("move", "duplication"):
        source = f"{ctx.org}/{rng.choice(_REPO_NAMES[repo['type']])}-old"
        data["from"], data["to"] = source, repo["name"]
        verb = "moved" if action == "move" else "duplicated"
        return f"{verb} {repo['type']} {source} to {repo['name']}", data
    if action not in _REPO_PHRASES:
        return None
    match action:
        case "update_settings":
            data["changes"] = rng.choice(
                ({"private": True}, {"private": False}, {"gated": "auto"}, {"private": True, "gated": "manual"})
            )
        case "update_resource_group":
            data["resourceGroup"] = _resource_group_ref(ctx)
        case "delete_doi":
            data["doi"] = f"10.57967/hf/{rng.randint(1000, 9999)}"
        case "add_trusted_publisher" | "remove_trusted_publisher":
            data["publisher"] = {"provider": "github", "repository": f"{ctx.org}/ci"}
        case "add_storage" | "remove_storage":
            data["tier"] = ctx.pick("small", "medium", "large")
        case "set_volumes" | "remove_volumes":
            data["volumes"] = [{"path": "/data", "size": ctx.pick(20, 50, 150)}]
        case "update_hardware":
            old, new = rng.sample(_HARDWARE, 2)
            data["hardware"] = {"old": old, "new": new}
        case "update_sleep_time":
            data["sleepTimeSeconds"] = ctx.pick(300, 3600, 172800, -1)
    return _REPO_PHRASES[action].format(what=what), data


def _spaces(action: str, ctx: _Ctx) -> _Built | None:
    return _repo(action, ctx, kind="space")


def _collection(action: str, ctx: _Ctx) -> _Built | None:
    name, title = ctx.pick(("llm-evals", "LLM evals"), ("curated-datasets", "Curated datasets"),
                           ("demo-spaces", "Demo Spaces"))
    slug = f"{ctx.org}/{name}-{_stable_hex24(f'collection:{ctx.org}:{name}')}"
    data: Data = {"collection": {"slug": slug, "title": title}}
    match action:
        case "create" | "delete":
            return f"{action}d collection {slug}", data
        case "update_resource_group":
            data["resourceGroup"] = _resource_group_ref(ctx)
            return f"moved collection {slug} to resource group {data['resourceGroup']['name']}", data
    return None


def _resource_group(action: str, ctx: _Ctx) -> _Built | None:
    group = _resource_group_ref(ctx)
    data: Data = {"resourceGroup": group}
    label = f"resource group {group['name']}"
    match action:
        case "create" | "delete":
            return f"{action}d {label}", data
        case "add_users" | "remove_users":
            data["users"] = ctx.rng.sample(_LIVE_MEMBERS, 2)
            verb, prep = ("added", "to") if action == "add_users" else ("removed", "from")
            return f"{verb} {', '.join(data['users'])} {prep} {label}", data
        case "change_role":
            data["user"], data["role"] = ctx.other_member(), ctx.pick(*_ROLES)
            return f"changed the role of {data['user']} in {label} to {data['role']}", data
        case "settings":
            data.update(setting="autoJoin", old=False, new=True)
            return f"updated the settings of {label}", data
    return None


_ORG_SETTINGS: dict[str, tuple[str, Any, Any]] = {  # type suffix -> (setting, old, new)
    "regions": ("regions", ["us"], ["us", "eu"]),
    "profile": ("profile", {"displayName": "Acme"}, {"displayName": "Acme Research"}),
    "resource_groups": ("resource_groups", "admins", "everyone"),
    "publisher_gating": ("publisher_gating", False, True),
    "inference_providers": ("inference_providers", ["hf-inference"], ["hf-inference", "together"]),
    "inference_providers.keys.add": ("inference_providers.keys", None, "together"),
    "inference_providers.keys.remove": ("inference_providers.keys", "fal-ai", None),
    "inference_providers.usage": ("inference_providers.usage", "members", "admins"),
    "sso": ("sso", {"provider": "okta", "enforced": False}, {"provider": "okta", "enforced": True}),
    "security.repo_visibility": ("security.repo_visibility", "public", "private"),
    "network": ("network", {"ipRanges": ["203.0.113.0/24"]},
                {"ipRanges": ["203.0.113.0/24", "198.51.100.0/24"]}),
}
# Before 2026-06-16 every settings change was a single org.update_settings event.
_LEGACY_SETTINGS: tuple[tuple[str, Any, Any], ...] = (
    ("defaultRepoVisibility", "public", "private"),
    ("requireTwoFactor", False, True),
    ("displayName", "Acme", "Acme Research"),
)
_JOIN_SETTINGS: tuple[tuple[str, Any, Any], ...] = (
    ("autoJoinDomain", None, "acme.example"),
    ("autoJoinRole", "read", "contributor"),
)


def _setting_change(setting: str, old: Any, new: Any) -> _Built:
    return f"changed organization setting {setting}", {"setting": setting, "old": old, "new": new}


def _org_settings(rest: str, ctx: _Ctx) -> _Built | None:
    for suffix, new in ((".enable", True), (".disable", False)):
        if rest.endswith(suffix):  # toggles carry booleans
            setting = rest.removesuffix(suffix)
            return f"{suffix[1:]}d organization setting {setting}", {"setting": setting, "old": not new, "new": new}
    if rest in _ORG_SETTINGS:
        return _setting_change(*_ORG_SETTINGS[rest])
    return None


def _service_account(rest: str, ctx: _Ctx) -> _Built | None:
    name = ctx.pick("ci-bot", "eval-runner", "sync-agent")
    data: Data = {"serviceAccount": {"id": _stable_hex24(f"sa:{ctx.org}:{name}"), "name": name}}
    if rest in ("create", "delete"):
        return f"{rest}d service account {name}", data
    action = rest.removeprefix("token.")
    if rest.startswith("token.") and action in ("create", "delete", "rotate", "update"):
        data["token"] = {"name": ctx.pick("deploy", "nightly", "readonly"), "role": ctx.pick("read", "write")}
        return f"{action}d token {data['token']['name']} of service account {name}", data
    return None


def _token_approval(rest: str, ctx: _Ctx) -> _Built | None:
    if rest in ("enabled", "disabled"):  # an organization-wide switch: nothing more to say
        return f"{rest} token approval", None
    outcome = rest.removeprefix("authorization_request").lstrip(".") or "requested"
    if outcome not in ("requested", "authorized", "revoked", "denied"):
        return None
    owner = ctx.other_member()
    data: Data = {"token": {"name": ctx.pick("laptop", "training", "inference"), "owner": owner}}
    return f"{outcome} access to the organization for a token of {owner}", data


def _org_membership(action: str, ctx: _Ctx) -> _Built | None:
    other, role = ctx.other_member(), ctx.pick(*_ROLES)
    match action:
        case "add_user" | "invite_user":
            verb = "added" if action == "add_user" else "invited"
            return f"{verb} {other} to {ctx.org} as {role}", {"user": other, "role": role}
        case "change_role":
            return f"changed the role of {other} to {role}", {"user": other, "role": role}
        case "remove_user":
            return f"removed {other} from {ctx.org}", {"user": other}
        case "leave":
            return f"left {ctx.org}", {"user": ctx.actor}
        case "invite.accept" | "join.from_domain" | "join.automatic":
            how = {
                "invite.accept": "accepted the invitation to {org}",
                "join.from_domain": "joined {org} through its verified domain",
                "join.automatic": "was automatically added to {org}",
            }[action]
            return how.format(org=ctx.org), {"user": ctx.actor, "role": ctx.pick("read", "contributor")}
        case "invite.email":
            email = f"{other[0]}***@example.com"  # the Hub masks invitee addresses
            return f"invited {email} to {ctx.org}", {"email": email, "role": role}
    return None


def _org(action: str, ctx: _Ctx) -> _Built | None:
    head, _, rest = action.partition(".")
    match head:
        case "settings":
            return _org_settings(rest, ctx)
        case "service_account":
            return _service_account(rest, ctx)
        case "token_approval":
            return _token_approval(rest, ctx)
        case "update_settings":
            return _setting_change(*ctx.pick(*_LEGACY_SETTINGS))
        case "update_join_settings":
            return _setting_change(*ctx.pick(*_JOIN_SETTINGS))
        case "rename":
            return f"renamed {ctx.org}-old to {ctx.org}", {"from": f"{ctx.org}-old", "to": ctx.org}
        case "sso_login" | "sso_join":
            verb = "logged in to" if head == "sso_login" else "joined"
            return f"{verb} {ctx.org} with SSO", {"provider": ctx.pick("okta", "azure-ad", "google")}
        case "create" | "delete" | "restore":
            return f"{head}d organization {ctx.org}", None
        case "rotate_token":
            return f"rotated the organization token of {ctx.org}", None
    return _org_membership(action, ctx)


def _job_ref(ctx: _Ctx) -> dict[str, str]:
    image = ctx.pick("python:3.12", "pytorch/pytorch:2.5.1")
    return {"id": ctx.hex24(), "flavor": ctx.pick(*_HARDWARE), "image": image}


def _jobs(action: str, ctx: _Ctx) -> _Built | None:
    data: Data = {"job": _job_ref(ctx)}
    match action:
        case "create" | "cancel":
            verb = "started" if action == "create" else "cancelled"
            return f"{verb} job {data['job']['id']} on {data['job']['flavor']}", data
        case "update_labels":
            data["labels"] = {"team": ctx.pick("ml", "infra"), "env": ctx.pick("dev", "prod")}
            return f"updated the labels of job {data['job']['id']}", data
        case "update_expose":
            data["expose"] = ctx.pick(True, False)
            return f"changed the exposure of job {data['job']['id']}", data
    return None


def _scheduled_job(action: str, ctx: _Ctx) -> _Built | None:
    job = {"id": ctx.hex24(), "schedule": ctx.pick("@hourly", "@daily", "0 */6 * * *")}
    data: Data = {"scheduledJob": job}
    match action:
        case "create" | "delete" | "resume" | "suspend":
            verb = {"create": "created", "delete": "deleted", "resume": "resumed", "suspend": "suspended"}[action]
            return f"{verb} scheduled job {job['id']} ({job['schedule']})", data
        case "run":
            data["job"] = _job_ref(ctx)
            return f"ran scheduled job {job['id']}", data
        case "update_schedule":
            return f"changed the schedule of job {job['id']} to {job['schedule']}", data
        case "update_labels":
            data["labels"] = {"team": ctx.pick("ml", "infra")}
            return f"updated the labels of scheduled job {job['id']}", data
    return None


_BILLING_PHRASES = {
    "update_payment_method": "updated the payment method",
    "create_customer": "created the billing account",
    "remove_payment_method": "removed a payment method",
    "cancel_subscription": "cancelled the {plan} subscription",
    "renew_subscription": "renewed the {plan} subscription",
    "start_subscription": "started a {plan} subscription",
    "un_cancel_subscription": "reactivated the {plan} subscription",
    "update_subscription": "updated the {plan} subscription",
    "update_subscription_plan": "switched the subscription to {plan}",
}


def _billing(action: str, ctx: _Ctx) -> _Built | None:
    provider, _, change = action.partition("_")
    if provider in ("aws", "gcp") and change in ("add", "remove"):
        verb = "linked" if change == "add" else "unlinked"
        return f"{verb} {provider.upper()} Marketplace billing", {"provider": provider}
    if action == "marketplace_approve":
        provider = ctx.pick("aws", "gcp")
        return f"approved the {provider.upper()} Marketplace subscription", {"provider": provider}
    if action not in _BILLING_PHRASES:
        return None
    if "subscription" not in action:  # payment details never reach the audit log
        return _BILLING_PHRASES[action], None
    plan = ctx.pick("team", "enterprise")
    return _BILLING_PHRASES[action].format(plan=plan), {"plan": plan, "seats": ctx.pick(5, 10, 25, 100)}


def _oauth(action: str, ctx: _Ctx) -> _Built | None:
    if action != "token":
        return None
    name = ctx.pick(*(app for app, _ in _OAUTH_APPS))
    scopes = ctx.pick(["openid", "profile"], ["openid", "profile", "read-repos"], ["openid", "inference-api"])
    return f"authorized the OAuth app {name}", {"app": {"name": name}, "scopes": scopes}


_BUILDERS = {
    "repo": _repo,
    "spaces": _spaces,
    "collection": _collection,
    "resource_group": _resource_group,
    "org": _org,
    "jobs": _jobs,
    "scheduled_job": _scheduled_job,
    "billing": _billing,
    "oauth": _oauth,
}


def _generic(event_type: str, ctx: _Ctx) -> _Built:
    """A type this generator does not model (a new one): plain message, maybe opaque data."""
    if event_type == "org.audit_log.export":
        return f"exported the audit log of {ctx.org}", {"format": "json"}
    data = ctx.pick(None, {"details": {"source": "web"}})
    return f"performed {event_type} on {ctx.org}", data


# --- whole events -------------------------------------------------------------------------


def _author(member: _Member, rng: random.Random) -> dict[str, Any]:
    author: dict[str, Any] = {"_id": member.id, "user": member.user, "avatarUrl": member.avatar_url, "type": "user"}
    if member.deleted:
        author["deleted"] = True
    elif rng.random() < 0.1:  # the flag is only sometimes spelled out for live accounts
        author["deleted"] = False
    return author


def _client_context(member: _Member, rng: random.Random) -> Event:
    """Where the request came from: ip, location, user agent, token (each often missing)."""
    extra: Event = {}
    if rng.random() < 0.9:
        extra["ip"] = rng.choice(member.ips)
        if rng.random() < 0.75:
            formatted = f"{member.city}, {member.country}"
            extra["location"] = (
                {"formatted": formatted} if rng.random() < 0.2
                else {"formatted": formatted, "country": member.country, "city": member.city}
            )
    if rng.random() < 0.6:
        extra["userAgent"] = rng.choice(_USER_AGENTS)
    if rng.random() < 0.3:
        token: dict[str, Any] = {"type": "access_token", "id": f"{rng.getrandbits(96):024x}"}
        if rng.random() < 0.9:
            token["role"] = rng.choice(("read", "write", "fineGrained"))
        if rng.random() < 0.8:
            token["last4"] = "".join(rng.choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", k=4))
        token["deleted"] = rng.random() < 0.05
        extra["token"] = token
    return extra


def _oauth_client(rng: random.Random) -> dict[str, str]:
    name, named = rng.choice(_OAUTH_APPS)
    client = {"clientId": _stable_hex24(f"oauth:{name}")[:8] + "-" + _stable_hex24(name)[:12]}
    if named:
        client["name"] = name
    return client


DataProfile = Literal["plain", "rich"]


def make_event(
    type: str, created_at: datetime, *, rng: random.Random, org: str, data_profile: DataProfile = "plain"  # noqa: A002
) -> Event:
    """One realistic event of `type` (known or not) created at `created_at` (ms kept). With the
    "rich" data profile, `data` is nested and holds 10 to 40 leaves (simhub/richdata.py)."""
    system = type in _SYSTEM_TYPES and rng.random() < 0.8
    member = rng.choices(_MEMBERS, cum_weights=_MEMBER_CUM_WEIGHTS)[0]
    author = dict(_SYSTEM_AUTHOR) if system else _author(member, rng)
    ctx = _Ctx(rng=rng, org=org, actor=author["user"])
    scope, _, action = type.partition(".")
    builder = _BUILDERS.get(scope)
    built = builder(action, ctx) if builder else None
    message, data = built if built is not None else _generic(type, ctx)
    if data_profile == "rich":
        data = enrich_data(data, rng)

    event: Event = {
        "_id": object_id(created_at, rng),
        "createdAt": format_created_at(created_at),
        "type": type,
        "message": f"{author['user']} {message}",
        "author": author,
    }
    if data is not None:
        event["data"] = data
    if not system:  # the Hub's own actions have no client behind them
        event.update(_client_context(member, rng))
        if type == "oauth.token" or rng.random() < 0.04:
            event["oauth"] = _oauth_client(rng)
    return event


def _pick_types(count: int, types: Sequence[str], rng: random.Random) -> list[str]:
    """`count` types, each of `types` at least once when there is room, common ones more often."""
    weights = [_TYPE_WEIGHTS.get(t, 1) for t in types]
    picked = list(types) if count >= len(types) else []
    picked += rng.choices(types, weights, k=count - len(picked))
    rng.shuffle(picked)
    return picked


def generate_events(
    count: int,
    *,
    seed: int = 0,
    end: datetime | None = None,
    span: timedelta = timedelta(days=30),
    org: str = "acme",
    types: Sequence[str] = EVENT_TYPES,
    data_profile: DataProfile = "plain",
) -> list[Event]:
    """`count` events, oldest first, at distinct milliseconds spread over [end - span, end].

    Deterministic for a given seed, end (which defaults to now, UTC) and data profile.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    if count and not types:
        raise ValueError("types must not be empty")
    span_ms = span // _MS
    if span_ms + 1 < count:
        raise ValueError(f"a span of {span} has fewer than {count} distinct milliseconds")
    rng = random.Random(seed)
    end_ms = (_as_utc(end or datetime.now(UTC)) - _EPOCH) // _MS
    start = _EPOCH + (end_ms - span_ms) * _MS
    # Distinct offsets make createdAt strictly increasing once sorted.
    offsets = sorted(rng.sample(range(span_ms + 1), count))
    events: list[Event] = []
    seen_ids: set[str] = set()
    for offset, event_type in zip(offsets, _pick_types(count, types, rng), strict=True):
        created_at = start + offset * _MS
        event = make_event(event_type, created_at, rng=rng, org=org, data_profile=data_profile)
        while event["_id"] in seen_ids:  # 64 random bits: practically never loops
            event["_id"] = object_id(created_at, rng)
        seen_ids.add(event["_id"])
        events.append(event)
    return events
