"""Settings: flags and environment variables, validated before any request is made.

The token is deliberately not a flag: argv shows in `ps` and in the Fluent Bit config.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .errors import AuthError, UsageError

# Hub organization names: letters, digits, '-', '_' and '.', starting with a letter or digit.
_ORG_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9])?$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

MIN_LINE_BYTES = 4096  # enough for all 51 columns with every truncatable field cut short
DEFAULT_LINE_BYTES = 65535  # the shipped config's Buf_Size is 64k; fgets keeps one byte for NUL


def parse_duration(text: str) -> timedelta:
    """'90s', '15m', '24h', '7d', '2w' or a bare number of seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 24h, 7d)")
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _DURATION_UNITS[unit or "s"])


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
    if parts.username or parts.password:
        raise ValueError("endpoint must not carry credentials; the token comes from HF_TOKEN")
    if parts.query or parts.fragment:
        raise ValueError("endpoint must not have a query string or fragment")
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
        return cls(mode="window", window=parse_duration(lowered))


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    org: str
    token: SecretStr = Field(repr=False)
    token_source: str
    endpoint: str = "https://huggingface.co"
    query: str = ""
    state_dir: Path
    backfill: Backfill = Backfill(mode="all")
    lookback: timedelta = timedelta(hours=24)
    deadline: timedelta = timedelta(seconds=240)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = Field(default=6, ge=0, le=50)
    ca_bundle: Path | None = None
    max_line_bytes: int = Field(default=DEFAULT_LINE_BYTES, ge=MIN_LINE_BYTES)
    max_event_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    lock_timeout: float = Field(default=5.0, ge=0)
    # Read by launch.py before the poller starts (a poll slot is taken there); validated here.
    poll_slots: int = Field(default=2, ge=0, le=1024)
    poll_slot_timeout: timedelta = timedelta(minutes=30)
    workspace_id: str = "default"
    source_id: str = ""
    source_ttl_days: int = Field(default=365, ge=0, le=2**32 - 1)
    metrics_file: Path | None = None
    trace: bool = False

    _org_check = field_validator("org")(lambda cls, v: validate_org(v))
    _endpoint_check = field_validator("endpoint")(lambda cls, v: validate_endpoint(v))

    @field_validator("lookback", "deadline")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("must be a positive duration")
        return value

    @property
    def effective_source_id(self) -> str:
        return self.source_id or f"huggingface-{self.org}"

    @property
    def metrics_path(self) -> Path:
        return self.metrics_file or self.state_dir / f"{self.org}.prom"


def default_state_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local" / "state")
    return Path(base) / "hf-audit"


def _login_token_file(env: Mapping[str, str]) -> Path:
    """The file `huggingface-cli login` writes: $HF_HOME/token, HF_HOME defaulting to ~/.cache/huggingface."""
    hf_home = env.get("HF_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache" / "huggingface")
    return Path(hf_home).expanduser() / "token"


def candidate_tokens(env: Mapping[str, str], token_path: str | None) -> list[str]:
    """Every token the settings could name, read quietly, so that it is masked in any message
    printed before the settings are validated (a token pasted into another flag, say)."""
    found = [env.get("HF_TOKEN", "").strip()]
    for path in (token_path, env.get("HF_TOKEN_PATH"), _login_token_file(env)):
        if path:
            try:
                found.append(Path(path).expanduser().read_text(encoding="utf-8").strip())
            except (OSError, UnicodeDecodeError):
                pass
    return [token for token in found if token]


def find_token(env: Mapping[str, str], token_path: str | None = None) -> tuple[SecretStr, str]:
    """The token and a description of where it came from (never the token itself).

    Order: HF_TOKEN, then the file named by --token-path / HF_TOKEN_PATH, then the file that
    `huggingface-cli login` writes ($HF_HOME/token, HF_HOME defaulting to ~/.cache/huggingface).
    """
    if env.get("HF_TOKEN", "").strip():
        return _checked_token(env["HF_TOKEN"], "the HF_TOKEN environment variable")
    path_text = token_path or env.get("HF_TOKEN_PATH")
    if path_text:
        return _read_token_file(Path(path_text).expanduser(), required=True)
    login_file = _login_token_file(env)
    found = _read_token_file(login_file, required=False)
    if found is None:
        raise AuthError(
            "no Hugging Face token found: set HF_TOKEN, or HF_TOKEN_PATH to a file holding it, "
            f"or run `huggingface-cli login` (checked HF_TOKEN, HF_TOKEN_PATH and {login_file})"
        )
    return found


def _read_token_file(path: Path, *, required: bool) -> tuple[SecretStr, str] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            # A path whose directory is missing too is more likely a token pasted in the wrong place.
            shown = str(path) if path.parent.is_dir() and path.parent != Path(".") else "(path not shown: its directory does not exist either)"
            raise AuthError(f"token file {shown} does not exist") from None
        return None
    except OSError as exc:
        raise AuthError(f"token file {path} cannot be read: {exc.strerror}") from None
    return _checked_token(text, f"the file {path}")


def _checked_token(raw: str, source: str) -> tuple[SecretStr, str]:
    token = raw.strip()
    if not token:
        raise AuthError(f"the token from {source} is empty")
    if not token.isascii() or not token.isprintable() or any(ch.isspace() for ch in token):
        # Only printable ASCII can go in an HTTP header; anything else would fail deep in
        # http.client with an error that might quote the header.
        raise AuthError(f"the token from {source} contains whitespace, control or non-ASCII characters")
    return SecretStr(token), source


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
