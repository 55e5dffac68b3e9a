"""`hf-audit-poll doctor` (formerly `check`): every precondition of a good poll, one verdict each, for the on-call engineer.

It reads nothing it does not need and prints where the token came from, never the token.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .client import ExportClient, TLSError, tls_verify
from .enrich import configured_databases, inspect_database
from .errors import AuthError, ExitCode, HfAuditError, NotFoundError
from .fastline import is_built
from .settings import Settings
from .state import StateStore

SHIPPED_BUF_SIZE = 65536  # Buf_Size of the exec input in fluent-bit/fluent-bit.yaml
_BUF_SIZE_LINE = re.compile(r"^\s*buf_size\s*[:\s]\s*['\"]?([0-9.]+\s*[kKmMgG]?[bB]?)['\"]?\s*$", re.MULTILINE | re.IGNORECASE)
# A poll prints at most one export: 100,000 events. A threaded input's ring buffer must hold that.
EXPORT_LIMIT = 100_000
_POLLER_COMMAND = re.compile(r"^\s*command\s*[:\s].*\bhf-audit-poll\b", re.MULTILINE | re.IGNORECASE)
_THREADED_ON = re.compile(r"^\s*threaded\s*[:\s]\s*['\"]?(?:on|true|yes)['\"]?\s*$", re.MULTILINE | re.IGNORECASE)
_RING_CAPACITY = re.compile(r"^\s*thread\.ring_buffer\.capacity\s*[:\s]\s*['\"]?(\d+)", re.MULTILINE | re.IGNORECASE)
_PAUSING = re.compile(
    r"^\s*(mem_buf_limit|storage\.pause_on_chunks_overlimit\s*[:\s]\s*['\"]?(?:on|true|yes)|rate_gate\s*[:\s]\s*['\"]?(?:on|true|yes))",
    re.MULTILINE | re.IGNORECASE,
)


@dataclass
class Verdict:
    item: str
    passed: bool
    detail: str
    exit_code: ExitCode = ExitCode.OK


def fluent_bit_size(text: str) -> int:
    """Fluent Bit's size syntax: a number with an optional K/M/G (powers of 1000) and optional B."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([kKmMgG]?)[bB]?\s*", text)
    if not match:
        raise ValueError(f"not a Fluent Bit size: {text!r}")
    factor = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3}[match.group(2).lower()]
    return int(float(match.group(1)) * factor)


def buf_size_of(config: Path | None) -> tuple[int, str]:
    if config is None:
        return SHIPPED_BUF_SIZE, "the shipped config's Buf_Size"
    sizes = [fluent_bit_size(found) for found in _BUF_SIZE_LINE.findall(config.read_text())]
    if not sizes:
        return 4096, f"{config} sets no Buf_Size, so Fluent Bit's default"
    return min(sizes), f"Buf_Size in {config}"


def run_checks(load: Callable[[], Settings], fluent_bit_config: Path | None) -> list[Verdict]:
    verdicts: list[Verdict] = []
    try:
        settings = load()
    except AuthError as exc:
        return [Verdict("settings", True, "valid"), Verdict("token", False, exc.message, exc.exit_code)]
    except HfAuditError as exc:
        return [Verdict("settings", False, exc.message, exc.exit_code)]
    verdicts.append(Verdict("settings", True, f"organization {settings.org!r}, endpoint {settings.endpoint}"))
    warning = f"; WARNING: {settings.token_warning}" if settings.token_warning else ""
    verdicts.append(Verdict("token", True, f"found in {settings.token_source}{warning}"))
    verdicts += _endpoint_checks(settings)
    verdicts += _state_checks(settings)
    verdicts.append(_line_bound_check(settings, fluent_bit_config))
    verdicts.append(hot_path_check(settings))
    verdicts += enrichment_checks(settings)
    if fluent_bit_config is not None:
        verdicts.append(ring_buffer_check(fluent_bit_config))
    return verdicts


def _endpoint_checks(settings: Settings) -> list[Verdict]:
    client = ExportClient(settings.model_copy(update={"max_retries": 0}), time.monotonic() + 60)
    plain = settings.endpoint.startswith("http://")
    tls = "not used (plain http to loopback, never through a proxy)" if plain else f"certificate verified against {tls_verify(settings)[1]}"
    try:
        first = client.probe()
    except TLSError as exc:
        return [Verdict("endpoint", True, "reachable"), Verdict("tls", False, exc.message, exc.exit_code)]
    except (AuthError, NotFoundError) as exc:
        reached = [Verdict("endpoint", True, "reachable"), Verdict("tls", True, tls)]
        return reached + [Verdict("permission", False, exc.message, exc.exit_code)]
    except HfAuditError as exc:
        return [Verdict("endpoint", False, exc.message, exc.exit_code)]
    verdicts = [
        Verdict("endpoint", True, f"reachable (HTTP {client.stats.status})"),
        Verdict("tls", True, tls),
        Verdict("permission", True, "the token may read the audit-log export"),
    ]
    if first.lstrip()[:1] == b"[":
        verdicts.append(Verdict("export", True, "the body is a JSON array"))
    else:
        verdicts.append(Verdict("export", False, f"the body does not start a JSON array: {first[:60]!r}", ExitCode.DATA))
    return verdicts


