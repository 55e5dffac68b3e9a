"""`make mutation`, its compiled part: one-line mutants of plugin/native/src/lib.rs, each against
tests/test_fastline.py.

cosmic-ray mutates Python only. The compiled hot path is a second implementation of rules whose
definition is Python (normalize.py, line.py, events.py), so each mutant below breaks one of those
rules the way a slip would: a bound off by one, a default, an order, an escape, a calendar rule. The
run builds each mutant in a copy of the crate (build/mutation/native), puts it in a copy of plugin/
first on PYTHONPATH (the worktree is never changed) and runs the tests. It fails when a mutant survives that
is not listed as equivalent, with its reason, in EQUIVALENT.

The slips in an `unsafe` write's room (CHECKED_MUTANTS) run against tests/test_native_checked.py
instead, which builds the mutated copy of the crate in Rust's debug profile.

Usage: python tests/mutation/native.py   (about 10 s of build and 5 s of tests per mutant)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # run as a script: tests/ holds the shared build helpers

from native_build import build_extension, copy_package  # noqa: E402 - importable once tests/ is on the path

CRATE = REPO / "plugin" / "native"
BUILD = REPO / "build" / "mutation" / "native"
TESTS = ("tests/test_fastline.py", "-x", "-q", "-p", "no:cacheprovider")

# (name, the line's text, its mutant): each text occurs exactly once in lib.rs.
MUTANTS: tuple[tuple[str, str, str], ...] = (
    ("tag value bound", "if chars(&text) <= value_bound && chars(&key) <= key_bound {", "if chars(&text) < value_bound && chars(&key) <= key_bound {"),
    ("characters, not bytes", "        text.chars().count()", "        text.len()"),
    ("tag budget", "            if *budget <= 0 {", "            if *budget < 0 {"),
    ("data depth bound", "        if depth >= self.limits.data_depth {", "        if depth > self.limits.data_depth {"),
    ("list of scalars joined", 'texts.join(",")', 'texts.join(";")'),
    ("list index in a tag key", "complete = child_tag(&index.to_string(), &child, &mut budget)? && complete;",
     "complete = child_tag(&(index + 1).to_string(), &child, &mut budget)? && complete;"),
    ("empty oauth client", 'tags.set(Cow::Borrowed("oauth.clientId"), Cow::Borrowed(text(Some(oauth), intern!(py, "clientId"))?));',
     'let _ = text(Some(oauth), intern!(py, "clientId"))?;'),
    ("actor cut flagged", '            tags.set(Cow::Borrowed("truncated"), Cow::Borrowed("true"));\n        }\n        Ok(actor)', "        }\n        Ok(actor)"),
    ("author deleted", '                actor.push((Cow::Borrowed("deleted"), Cow::Borrowed(text)));', ""),
    ("read-only types", "Field::ReadOnly => write_bool(line, self.read_only_types.contains(event.event_type)),", "Field::ReadOnly => write_bool(line, false),"),
    ("repository kind default", '        _ => "model",\n', '        _ => "models",\n'),
    ("from and to only in the repo scope", 'if scope == "repo" {', 'if scope != "org" {'),
    ("user fields in order", '                found.extend(named(py, owner, "user", &user, &[K::User, K::Name])?);',
     '                found.extend(named(py, owner, "user", &user, &[K::Name, K::User])?);'),
    ("resources deduplicated", "    found.retain(|name| seen.insert(name.clone()));", "    found.retain(|name| seen.insert(name.clone()) || true);"),
    ("resources bounded", "    found.truncate(limit);", "    found.truncate(limit + 1);"),
    ("escape hex case", "(u64::from_le_bytes([b'\\\\', b'u', b'0', b'0', HEX[byte >> 4], HEX[byte & 0xf], 0, 0]), 6)",
     "(u64::from_le_bytes([b'\\\\', b'U', b'0', b'0', HEX[byte >> 4], HEX[byte & 0xf], 0, 0]), 6)"),
    ("escape DEL", "        } else if byte < 0x20 {", "        } else if byte < 0x20 || byte == 0x7f {"),
    ("escape of a newline", "            b'\\n' => b'n',", "            b'\\n' => b'N',"),
    ("escape marks: backslash", "    (below_space | zero_byte(quote) | zero_byte(backslash)) & HIGHS", "    (below_space | zero_byte(quote)) & HIGHS"),
    ("float tags", "        return Ok(Some(Cow::Owned(value.str()?.to_str()?.to_owned())));", "        return Ok(Some(Cow::Owned(value.repr()?.to_str()?.to_owned() + \"0\")));"),
    ("uuid variant", 'hex[16] = b"89ab"[(digest[8] >> 4 & 0x3) as usize];', 'hex[16] = b"89ab"[(digest[8] & 0x3) as usize];'),
    ("id length bound", "Ok(!text.is_empty() && text.len() <= most && text.is_ascii())", "Ok(!text.is_empty() && text.len() < most && text.is_ascii())"),
    ("author id alias", "if matches!(name, K::Author) && nested.contains(key(py, K::Id))? {", "if false {"),
    ("only author.deleted may be null", "if !(value.is_exact_instance_of::<PyBool>() || value.is_none() && flag_may_be_null) {",
     "if !(value.is_exact_instance_of::<PyBool>() || value.is_none()) {"),
    ("hour bound", "hour < 24 &&", "hour <= 24 &&"),
    ("leap years", "year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)", "year % 4 == 0"),
)

# A slip in an `unsafe` write's room does not change what a release build writes while the buffer
# happens to have room, so these run against tests/test_native_checked.py (a debug build of the
# mutated crate, its bounds assertions on) instead.
CHECKED_MUTANTS: tuple[tuple[str, str, str], ...] = (
    ("escaper's reservation", "    out.reserve(bytes.len() * 6 + 8);", "    out.reserve(bytes.len() + 8);"),
)
CHECKED_TESTS = ("tests/test_native_checked.py", "-x", "-q", "-p", "no:cacheprovider")

EQUIVALENT: dict[str, str] = {}


def build(source: str, tree: Path) -> str | None:
    """Build lib.rs as `source` into the tree's hf_audit; the compiler's complaint when it fails."""
    (BUILD / "crate" / "src" / "lib.rs").write_text(source)
    return build_extension(BUILD / "crate", BUILD / "target", tree, release=True)


def tests_pass(tree: Path) -> bool:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([sys.executable, "-m", "pytest", *TESTS], cwd=REPO, env=env, capture_output=True).returncode == 0


def release_killed(source: str, tree: Path) -> bool | str:
    """Whether test_fastline fails on the release build of `source`; the compiler's complaint
    when it does not build."""
    if (problem := build(source, tree)) is not None:
        return problem
    return not tests_pass(tree)


def checked_killed(source: str) -> bool:
    """Whether test_native_checked fails on `source` (it builds the crate copy in debug itself)."""
    (BUILD / "crate" / "src" / "lib.rs").write_text(source)
    env = {**os.environ, "HF_AUDIT_NATIVE_CRATE": str(BUILD / "crate")}
    return subprocess.run([sys.executable, "-m", "pytest", *CHECKED_TESTS], cwd=REPO, env=env, capture_output=True).returncode != 0


def judge(name: str, killed: bool, outcomes: dict[str, int], survivors: list[str]) -> None:
    """Print and count one mutant's verdict: killed, equivalent (listed in EQUIVALENT) or survived."""
    verdict = "killed" if killed else ("equivalent" if name in EQUIVALENT else "SURVIVED")
    print(f"{verdict:>10}  {name}", flush=True)
    if verdict == "SURVIVED":
        survivors.append(name)
    else:
        outcomes[verdict] += 1


