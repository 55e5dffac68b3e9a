"""`make mutation`: cosmic-ray over the code that decides what is printed and committed.

Each target is one module of plugin/ (or some of its definitions) and the fast tests that cover it.
The run works on a copy of the tree (build/mutation/tree, with plugin/ as `hf_audit/` first on
PYTHONPATH), so the worktree is never mutated and an interrupted run leaves nothing behind.

A surviving mutant is either a missing test or an equivalent mutant; the equivalent ones are listed,
each with its reason, in tests/mutation/equivalent.txt and are not run. The run fails when a mutant
survives that is not listed there, or when a target's score is below SCORE_FLOOR.

Usage: python tests/mutation/run.py [target ...]   (targets: the names in TARGETS; default all)
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import resource
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cosmic_ray.mutating import mutate_and_test, mutate_code
from cosmic_ray.plugins import get_operator
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build" / "mutation"
EQUIVALENT_FILE = REPO / "tests" / "mutation" / "equivalent.txt"
SPEC_DIR = REPO.parent / "shared" / "spec"
SCORE_FLOOR = 0.90
# --assert=plain: no assertion rewriting. With bytecode writing off (PYTHONDONTWRITEBYTECODE, as on
# this machine) pytest rewrites the conftest and hypothesis' 80-odd modules again in every run,
# 0.7 s of CPU a mutant; a failed assert fails the same way without its rewritten message.
PYTEST = "python -m pytest -x -q -p no:cacheprovider -p no:randomly --assert=plain --hypothesis-profile=mutation"

# Operators run. Comparisons get the sufficient set for relational operators (negation and the
# two boundary shifts: == <-> !=, < -> <= / >=, ...), arithmetic the swaps that change a count
# or a bound; the other cosmic-ray variants (x ** y, x >> y, `is` for `==`, inserted or replaced
# variables) multiply the count without finding more, and the run has 30 minutes on two cores.
COMPARISONS = {
    "Eq": ("NotEq",), "NotEq": ("Eq",), "Lt": ("LtE", "GtE"), "LtE": ("Lt", "Gt"), "Gt": ("GtE", "LtE"),
    "GtE": ("Gt", "Lt"), "Is": ("IsNot",), "IsNot": ("Is",), "In": ("NotIn",), "NotIn": ("In",),
}  # fmt: skip
BINARY = {
    "Add": ("Sub",), "Sub": ("Add",), "Mul": ("FloorDiv", "Add"), "FloorDiv": ("Mul",), "Div": ("Mul",),
    "Mod": ("FloorDiv",), "BitOr": ("BitAnd",), "BitAnd": ("BitOr",),
}  # fmt: skip
RUN_OPERATORS = frozenset(
    {f"core/ReplaceComparisonOperator_{a}_{b}" for a, bs in COMPARISONS.items() for b in bs}
    | {f"core/ReplaceBinaryOperator_{a}_{b}" for a, bs in BINARY.items() for b in bs}
    | {f"core/ReplaceUnaryOperator_{name}" for name in ("Delete_Not", "Delete_USub", "USub_UAdd")}
    | {
        "core/AddNot", "core/ExceptionReplacer", "core/NumberReplacer", "core/RemoveDecorator",
        "core/ReplaceAndWithOr", "core/ReplaceOrWithAnd", "core/ReplaceBreakWithContinue",
        "core/ReplaceContinueWithBreak", "core/ReplaceFalseWithTrue", "core/ReplaceTrueWithFalse",
        "core/ZeroIterationForLoop",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    name: str
    module: str  # file name in plugin/
    tests: tuple[str, ...]  # pytest arguments, relative to the repository
    definitions: tuple[str, ...] = ()  # `Class`, `Class.method`, `function` or a module-level name; () = all
    # A mutant that makes the tests hang is killed by this timeout (cosmic-ray counts it as
    # killed). At least twice the tests' wall time with four targets on two cores: a loop that
    # never ends costs that much, and a mutant that only slows the tests is not cut short.
    timeout: float = 60.0
    weight: int = 1  # rough run time, to start the long ones first


TARGETS: tuple[Target, ...] = (
    Target("state", "state.py", ("tests/test_state.py", "tests/test_checkpoint_rules.py"), timeout=30.0),
    Target("checkpoint_rules", "checkpoint_rules.py", ("tests/test_checkpoint_rules.py",), timeout=30.0),
    # Two slow property tests are left out of the mutants' test runs: in the run of 2026-11-30 the
    # cross-process one failed first for no mutant, and the 300-event one for one mutant, which a
    # later test of the file fails too; they cost more than the rest of the file (one starts Python
    # processes, one draws 300 events). `make test` still runs them.
    Target(
        "normalize", "normalize.py",
        ("tests/test_normalize.py", "-k", "not in_every_process and not any_schema_valid_event"),
        timeout=60.0, weight=3,
    ),
    # The line bound (to_line and its JSON fallbacks) left normalize.py for line.py; the same tests cover
    # it, and the pinned digests of test_output_identity (3 s) check the cutting path byte for byte.
    Target(
        "line", "line.py",
        (
            "tests/test_normalize.py", "tests/test_output_identity.py",
            "-k", "not in_every_process and not any_schema_valid_event",
        ),
        # Its 16 hanging mutants are busy loops, each burning a core until the timeout (at 60 s they
        # were most of its 969 s of CPU); the tests take about 3 s on an idle machine.
        timeout=15.0, weight=3,
    ),
    # Its tests take about 6 s of wall time, mostly waiting on purpose (a slow reader, a stall):
    # 20 s is three times that, and its 13 hanging mutants cost 780 s of the run at 60 s.
    Target("output", "output.py", ("tests/test_output.py",), timeout=20.0, weight=5),
    # test_fuzz's stream oracles are not run per mutant: in the run of 2026-11-30 none was the first
    # to fail for any of the 159 mutants, and they cost 7 s of CPU a survivor. `make test` runs them.
    # test_stream_bulk covers the bulk fast path (orjson over runs of items) against the careful one.
    Target("stream", "stream.py", ("tests/test_stream.py", "tests/test_stream_bulk.py"), timeout=60.0, weight=5),
    Target("retry_policy", "retry_policy.py", ("tests/test_retry_policy.py",), timeout=60.0, weight=2),
    Target(
        "client_retry_policy", "client.py", ("tests/test_retry_policy.py", "tests/test_client.py"),
        definitions=("_RATELIMIT_RESET", "HubRetry", "build_session", "ExportClient.attempts", "Body", "error_for_status"),
        timeout=60.0, weight=4,
    ),
)  # fmt: skip


@dataclass
class Tally:
    target: Target
    killed: int = 0
    survived: list[str] = field(default_factory=list)
    equivalent: int = 0  # listed in equivalent.txt, or inside a function annotation
    in_annotations: int = 0
    not_applicable: int = 0  # cosmic-ray's own failure to make the mutant (not run, not counted)
    pending: int = 0  # not run yet (an interrupted run: see --resume)
    never_run: bool = False
    seconds: float = 0.0  # wall time of this target's mutants
    cpu_seconds: float = 0.0  # CPU time of cosmic-ray and the test runs it waited for

    @property
    def score(self) -> float:
        tried = self.killed + len(self.survived)
        return self.killed / tried if tried else 1.0


def operator_is_skipped(name: str) -> bool:
    return name not in RUN_OPERATORS


Span = tuple[tuple[int, int], tuple[int, int]]


def function_annotation_spans(source: str) -> list[Span]:
    """The (start, end) positions of every function parameter and return annotation. Under
    `from __future__ import annotations` they are strings never evaluated (nothing here calls
    get_type_hints on a function), so a mutant inside one is equivalent by construction: such
    mutants are counted as equivalent without being listed one by one. Class-level annotations
    are not among them: pydantic evaluates those."""
    tree = ast.parse(source)
    future = any(
        isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )
    spans: list[Span] = []
    for node in ast.walk(tree) if future else ():
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            parameters = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            for annotation in [*(a.annotation for a in parameters if a), node.returns]:
                if annotation is not None:
                    spans.append(((annotation.lineno, annotation.col_offset), (annotation.end_lineno, annotation.end_col_offset)))  # type: ignore[arg-type]
    return spans


def inside(position: tuple[int, int], spans: list[Span]) -> bool:
    return any(start <= tuple(position) < end for start, end in spans)


def definition_lines(source: str, names: tuple[str, ...]) -> set[int]:
    """The line numbers of the named definitions (and module-level assignments) in `source`."""
    wanted: set[int] = set()
    found: set[str] = set()

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualified = prefix + node.name
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if qualified in names:
                    found.add(qualified)
                    wanted.update(range(start, node.end_lineno + 1))  # type: ignore[operator]
                elif isinstance(node, ast.ClassDef):
                    visit(node.body, qualified + ".")
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and not prefix:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for name in {t.id for t in targets if isinstance(t, ast.Name)} & set(names):
                    found.add(name)
                    wanted.update(range(node.lineno, node.end_lineno + 1))  # type: ignore[operator]

    visit(ast.parse(source).body, "")
    if missing := set(names) - found:
        raise SystemExit(f"mutation targets not found in the source: {', '.join(sorted(missing))}")
    return wanted


def mutant_key(module: str, source: str, operator_name: str, operator_args: dict, occurrence: int) -> str:
    """`module || original line || mutated line`: how equivalent.txt names a mutant (line numbers
    would go stale with every edit above it; `||` is no Python operator, so it never occurs in a line)."""
    try:
        mutated = mutate_code(source, get_operator(operator_name)(**operator_args), occurrence)
    except Exception:  # noqa: BLE001 - cosmic-ray cannot apply some mutations (a dotted exception name)
        mutated = None
    if mutated is None:
        return NOT_APPLICABLE
    before = [line.strip() for line in source.splitlines()]
    after = [line.strip() for line in mutated.splitlines()]
    removed, added = [], []
    for line in difflib.unified_diff(before, after, lineterm="", n=0):
        if line.startswith("-") and not line.startswith("---"):
            removed.append(line[1:])
        elif line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:])
    return f"{module} || {' / '.join(removed)} || {' / '.join(added)}"


NOT_APPLICABLE = "(cosmic-ray cannot apply this mutation)"


class Equivalents:
    """The entries of equivalent.txt, `module || original line || mutated line || reason`, one a
    line (# comments), matched to mutants by module and line text, never by line number.

    Modules move (issue 12 splits normalize.py, poll.py and others). An entry whose module no
    longer holds its original line (or no longer exists) still matches a mutant with the same
    original and mutated lines in whatever module that line now lives, and the report says so
    (update the entry's module). An entry that matches no mutant any more is reported as stale,
    not fatal: it cannot hide a survivor, since it matches nothing; a run of every target lists it
    for removal. A malformed line is fatal, with its line number."""

    def __init__(self, path: Path, package: Path) -> None:
        self.reasons: dict[str, str] = {}
        self._moved: dict[str, str] = {}  # `original || mutated` -> an entry whose line left its module
        self.used: set[str] = set()
        self.moved_matches: dict[str, str] = {}  # entry -> the mutant key it matched elsewhere
        self._sources: dict[Path, set[str]] = {}  # each module's lines, stripped
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split(" || ")
            if len(parts) != 4 or not all(parts[i].strip() for i in (0, 1, 3)):  # a deleted line mutates to nothing
                raise SystemExit(f"{path}:{number}: expected `module || original || mutated || reason`")
            entry = " || ".join(parts[:3])
            if entry in self.reasons:
                raise SystemExit(f"{path}:{number}: listed twice: {entry}")
            self.reasons[entry] = parts[3].strip()
            if not self._still_in(package / parts[0], parts[1]):
                self._moved[" || ".join(parts[1:3])] = entry

    def _still_in(self, module: Path, original: str) -> bool:
        """Whether the module still holds the entry's original line(s) (stripped)."""
        if module not in self._sources:
            text = module.read_text() if module.is_file() else ""
            self._sources[module] = {line.strip() for line in text.splitlines()}
        lines = self._sources[module]
        return original in lines or all(line in lines for line in original.split(" / ") if line)

    def entry_for(self, key: str) -> str | None:
        """The entry that declares the mutant `key` equivalent, if any (and note it as used)."""
        if key in self.reasons:
            self.used.add(key)
            return key
        entry = self._moved.get(key.split(" || ", 1)[-1])
        if entry is not None:
            self.used.add(entry)
            self.moved_matches[entry] = key
        return entry

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.entry_for(key) is not None

    def notes(self) -> list[str]:
        """What the report says of the file itself: entries naming a moved module, stale ones."""
        lines = [f"equivalent.txt names a module that moved; update it to: {key}   (entry: {entry})"
                 for entry, key in sorted(self.moved_matches.items())]  # fmt: skip
        lines += [f"stale entry in equivalent.txt (no such mutant now): {entry}" for entry in self.reasons if entry not in self.used]
        return lines


def load_equivalents() -> Equivalents:
    return Equivalents(EQUIVALENT_FILE, REPO / "plugin")


def copy_tree(tree: Path) -> None:
    """A copy of the package as `hf_audit/`, with the tests and what they read, for one target:
    targets run side by side, each mutating only its own copy."""
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    shutil.copytree(REPO / "plugin", tree / "hf_audit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "tests", tree / "tests", ignore=shutil.ignore_patterns("__pycache__", "mutation"))
    for name in ("README.md", "pyproject.toml"):
        shutil.copy2(REPO / name, tree / name)


def environment(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)  # the copy's hf_audit comes before the editable install
    env["HF_AUDIT_SPEC_DIR"] = str(SPEC_DIR)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_command(target: Target) -> str:
    """The tests of a target as one command line (cosmic-ray splits it with shlex)."""
    return " ".join([PYTEST, *(shlex.quote(argument) for argument in target.tests)])


def prepare(target: Target, equivalents: Equivalents) -> None:
    """A fresh copy of the tree and a cosmic-ray session whose out-of-scope and equivalent
    mutants are marked skipped; the plan (each mutant's key) is kept beside the session."""
    tree = BUILD / target.name
    copy_tree(tree)
    module_path = f"hf_audit/{target.module}"
    config, session = BUILD / f"{target.name}.toml", BUILD / f"{target.name}.sqlite"
    command = test_command(target)
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{module_path}"\n'
        f"timeout = {target.timeout}\n"
        "excluded-modules = []\n"
        f'test-command = "{command}"\n'
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )
    session.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "cosmic_ray.cli", "init", str(config), str(session)], cwd=tree, env=environment(tree), check=True)
    plan = classify(target, equivalents, mark_skipped=True)
    (BUILD / f"{target.name}.plan.json").write_text(json.dumps(plan))