def _state_checks(settings: Settings) -> list[Verdict]:
    verdicts = []
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(dir=settings.state_dir, prefix=".check-") as probe:
            probe.write(b"ok")
            probe.flush()
            os.fsync(probe.fileno())
        verdicts.append(Verdict("state directory", True, f"{settings.state_dir} is writable"))
    except OSError as exc:
        detail = f"{settings.state_dir} is not writable: {exc.strerror or exc}"
        verdicts.append(Verdict("state directory", False, detail, ExitCode.STATE))
    store = StateStore(settings.state_dir, settings.org, settings.lock_timeout)
    try:
        checkpoint = store.load()
    except HfAuditError as exc:
        verdicts.append(Verdict("checkpoint", False, exc.message, exc.exit_code))
    else:
        if checkpoint is None:
            detail = f"none yet: the first poll backfills ({settings.backfill.mode})"
        else:
            detail = f"readable, watermark {checkpoint.watermark}, {len(checkpoint.seen)} ids in the lookback window"
        verdicts.append(Verdict("checkpoint", True, detail))
    return verdicts


def _line_bound_check(settings: Settings, fluent_bit_config: Path | None) -> Verdict:
    try:
        buf_size, source = buf_size_of(fluent_bit_config)
    except OSError as exc:
        detail = f"cannot read the Fluent Bit config given by --fluent-bit-config: {exc.strerror or exc}"
        return Verdict("line bound", False, detail, ExitCode.USAGE)
    except ValueError as exc:
        return Verdict("line bound", False, f"cannot read the Fluent Bit config: {exc}", ExitCode.USAGE)
    # fgets keeps one byte for the terminating NUL: a line must be shorter than Buf_Size.
    if settings.max_line_bytes < buf_size:
        return Verdict("line bound", True, f"lines of at most {settings.max_line_bytes} bytes fit {source} ({buf_size})")
    return Verdict(
        "line bound",
        False,
        f"lines may reach {settings.max_line_bytes} bytes but {source} is {buf_size}: longer lines would be "
        f"split and lost; set HF_AUDIT_MAX_LINE_BYTES below {buf_size} or raise Buf_Size",
        ExitCode.USAGE,
    )


def ring_buffer_check(config: Path) -> Verdict:
    """Threaded exec inputs hand records to the engine through a ring buffer that drops a record
    after 1 s of finding it full: each must hold a whole poll, and the input must never pause
    (the engine does not read a paused input's ring). Read from the file's text, like Buf_Size."""
    try:
        text = config.read_text()
    except OSError as exc:
        return Verdict("ring buffer", False, f"cannot read {config}: {exc.strerror or exc}", ExitCode.USAGE)
    inputs = len(_POLLER_COMMAND.findall(text))
    if not inputs or not _THREADED_ON.search(text):
        return Verdict("ring buffer", True, f"no threaded hf-audit-poll input in {config}: records go straight to the engine")
    capacities = [int(found) for found in _RING_CAPACITY.findall(text)]
    advice = "set thread.ring_buffer.capacity 131072 on each (README: Many organizations)"
    if len(capacities) < inputs or min(capacities) <= EXPORT_LIMIT:
        smallest = min(capacities) if len(capacities) >= inputs else 1024
        return Verdict(
            "ring buffer", False,
            f"{config}: an hf-audit-poll input's ring buffer holds {smallest} records, less than one poll may print "
            f"({EXPORT_LIMIT}): records may be dropped; {advice}", ExitCode.USAGE,
        )
    pausing = _PAUSING.search(text)
    if pausing:
        return Verdict(
            "ring buffer", False,
            f"{config} sets {pausing.group(1).split()[0]}: a paused input's ring buffer is not read and its records are dropped; "
            "remove it from the hf-audit-poll inputs", ExitCode.USAGE,
        )
    return Verdict("ring buffer", True, f"{inputs} hf-audit-poll input(s) in {config} hold {min(capacities)} records each")


def print_verdicts(verdicts: list[Verdict], out: TextIO, redact: Callable[[str], str]) -> ExitCode:
    for verdict in verdicts:
        out.write(redact(f"{'PASS' if verdict.passed else 'FAIL'}  {verdict.item:<16} {verdict.detail}") + "\n")
    failed = [v for v in verdicts if not v.passed]
    out.write("all checks passed\n" if not failed else f"{len(failed)} check(s) failed\n")
    return failed[0].exit_code if failed else ExitCode.OK


def hot_path_check(settings: Settings) -> Verdict:
    """Which code writes the records; a note, never a failure (both write the same bytes)."""
    if not is_built():
        detail = "Python only: the compiled extension was not built (reinstall with Rust's cargo on PATH to build it)"
    elif not settings.compiled:
        detail = "Python only: HF_AUDIT_COMPILED=false"
    else:
        detail = "compiled (plugin/native), the Python code for what it leaves"
    return Verdict("hot path", True, detail)


def enrichment_checks(settings: Settings) -> list[Verdict]:
    """One verdict per configured IP database: its type and build date, or why it cannot be used."""
    verdicts = []
    for setting, path in configured_databases(settings):
        try:
            info = inspect_database(setting, path)
        except HfAuditError as exc:
            verdicts.append(Verdict(setting, False, exc.message, exc.exit_code))
        else:
            detail = f"{info.path}: {info.kind}, built {info.built:%Y-%m-%d}, {info.detail}"
            verdicts.append(Verdict(setting, True, detail))
    return verdicts
