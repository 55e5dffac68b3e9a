"""Settings: flags and environment variables, validated before any request is made.

Each field's flag, environment variable, default and help are declared once, in declarations.py;
this module adds what a value must satisfy. The token is deliberately not a flag (argv shows in `ps`
and in the Fluent Bit config); finding it is token_discovery.py's job, the model keeps the result.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticUndefined

from . import declarations
from .declarations import BY_FIELD, Declaration
from .errors import UsageError
from .statefiles import OrgFiles

# Hub organization names: letters, digits, '-', '_' and '.', starting with a letter or digit.
_ORG_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9])?$")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Upper bounds: beyond them a setting is a typo, and the clock arithmetic or a socket call it feeds
# would fail deep in a poll instead of here.
MAX_WINDOW = timedelta(days=3650)  # lookback and backfill: the Hub keeps far less history
MAX_WAIT_SECONDS = 86400.0  # timeouts, the deadline and the lock wait
MAX_BYTES_SETTING = 1 << 30
MIN_LINE_BYTES = 4096  # enough for all 51 columns with every truncatable field cut short


def parse_duration(text: str) -> timedelta:
    """'90s', '15m', '24h', '7d', '2w' or a bare number of seconds."""
    seconds = declarations.duration_seconds(text)
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration too long: {text.strip()[:40]!r}") from None


def validate_org(name: str) -> str:
    if not _ORG_NAME.fullmatch(name) or ".." in name or "--" in name:
        raise ValueError(
            f"{name!r} is not a valid Hugging Face organization name "
            "(letters, digits, '-', '_' and '.', starting and ending with a letter or digit)"
        )
    return name


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_endpoint(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"endpoint must be an http(s) URL, got {url!r}")
    if parts.username or parts.password or "@" in parts.netloc:
        raise ValueError("endpoint must not carry credentials; the token comes from HF_TOKEN")
    # An empty query or fragment ('.../?', '.../#') leaves urlsplit's parts empty: look at the text.
    if "?" in url or "#" in url:
        raise ValueError("endpoint must not have a query string or fragment")
    try:
        port = parts.port
    except ValueError:  # out of range, or not a number
        port = 0
    if port == 0:
        raise ValueError(f"endpoint port must be a number from 1 to 65535, got {url.strip()[:100]!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"plain http is only allowed to a loopback address, not {parts.hostname!r}: "
            "the token would cross the network in clear text"
        )
    return url.strip().rstrip("/")


class Backfill(BaseModel):
    """What the first poll of an organization emits: everything, nothing, or a recent window."""

    mode: Literal["all", "none", "window"]
    window: timedelta | None = None

    @classmethod
    def parse(cls, text: str) -> Backfill:
        lowered = text.strip().lower()
        if lowered in ("all", "none"):
            return cls(mode=lowered)
        window = parse_duration(lowered)
        if window > MAX_WINDOW:
            raise ValueError(f"a backfill window can be at most {MAX_WINDOW.days}d; use 'all' for everything")
        return cls(mode="window", window=window)


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _seconds(text: str) -> float:
    return parse_duration(text).total_seconds()


def _choice(allowed: tuple[str, ...]) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if text.strip().lower() not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return text.strip().lower()

    return convert


# Paths and plain text stay text here: the model makes them Paths and checks them.
_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "text": str,
    "path": str,
    "int": int,
    "duration": parse_duration,
    "seconds": _seconds,
    "backfill": Backfill.parse,
    "bool": _flag,
}


def converter(declaration: Declaration) -> Callable[[str], Any]:
    """How the text of a flag or environment variable becomes the setting's value (ValueError if it cannot)."""
    if declaration.kind == "choice":
        return _choice(declaration.choices)
    return _CONVERTERS[declaration.kind]


def declared_default(name: str) -> Any:
    """The default value of a declared setting: its declared text, converted as a user's would be."""
    declaration = BY_FIELD[name]
    return None if declaration.default is None else converter(declaration)(declaration.default)


def declared(name: str, **constraints: Any) -> Any:
    """A model field whose default, description, flag and environment variable come from its declaration."""
    declaration = BY_FIELD[name]
    return Field(
        default=PydanticUndefined if declaration.required else declared_default(name),
        description=declaration.help,
        json_schema_extra={"flag": declaration.flag, "env": declaration.env, "default_shown": declaration.shown},
        **constraints,
    )