def classify(target: Target, equivalents: Equivalents, mark_skipped: bool) -> dict:
    """Each mutant of the session in scope, by its key; the equivalent, annotation and
    not-applicable ones counted (and marked skipped in the session when `mark_skipped`). The
    source is the worktree's: the copy may be mutated by a run in progress."""
    source = (REPO / "plugin" / target.module).read_text()
    lines = definition_lines(source, target.definitions) if target.definitions else None
    annotations = function_annotation_spans(source)
    keys: dict[str, str] = {}
    counts = {"equivalent": 0, "in_annotations": 0, "not_applicable": 0}
    with use_db(str(BUILD / f"{target.name}.sqlite"), WorkDB.Mode.open) as db:
        skipped = []
        for item in db.work_items:
            mutation = item.mutations[0]
            if operator_is_skipped(mutation.operator_name) or (lines is not None and mutation.start_pos[0] not in lines):
                skipped.append(item.job_id)
            elif inside(mutation.start_pos, annotations):
                counts["equivalent"] += 1
                counts["in_annotations"] += 1
                skipped.append(item.job_id)
            elif (key := mutant_key(target.module, source, mutation.operator_name, mutation.operator_args, mutation.occurrence)) == NOT_APPLICABLE:
                counts["not_applicable"] += 1
                skipped.append(item.job_id)
            else:
                keys[item.job_id] = key
                if key in equivalents:
                    counts["equivalent"] += 1
                    skipped.append(item.job_id)
        if mark_skipped:
            db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    return {"keys": keys, **counts}


