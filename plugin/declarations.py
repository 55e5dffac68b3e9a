"""Every setting of `hf-audit-poll`, declared once: its flag, environment variable, default and help.

The settings model (settings.py) takes each field's default and description from here, the command
line (cli.py) builds its options from here, launch.py reads the poll-slot settings from here before
anything heavy is imported, and README.md's settings table is generated from here (readme_settings.py).

This module must stay as light as launch.py needs it: the standard library's cheapest modules only
(no pydantic, not even dataclasses), since a fleet keeps one waiting poll per organization.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# How a setting's text becomes a value (settings.py holds the conversion of each kind).
KINDS = frozenset({"text", "path", "int", "duration", "seconds", "backfill", "bool", "choice"})


def duration_seconds(text: str) -> float:
    """'90s', '15m', '24h', '7d', '2w', '250ms' or a bare number of seconds, in seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 24h, 7d)")
    number, unit = match.groups()
    return float(number) * _DURATION_UNITS[unit or "s"]


def default_state_dir(env: Mapping[str, str]) -> str:
    """$XDG_STATE_HOME/hf-audit, else ~/.local/state/hf-audit."""
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser(env.get("HOME", "~")), ".local", "state")
    return os.path.join(base, "hf-audit")


class Declaration:
    """One setting (a plain class: dataclasses would cost launch.py 1.5 MB a waiting poll).

    The flag is the field's name in kebab case unless `flag` says otherwise. `default` is the
    default as one would write it in the environment variable, or None when the setting has no
    value by default (or, with `required`, must be given); the settings model's
    default is this text converted as any other. `shown` is the default as the README and --help
    state it, for defaults that are a rule rather than a value (e.g. `huggingface-<org>`).
    """

    __slots__ = ("field", "flag", "env", "kind", "help", "default", "shown", "required", "choices")

    def __init__(
        self,
        field: str,
        env: str,
        kind: str,
        help: str,
        *,
        flag: str | None = None,
        default: str | None = None,
        shown: str | None = None,
        required: bool = False,
        choices: tuple[str, ...] = (),
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"{field}: unknown kind {kind!r}")
        if shown is None and default is None:
            raise ValueError(f"{field}: a setting without a default value must say what its default is")
        self.field = field
        self.flag = flag or "--" + field.replace("_", "-")
        self.env = env
        self.kind = kind
        self.help = help
        self.default = default
        self.shown: str = shown if shown is not None else str(default)
        self.required = required
        self.choices = choices

    def __repr__(self) -> str:
        return f"Declaration({self.field!r}, {self.env!r})"