DEFAULT_LINE_BYTES: int = declared_default("max_line_bytes")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    org: str = declared("org")
    token: SecretStr = Field(repr=False)  # found by token_discovery, never a flag
    token_source: str
    token_warning: str = ""  # a token file others may read: logged by every poll, shown by `doctor`
    endpoint: str = declared("endpoint")
    query: str = declared("query")
    state_dir: Path = declared("state_dir")
    backfill: Backfill = declared("backfill")
    lookback: timedelta = declared("lookback")
    clock_skew: timedelta = declared("clock_skew", ge=timedelta(0), le=timedelta(days=1))
    deadline: timedelta = declared("deadline")
    connect_timeout: float = declared("connect_timeout", gt=0, le=MAX_WAIT_SECONDS)
    read_timeout: float = declared("read_timeout", gt=0, le=MAX_WAIT_SECONDS)
    max_retries: int = declared("max_retries", ge=0, le=50)
    ca_bundle: Path | None = declared("ca_bundle")
    max_line_bytes: int = declared("max_line_bytes", ge=MIN_LINE_BYTES, le=MAX_BYTES_SETTING)
    max_event_bytes: int = declared("max_event_bytes", ge=1024, le=MAX_BYTES_SETTING)
    lock_timeout: float = declared("lock_timeout", ge=0, le=MAX_WAIT_SECONDS)
    # Read by launch.py before the poller starts (a poll slot is taken there); validated here.
    poll_slots: int = declared("poll_slots", ge=0, le=1024)
    poll_slot_timeout: timedelta = declared("poll_slot_timeout")
    workspace_id: str = declared("workspace_id")
    source_id: str = declared("source_id")
    source_ttl_days: int = declared("source_ttl_days", ge=0, le=2**32 - 1)
    metrics_file: Path | None = declared("metrics_file")
    trace: bool = declared("trace")
    compiled: bool = declared("compiled")
    # Offline IP enrichment (enrich.py): each database is opened and checked before any request.
    geoip_city_db: Path | None = declared("geoip_city_db")
    geoip_asn_db: Path | None = declared("geoip_asn_db")
    iptoasn_tsv: Path | None = declared("iptoasn_tsv")

    _org_check = field_validator("org")(lambda cls, v: validate_org(v))
    _endpoint_check = field_validator("endpoint")(lambda cls, v: validate_endpoint(v))

    @field_validator("lookback", "deadline")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("must be a positive duration")
        return value

    @field_validator("endpoint", "query", "workspace_id", "source_id", mode="before")
    @classmethod
    def _utf8_text(cls, value: object) -> object:
        """Text that goes into requests or records must be UTF-8; an environment variable holding
        other bytes arrives with lone surrogates (Python's surrogateescape). Names are checked
        by their own rule, paths may be any bytes."""
        if isinstance(value, str) and _LONE_SURROGATE.search(value):
            raise ValueError("is not UTF-8 text (the environment variable holds other bytes)")
        return value

    @field_validator("lookback")
    @classmethod
    def _within_history(cls, value: timedelta) -> timedelta:
        if value > MAX_WINDOW:
            raise ValueError(f"must be at most {MAX_WINDOW.days}d")
        return value

    @field_validator("deadline")
    @classmethod
    def _within_a_day(cls, value: timedelta) -> timedelta:
        if value.total_seconds() > MAX_WAIT_SECONDS:
            raise ValueError(f"must be at most {MAX_WAIT_SECONDS:.0f}s")
        return value

    @property
    def effective_source_id(self) -> str:
        return self.source_id or f"huggingface-{self.org}"

    @property
    def metrics_path(self) -> Path:
        return self.metrics_file or OrgFiles(self.state_dir, self.org).metrics


def default_state_dir(env: Mapping[str, str]) -> Path:
    return Path(declarations.default_state_dir(env))


def build_settings(values: Mapping[str, object]) -> Settings:
    """Validate flag/env values into Settings, turning every validation problem into one line."""
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise UsageError(f"invalid settings: {problems}") from None