def refresh_for_resume(target: Target, keep_survivors: bool = False) -> None:
    """Before resuming: the tests as they are now, and the survivors run again against them (a
    killed mutant stays killed: tests are only ever added or strengthened between runs). The
    mutated module itself must not have changed since the session was made."""
    tree = BUILD / target.name
    # An interrupted run can leave its last mutant applied in the copy: put the package back.
    # (It must not have changed since the session was made: the mutants' positions come from it.)
    shutil.rmtree(tree / "hf_audit")
    shutil.copytree(REPO / "plugin", tree / "hf_audit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(tree / "tests")
    shutil.copytree(REPO / "tests", tree / "tests", ignore=shutil.ignore_patterns("__pycache__", "mutation"))
    if not keep_survivors:
        with sqlite3.connect(BUILD / f"{target.name}.sqlite") as db:
            db.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")


def recheck_survivors(target: Target) -> None:
    """The last run's survivors, each mutated and tested again (cosmic-ray's mutate_and_test)
    against the tests as they are now; their results replace the old ones."""
    refresh_for_resume(target, keep_survivors=True)
    tree, session = BUILD / target.name, BUILD / f"{target.name}.sqlite"
    command = test_command(target)
    with use_db(str(session), WorkDB.Mode.open) as db:
        survivors = [item for item, result in db.completed_work_items if result.test_outcome == TestOutcome.SURVIVED]
    previous = Path.cwd()
    os.chdir(tree)  # the test command and the module path are relative to the copy
    try:
        old_env = dict(os.environ)
        os.environ.update(environment(tree))
        for item in survivors:
            result = mutate_and_test(item.mutations, command, target.timeout)
            with use_db(str(session), WorkDB.Mode.open) as db:
                db.set_result(item.job_id, result)
    finally:
        os.environ.clear()
        os.environ.update(old_env)
        os.chdir(previous)


def run_measured(command: list[str], tree: Path) -> float:
    """Run `command` in `tree`; its CPU time and its children's (the test runs), which
    wait4 gives per process: the targets run side by side in one process."""
    process = subprocess.Popen(command, cwd=tree, env=environment(tree))
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return usage.ru_utime + usage.ru_stime


def run_target(target: Target, equivalents: Equivalents, mode: str = "run") -> Tally:
    """mode: run (from scratch), resume (the pending mutants of the last session), count, report."""
    tally = Tally(target)
    tree, config, session = BUILD / target.name, BUILD / f"{target.name}.toml", BUILD / f"{target.name}.sqlite"
    times = BUILD / f"{target.name}.times.json"
    if mode in ("run", "count"):
        prepare(target, equivalents)
        times.unlink(missing_ok=True)
    if not session.exists():
        tally.never_run = True
        return tally
    plan_file = BUILD / f"{target.name}.plan.json"
    plan = json.loads(plan_file.read_text()) if plan_file.exists() else classify(target, equivalents, mark_skipped=False)
    keys: dict[str, str] = plan["keys"]
    tally.in_annotations, tally.not_applicable = plan["in_annotations"], plan["not_applicable"]
    # Counted from the file as it is now (it may have grown since the session was made); this
    # also marks the entries in use, for the stale check.
    listed = sum(1 for key in keys.values() if key in equivalents)
    tally.equivalent = tally.in_annotations + listed
    print(
        f"[{target.name}] {len(keys) - listed} mutants to run; equivalent: {listed} listed, "
        f"{tally.in_annotations} in function annotations; {tally.not_applicable} cosmic-ray cannot apply",
        flush=True,
    )
    if mode == "count":
        return tally
    if mode == "resume":
        refresh_for_resume(target)
        with use_db(str(session), WorkDB.Mode.open) as db:  # listed since the session was made: not run
            finished = {item.job_id for item, _ in db.completed_work_items}
            db.set_multiple_results(
                [job for job, key in keys.items() if job not in finished and key in equivalents],
                WorkResult(worker_outcome=WorkerOutcome.SKIPPED),
            )
    if mode == "recheck":
        recheck_survivors(target)
    if mode in ("run", "resume"):
        started = time.monotonic()
        cpu = run_measured([sys.executable, "-m", "cosmic_ray.cli", "exec", str(config), str(session)], tree)
        # A run in parts (--resume) adds up: the figures are those of every mutant in the session.
        earlier = json.loads(times.read_text()) if mode == "resume" and times.exists() else {"seconds": 0.0, "cpu_seconds": 0.0}
        times.write_text(json.dumps({"seconds": earlier["seconds"] + time.monotonic() - started, "cpu_seconds": earlier["cpu_seconds"] + cpu}))
    if times.exists():
        figures = json.loads(times.read_text())
        tally.seconds, tally.cpu_seconds = figures["seconds"], figures["cpu_seconds"]
    done: set[str] = set()
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if item.job_id not in keys or result.worker_outcome == WorkerOutcome.SKIPPED or keys[item.job_id] in equivalents:
                continue  # out of scope, or listed as equivalent since it ran
            done.add(item.job_id)
            if result.test_outcome == TestOutcome.SURVIVED:
                line = item.mutations[0].start_pos[0]
                tally.survived.append(f"{keys[item.job_id]}   (line {line}, {item.mutations[0].operator_name})")
            else:
                tally.killed += 1
    tally.pending = len([job for job, key in keys.items() if job not in done and key not in equivalents])
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="*", help=", ".join(t.name for t in TARGETS))
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--count", action="store_true", help="only count the mutants of each target")
    modes.add_argument("--resume", action="store_true", help="run what the last run left pending, and its survivors again, with the tests as they are now")
    modes.add_argument("--report", action="store_true", help="only report the last run's results")
    modes.add_argument("--recheck", action="store_true", help="test the last run's survivors again with the tests as they are now")
    # Two more than the cores: output's and the client's tests mostly wait (on pipes, timers and
    # retry back-offs), not on a core.
    parser.add_argument("--jobs", type=int, default=(os.cpu_count() or 1) + 2, help="targets run side by side")
    args = parser.parse_args(argv)
    if unknown := set(args.targets) - {t.name for t in TARGETS}:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    chosen = [t for t in TARGETS if not args.targets or t.name in args.targets]
    if missing := [f"{t.name}: plugin/{t.module}" for t in chosen if not (REPO / "plugin" / t.module).is_file()]:
        raise SystemExit(f"mutation targets name modules that do not exist (edit TARGETS in {Path(__file__).name}): {', '.join(missing)}")
    if not SPEC_DIR.is_dir():
        raise SystemExit(f"the spec folder {SPEC_DIR} is missing: the column-type tests need it")
    equivalents = load_equivalents()
    BUILD.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # Longest first, so the side-by-side runs end together.
    # A recheck changes directory per mutant: one target at a time.
    with ThreadPoolExecutor(1 if args.recheck else max(1, args.jobs)) as pool:
        mode = next((m for m in ("count", "resume", "report", "recheck") if getattr(args, m)), "run")
        futures = {t.name: pool.submit(run_target, t, equivalents, mode) for t in sorted(chosen, key=lambda t: -t.weight)}
    tallies = [futures[t.name].result() for t in chosen]
    if args.count:
        print("\n".join(equivalents.notes() if len(chosen) == len(TARGETS) else []))
        return 0
    report = ["target                killed  survived  equivalent  not run  score   seconds  CPU s"]
    for t in tallies:
        if t.never_run:
            report.append(f"{t.target.name:<21} (no session yet: run it)")
            continue
        report.append(
            f"{t.target.name:<21} {t.killed:>6}  {len(t.survived):>8}  {t.equivalent:>10}  {t.pending:>7}  {t.score:6.1%}  {t.seconds:7.0f}  {t.cpu_seconds:5.0f}"
        )
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    killed = sum(t.killed for t in tallies)
    tried = killed + sum(len(t.survived) for t in tallies)
    report.append(f"{'all':<21} {killed:>6}  {tried - killed:>8}  {sum(t.equivalent for t in tallies):>10}  "
                  f"{sum(t.pending for t in tallies):>7}  {killed / max(tried, 1):6.1%}  {time.monotonic() - started:7.0f}")  # fmt: skip
    report.append(
        f"wall time {time.monotonic() - started:.0f} s with {args.jobs} targets side by side; CPU time of the "
        f"test runs {children.ru_utime + children.ru_stime:.0f} s; load average at the end {os.getloadavg()[0]:.1f}"
    )
    for t in tallies:
        report += [f"survived in {t.target.name}: {s}" for s in t.survived]
    # Every target's plan names all its mutants, run or not: the file can be checked whole.
    notes = equivalents.notes()
    if len(chosen) < len(TARGETS) or any(t.never_run for t in tallies):
        notes = [note for note in notes if not note.startswith("stale")]  # the other targets may use them
    report += notes
    text = "\n".join(report)
    print(text)
    (BUILD / "report.txt").write_text(text + "\n")
    failed = any(t.survived or t.pending or t.never_run for t in tallies) or any(t.score < SCORE_FLOOR for t in tallies)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
