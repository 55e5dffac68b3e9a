"""Settings: flags and environment variables, validated before any request is made.

The token is deliberately not a flag: argv shows in `ps` and in the Fluent Bit config.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .errors import AuthError, UsageError
from .statefiles import OrgFiles

# Hub organization names: letters, digits, '-', '_' and '.', starting with a letter or digit.
_ORG_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9])?$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# Upper bounds: beyond them a setting is a typo, and the clock arithmetic or a socket call it feeds
# would fail deep in a poll instead of here.
MAX_WINDOW = timedelta(days=3650)  # lookback and backfill: the Hub keeps far less history
MAX_WAIT_SECONDS = 86400.0  # timeouts, the deadline and the lock wait
MAX_BYTES_SETTING = 1 << 30
MIN_LINE_BYTES = 4096  # enough for all 51 columns with every truncatable field cut short
DEFAULT_LINE_BYTES = 65535  # the shipped config's Buf_Size is 64k; fgets keeps one byte for NUL


def parse_duration(text: str) -> timedelta:
    """'90s', '15m', '24h', '7d', '2w' or a bare number of seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 24h, 7d)")
    number, unit = match.groups()
    try:
        return timedelta(seconds=float(number) * _DURATION_UNITS[unit or "s"])
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


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    org: str
    token: SecretStr = Field(repr=False)
    token_source: str
    token_warning: str = ""  # a token file others may read: logged by every poll, shown by `doctor`
    endpoint: str = "https://huggingface.co"
    query: str = ""
    state_dir: Path
    backfill: Backfill = Backfill(mode="all")
    lookback: timedelta = timedelta(hours=24)
    clock_skew: timedelta = Field(default=timedelta(minutes=5), ge=timedelta(0), le=timedelta(days=1))
    deadline: timedelta = timedelta(seconds=240)
    connect_timeout: float = Field(default=10.0, gt=0, le=MAX_WAIT_SECONDS)
    read_timeout: float = Field(default=60.0, gt=0, le=MAX_WAIT_SECONDS)
    max_retries: int = Field(default=6, ge=0, le=50)
    ca_bundle: Path | None = None
    max_line_bytes: int = Field(default=DEFAULT_LINE_BYTES, ge=MIN_LINE_BYTES, le=MAX_BYTES_SETTING)
    max_event_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, le=MAX_BYTES_SETTING)
    lock_timeout: float = Field(default=5.0, ge=0, le=MAX_WAIT_SECONDS)
    # Read by launch.py before the poller starts (a poll slot is taken there); validated here.
    poll_slots: int = Field(default=2, ge=0, le=1024)
    poll_slot_timeout: timedelta = timedelta(minutes=30)
    workspace_id: str = "default"
    source_id: str = ""
    source_ttl_days: int = Field(default=365, ge=0, le=2**32 - 1)
    metrics_file: Path | None = None
    trace: bool = False
    # Offline IP enrichment (enrich.py): each database is opened and checked before any request.
    geoip_city_db: Path | None = None
    geoip_asn_db: Path | None = None
    iptoasn_tsv: Path | None = None

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
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local" / "state")
    return Path(base) / "hf-audit"


def _login_token_file(env: Mapping[str, str]) -> Path:
    """The file `huggingface-cli login` writes: $HF_HOME/token, HF_HOME defaulting to ~/.cache/huggingface."""
    hf_home = env.get("HF_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache" / "huggingface")
    return Path(hf_home).expanduser() / "token"


MAX_TOKEN_FILE_BYTES = 4096  # a token is ~40 bytes; anything far larger is not a token file


class FoundToken(NamedTuple):
    token: SecretStr
    source: str  # where it came from, for messages; never the token itself
    warning: str = ""  # e.g. a token file others may read


def candidate_tokens(env: Mapping[str, str], token_path: str | None) -> list[str]:
    """The token the settings name, read quietly, so that it is masked in any message printed
    before the settings are validated (a token pasted into another flag, say). Only the source
    that would be used is read: no other file is opened."""
    try:
        return [find_token(env, token_path).token.get_secret_value()]
    except AuthError:
        return [token] if (token := env.get("HF_TOKEN", "").strip()) else []


def find_token(env: Mapping[str, str], token_path: str | None = None) -> FoundToken:
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


def _read_token_file(path: Path, *, required: bool) -> FoundToken | None:
    """The token in `path`: a regular file of at most MAX_TOKEN_FILE_BYTES of UTF-8. Opened without
    blocking and checked before reading, so a FIFO cannot hang the poll nor /dev/zero fill memory."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        if required:
            # A path whose directory is missing too is more likely a token pasted in the wrong place.
            shown = str(path) if path.parent.is_dir() and path.parent != Path(".") else "(path not shown: its directory does not exist either)"
            raise AuthError(f"token file {shown} does not exist") from None
        return None
    except OSError as exc:
        raise AuthError(f"token file {path} cannot be read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise AuthError(f"token file {path} is not a regular file")
        data = b""
        while len(data) <= MAX_TOKEN_FILE_BYTES and (block := os.read(fd, MAX_TOKEN_FILE_BYTES + 1 - len(data))):
            data += block
    except OSError as exc:
        raise AuthError(f"token file {path} cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_TOKEN_FILE_BYTES:
        raise AuthError(f"token file {path} is larger than {MAX_TOKEN_FILE_BYTES} bytes: it does not hold just a token")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AuthError(f"token file {path} is not UTF-8 text") from None
    found = _checked_token(text, f"the file {path}")
    if info.st_mode & 0o077:
        warning = (
            f"the token file {path} is open to group or others (mode {stat.S_IMODE(info.st_mode):04o}): "
            "other users may read the token; chmod 600 it"
        )
        return found._replace(warning=warning)
    return found


def _checked_token(raw: str, source: str) -> FoundToken:
    token = raw.strip()
    if not token:
        raise AuthError(f"the token from {source} is empty")
    if not token.isascii() or not token.isprintable() or any(ch.isspace() for ch in token):
        # Only printable ASCII can go in an HTTP header; anything else would fail deep in
        # http.client with an error that might quote the header.
        raise AuthError(f"the token from {source} contains whitespace, control or non-ASCII characters")
    return FoundToken(SecretStr(token), source)


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
