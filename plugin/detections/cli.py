"""hf-audit-rules: validate the Sigma pack and convert it into what each sink loads.

    hf-audit-rules generate --out fluent-bit/detections   write every target's files
    hf-audit-rules check --out fluent-bit/detections      exit 1 if the files are not what generate writes
    hf-audit-rules list                                   each rule and the targets it converts to
    hf-audit-rules validate                               pySigma's validators over the pack
    hf-audit-rules readme [--update README.md]            the README's rules table

Works offline: the ATT&CK records the rules use ship with the pack.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

EXTRA_HINT = "hf-audit-rules needs pySigma and its backends: pip install 'hf-audit[rules]'"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-audit-rules", description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=Path, help="folder of Sigma rule files (default: the shipped pack)")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("generate", "check"):
        command = commands.add_parser(name)
        command.add_argument("--out", type=Path, required=True, help="output folder, e.g. fluent-bit/detections")
    commands.add_parser("list")
    commands.add_parser("validate")
    readme = commands.add_parser("readme")
    readme.add_argument("--update", type=Path, help="replace the table between its markers in this file instead of printing it")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if find_spec("sigma") is None or find_spec("sigma.backends.loki") is None:
        print(EXTRA_HINT, file=sys.stderr)
        return 2
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from sigma.exceptions import SigmaError

    from .outputs import convert_pack, differing_files, rendered_files, write_files
    from .pack import RULES_DIR, load_pack, offline_attack_data
    from .readme_table import END, START, rules_table, table_in
    from .targets import TARGETS
    from .validation import validate_pack

    with offline_attack_data():
        try:
            pack = load_pack(args.rules or RULES_DIR)
        except (OSError, ValueError, SigmaError) as exc:
            print(f"hf-audit-rules: {exc}", file=sys.stderr)
            return 1
        if args.command == "validate":
            issues = validate_pack(pack)
            for issue in issues:
                print(issue, file=sys.stderr)
            print(f"{len(pack)} rules, {len(issues)} validation issues")
            return 1 if issues else 0
        result = convert_pack(pack)
    if args.command == "readme":
        table = rules_table(result)
        if args.update is None:
            sys.stdout.write(table)
            return 0
        text = args.update.read_text(encoding="utf-8")
        current = table_in(text)
        if current is None:
            print(f"{args.update}: no rules table markers ({START!r} ... {END!r})", file=sys.stderr)
            return 1
        args.update.write_text(text.replace(current, table), encoding="utf-8")
        return 0
    if args.command == "list":
        for entry in result.alerts:
            print(f"{entry.name:45} {entry.level:13} {', '.join(result.targets_of(entry))}")
        for item in result.unsupported():
            print(f"not on {item['target']}: {item['rule']}: {item['reason']}")
        return 0
    files = rendered_files(result)
    if args.command == "check":
        differing = differing_files(files, args.out)
        for relative in differing:
            print(f"out of date: {args.out / relative}", file=sys.stderr)
        if differing:
            print("run `make detections` (hf-audit-rules generate) and commit the result", file=sys.stderr)
            return 1
        return 0
    write_files(files, args.out)
    counts = ", ".join(f"{target.name} {len(result.converted(target.name))}" for target in TARGETS)
    print(f"{len(result.alerts)} alerting rules ({len(pack)} in the pack); converted: {counts}")
    for item in result.unsupported():
        print(f"not on {item['target']}: {item['rule']}: {item['reason']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