def main() -> int:
    if shutil.which("cargo") is None:
        print("tests/mutation/native.py needs cargo (Rust) on PATH", file=sys.stderr)
        return 2
    original = (CRATE / "src" / "lib.rs").read_text()
    tree = copy_package(BUILD / "tree")
    shutil.rmtree(BUILD / "crate", ignore_errors=True)
    shutil.copytree(CRATE, BUILD / "crate", ignore=shutil.ignore_patterns("target"))
    survivors: list[str] = []
    broken: list[str] = []
    outcomes: dict[str, int] = {"killed": 0, "equivalent": 0}
    if release_killed(original, tree) is not False or checked_killed(original):
        print(f"the unmutated crate does not pass {TESTS[0]} and {CHECKED_TESTS[0]}", file=sys.stderr)
        return 1
    tables = ((MUTANTS, "", lambda source: release_killed(source, tree)), (CHECKED_MUTANTS, " (checked build)", checked_killed))
    for table, label, killed_by in tables:
        for name, text, mutant in table:
            if original.count(text) != 1:
                broken.append(f"{name}: its text occurs {original.count(text)} times in lib.rs (edit the mutant)")
                continue
            killed = killed_by(original.replace(text, mutant))
            if isinstance(killed, str):
                broken.append(f"{name}: does not build: {killed}")
                continue
            judge(name + label, killed, outcomes, survivors)
    print(f"native: {outcomes['killed']} killed, {len(survivors)} survived, {outcomes['equivalent']} equivalent, {len(broken)} broken")
    for line in broken:
        print(f"broken: {line}", file=sys.stderr)
    return 1 if survivors or broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
