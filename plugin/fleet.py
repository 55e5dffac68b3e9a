"""`hf-audit-fleet`: write the Fluent Bit config for many organizations from a list of them.

The config is the shipped exec input of fluent-bit.yaml repeated once per organization with
`--org` (and `--token-path` where an organization has its own token), in YAML or classic format,
either as a whole config (service, parsers, outputs) or as the inputs alone, to include from a
Fluent Bit you already run. The organization list is a text file: one organization a line,
optionally followed by its token file; `#` starts a comment.

    acme
    globex   /etc/hf-audit/tokens/globex
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .settings import validate_org

Format = Literal["yaml", "conf"]

# The exec input of fluent-bit/fluent-bit.yaml, key by key (tests hold the two together). Why each
# value is what it is: see the comments there and README "Many organizations".
RING_BUFFER_SLOTS = 131072  # above the 100,000 events an export holds at most: one poll never fills it
SHIPPED_INPUT: tuple[tuple[str, str], ...] = (
    ("name", "exec"),
    ("alias", "hf_audit.{org}"),
    ("tag", "hf_audit.{org}"),
    ("command", "{command}"),
    ("interval_sec", "${HF_AUDIT_INTERVAL_SEC:-300}"),
    ("buf_size", "65536"),
    ("parser", "hf_audit_json"),
    ("threaded", "true"),
    ("thread.ring_buffer.capacity", str(RING_BUFFER_SLOTS)),
    ("oneshot", "false"),
    ("storage.type", "filesystem"),
)
_CLASSIC_KEYS = {
    "name": "Name", "alias": "Alias", "tag": "Tag", "command": "Command", "interval_sec": "Interval_Sec",
    "buf_size": "Buf_Size", "parser": "Parser", "threaded": "Threaded", "oneshot": "Oneshot",
}  # fmt: skip


@dataclass(frozen=True)
class Organization:
    name: str
    token_path: str | None = None

    @property
    def command(self) -> str:
        """The exec command: `exec` hands the shell's process over to the poller (one process less
        per organization). A token file of its own goes with an empty HF_TOKEN, which would
        otherwise win over the file."""
        if self.token_path is None:
            return f"exec hf-audit-poll --org {self.name}"
        return f"HF_TOKEN= exec hf-audit-poll --org {self.name} --token-path {shlex.quote(self.token_path)}"


class FleetError(ValueError):
    """A line of the organization list that cannot become a config."""


def parse_organizations(text: str, token_dir: str | None = None) -> list[Organization]:
    """The organization list: `org [token file]` a line, `#` comments, blank lines skipped.
    With `token_dir`, an organization without a token file of its own gets `<token_dir>/<org>`."""
    found: list[Organization] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split(None, 1)
        try:
            name = validate_org(fields[0])
        except ValueError as exc:
            raise FleetError(f"line {number}: {exc}") from None
        if name in seen:
            raise FleetError(f"line {number}: organization {name!r} is listed twice (two polls of one organization would race for its lock)")
        seen.add(name)
        token_path = fields[1].strip() if len(fields) > 1 else (f"{token_dir.rstrip('/')}/{name}" if token_dir else None)
        if token_path is not None:
            _check_token_path(token_path, number)
        found.append(Organization(name, token_path))
    if not found:
        raise FleetError("the list names no organization")
    return found


def _check_token_path(path: str, number: int) -> None:
    # "$" would be expanded by Fluent Bit (and the shell), a newline would end the config value.
    if not path.startswith("/") or any(ch in path for ch in "$\n\r\0"):
        raise FleetError(f"line {number}: the token file must be an absolute path without '$' or control characters")


def input_settings(org: Organization) -> list[tuple[str, str]]:
    return [(key, value.replace("{org}", org.name).replace("{command}", org.command)) for key, value in SHIPPED_INPUT]


def _yaml_value(value: str) -> str:
    plain = value and value[0] not in "&*!|>'\"%@`#{[-?:" and ": " not in value and " #" not in value
    return value if plain else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_yaml(orgs: Sequence[Organization], *, config_dir: str, inputs_only: bool) -> str:
    lines = [_header(len(orgs), "yaml"), ""]
    if not inputs_only:
        lines += [
            "service:", "  flush: 1", "  grace: 5", "  log_level: ${HF_AUDIT_FLB_LOG_LEVEL:-info}", "  http_server: off",
            "  storage.path: ${HF_AUDIT_FLB_STORAGE_PATH:-/var/lib/fluent-bit/hf-audit}", "  storage.sync: normal", "",
            "includes:", f"  - {config_dir}parsers.yaml",
            "  # The sinks: one line each, as in fluent-bit.yaml (keep at least one).",
            f"  - {config_dir}outputs/stdout.yaml", f"  # - {config_dir}outputs/clickhouse.yaml",
            f"  # - {config_dir}monitoring.yaml", "",
        ]
    lines += ["pipeline:", "  inputs:"]
    for number, org in enumerate(orgs):
        settings = input_settings(org)
        if number:
            lines.append("")
        lines.append(f"    - {settings[0][0]}: {_yaml_value(settings[0][1])}")
        lines += [f"      {key}: {_yaml_value(value)}" for key, value in settings[1:]]
    return "\n".join(lines) + "\n"


def render_conf(orgs: Sequence[Organization], *, config_dir: str, inputs_only: bool) -> str:
    lines = [_header(len(orgs), "conf"), ""]
    if not inputs_only:
        lines += [
            "[SERVICE]", "    Flush                1", "    Grace                5",
            "    Log_Level            ${HF_AUDIT_FLB_LOG_LEVEL:-info}", "    HTTP_Server          Off",
            "    storage.path         ${HF_AUDIT_FLB_STORAGE_PATH:-/var/lib/fluent-bit/hf-audit}",
            "    storage.sync         normal", f"    Parsers_File         {config_dir}parsers.conf", "",
        ]
    for org in orgs:
        lines.append("[INPUT]")
        lines += [f"    {_CLASSIC_KEYS.get(key, key):<28} {value}" for key, value in input_settings(org)]
        lines.append("")
    if not inputs_only:
        lines += [
            "# The sinks: one line each, as in fluent-bit.conf (keep at least one).",
            f"@INCLUDE {config_dir}outputs/stdout.conf", f"# @INCLUDE {config_dir}outputs/clickhouse.conf",
            f"# @INCLUDE {config_dir}monitoring.conf",
        ]
    return "\n".join(lines).rstrip("\n") + "\n"


def _header(count: int, fmt: Format) -> str:
    return "\n".join(
        f"# {line}" if line else "#"
        for line in (
            f"Generated by hf-audit-fleet: {count} organizations, one exec input each ({fmt}).",
            "Each input is the shipped input of fluent-bit.yaml with --org (and --token-path for a token",
            "of its own). Regenerate instead of editing: hf-audit-fleet --help.",
            "Fluent Bit's environment holds what every poll shares (HF_TOKEN unless each has a token",
            "file, HF_ENDPOINT, HF_AUDIT_STATE_DIR, HF_AUDIT_POLL_SLOTS, ...), as for fluent-bit.yaml.",
        )
    )


def render(orgs: Sequence[Organization], fmt: Format, *, config_dir: str = "", inputs_only: bool = False) -> str:
    prefix = config_dir.rstrip("/") + "/" if config_dir else ""
    renderer = render_yaml if fmt == "yaml" else render_conf
    return renderer(orgs, config_dir=prefix, inputs_only=inputs_only)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hf-audit-fleet",
        description="Write a Fluent Bit config polling many Hugging Face organizations: the shipped exec input, "
        "once per organization. The list holds one organization a line, optionally followed by its token file.",
    )
    parser.add_argument("orgs", type=Path, help="organization list file ('-' for standard input)")
    parser.add_argument("--format", choices=("yaml", "conf"), default="yaml", help="YAML (default) or classic")
    parser.add_argument("--token-dir", help="token file of an organization without one in the list: <dir>/<org>")
    parser.add_argument(
        "--config-dir", default="",
        help="where the shipped fluent-bit/ directory is, relative to the written file (for its parsers and outputs)",
    )
    parser.add_argument("--inputs-only", action="store_true", help="only the inputs, to include from your own config")
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        text = sys.stdin.read() if str(args.orgs) == "-" else args.orgs.read_text(encoding="utf-8")
        orgs = parse_organizations(text, args.token_dir)
    except (OSError, UnicodeDecodeError, FleetError) as exc:
        print(f"hf-audit-fleet: {args.orgs}: {exc}", file=sys.stderr)
        return 2
    config = render(orgs, args.format, config_dir=args.config_dir, inputs_only=args.inputs_only)
    if args.output is None:
        sys.stdout.write(config)
    else:
        args.output.write_text(config, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