DECLARATIONS: tuple[Declaration, ...] = (
    Declaration("org", "HF_ORG", "text", "organization whose audit log is polled", shown="(required)", required=True),
    Declaration("endpoint", "HF_ENDPOINT", "text", "Hub URL; plain http is refused except to a loopback address", default="https://huggingface.co"),
    Declaration(
        "token_path", "HF_TOKEN_PATH", "path",
        "file holding the token, read when HF_TOKEN is unset (HF_HOME defaults to ~/.cache/huggingface)",
        shown="$HF_HOME/token",
    ),
    Declaration("query", "HF_AUDIT_QUERY", "text", "search filter passed as the export's q parameter, e.g. type:repo.create", default="", shown="(none)"),
    Declaration(
        "state_dir", "HF_AUDIT_STATE_DIR", "path", "directory of the checkpoints, health and metrics files",
        shown="$XDG_STATE_HOME/hf-audit or ~/.local/state/hf-audit", required=True,  # default_state_dir(env)
    ),
    Declaration("backfill", "HF_AUDIT_BACKFILL", "backfill", "what the first poll emits: all, none, or a window such as 7d", default="all"),
    Declaration("lookback", "HF_AUDIT_LOOKBACK", "duration", "how late an event may appear in the export and still be emitted", default="24h"),
    Declaration(
        "clock_skew", "HF_AUDIT_CLOCK_SKEW", "duration",
        "how far past this machine's clock the watermark may go; later events are printed once, counted as future (at most 1d)",
        default="5m",
    ),
    Declaration(
        "deadline", "HF_AUDIT_DEADLINE", "duration",
        "a poll gives up after this long, retries included; keep it below Interval_Sec", default="240s",
    ),
    Declaration("connect_timeout", "HF_AUDIT_CONNECT_TIMEOUT", "seconds", "time to connect to the Hub", default="10s"),
    Declaration("read_timeout", "HF_AUDIT_READ_TIMEOUT", "seconds", "time without a byte from the Hub before a read fails", default="60s"),
    Declaration("max_retries", "HF_AUDIT_MAX_RETRIES", "int", "retries on connection errors and HTTP 408, 429, 500, 502, 503 and 504, with backoff and jitter", default="6"),
    Declaration(
        "ca_bundle", "HF_AUDIT_CA_BUNDLE", "path",
        "CA bundle file for TLS verification; wins over REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE",
        shown="REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE, else requests' bundle",
    ),
    Declaration(
        "max_line_bytes", "HF_AUDIT_MAX_LINE_BYTES", "int",
        "longest line printed, newline included; must be below the exec input's Buf_Size",
        default="65535",  # the shipped config's Buf_Size is 64k; fgets keeps one byte for NUL
    ),
    Declaration("max_event_bytes", "HF_AUDIT_MAX_EVENT_BYTES", "int", "largest single event accepted in the export", default="33554432"),
    Declaration("lock_timeout", "HF_AUDIT_LOCK_TIMEOUT", "seconds", "how long to wait for another poll of the same organization", default="5s"),
    Declaration(
        "poll_slots", "HF_AUDIT_POLL_SLOTS", "int",
        "how many polls of one state directory download or print at once (0: no limit); the rest wait", default="2",
    ),
    Declaration(
        "poll_slot_timeout", "HF_AUDIT_POLL_SLOT_TIMEOUT", "duration",
        "how long a poll waits for a free poll slot before giving up (0: no limit)", default="30m",
    ),
    Declaration("workspace_id", "HF_AUDIT_WORKSPACE_ID", "text", "value of the workspaceID column", default="default"),
    Declaration("source_id", "HF_AUDIT_SOURCE_ID", "text", "value of the sourceID column", default="", shown="huggingface-<org>"),
    Declaration(
        "source_ttl_days", "HF_AUDIT_SOURCE_TTL", "int",
        "value of the sourceTTL column: days a sink keeps a record (0: forever)", flag="--source-ttl", default="365",
    ),
    Declaration("metrics_file", "HF_AUDIT_METRICS_FILE", "path", "Prometheus text file written after every poll", shown="<state dir>/<org>.prom"),
    Declaration(
        "log_level", "HF_AUDIT_LOG_LEVEL", "choice", "debug, info, warning or error",
        default="info", choices=("debug", "info", "warning", "error"),
    ),
    Declaration("log_format", "HF_AUDIT_LOG_FORMAT", "choice", "stderr line format: logfmt or json", default="logfmt", choices=("logfmt", "json")),
    Declaration("trace", "HF_AUDIT_TRACE", "bool", "log every HTTP exchange (credentials and cookies masked)", default="false"),
    Declaration(
        "compiled", "HF_AUDIT_COMPILED", "bool",
        "write records with the compiled hot path, where it was built (false: the Python code alone, the same bytes, slower)",
        default="true",
    ),
    Declaration(
        "geoip_city_db", "HF_AUDIT_GEOIP_CITY_DB", "path",
        "MaxMind DB City database (GeoLite2-City, GeoIP2-City, DB-IP City Lite): fills srcCity, srcLatitude, srcLongitude",
        shown="(none)",
    ),
    Declaration(
        "geoip_asn_db", "HF_AUDIT_GEOIP_ASN_DB", "path",
        "MaxMind DB ASN or ISP database (GeoLite2-ASN, GeoIP2-ISP): fills srcASNumber, srcASOrganization, srcISP",
        shown="(none)",
    ),
    Declaration(
        "iptoasn_tsv", "HF_AUDIT_IPTOASN_TSV", "path",
        "iptoasn.com ip2asn-combined.tsv, plain or .gz: fills srcASNumber, srcASOrganization, srcASCountryCode",
        shown="(none)",
    ),
)
BY_FIELD: dict[str, Declaration] = {declaration.field: declaration for declaration in DECLARATIONS}
