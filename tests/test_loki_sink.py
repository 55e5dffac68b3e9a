"""The shipped Loki output and its re-stamp script, without a Loki server.

Labels must stay few and low-cardinality (Loki keeps an index entry per stream), the line must be
the record as JSON with eventTime in it, and the YAML and classic configs must do the same thing.
The re-stamp script runs here as real Lua (LuaJIT, as in Fluent Bit, through lupa), called the way
Fluent Bit's Lua filter calls it: fn(tag, timestamp, record) -> code, timestamp, record.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import REPO
from fluentbit_configs import Section, env_references, get, load
from records import simulated_export_lines

FLB_DIR = REPO / "fluent-bit"
OUTPUT_YAML = FLB_DIR / "outputs" / "loki.yaml"
OUTPUT_CONF = FLB_DIR / "outputs" / "loki.conf"
SCRIPT = FLB_DIR / "loki" / "restamp_old.lua"
LOKI_README = FLB_DIR / "loki" / "README.md"
CALL = "restamp_old_records"

# Record fields whose values are (nearly) unique per event, user or address: never a stream label.
HIGH_CARDINALITY = frozenset(
    {
        "id", "eventID", "auditID", "eventTime", "receivedAt", "srcIP", "actorIP", "dstIP", "actor",
        "authorID", "authorUser", "message", "rawLog", "resources", "tokenID", "tokenLast4",
        "locationFormatted", "locationCity", "srcCity", "tags['userAgent']", "tags['data",
    }
)  # fmt: skip
MAX_LABEL_VALUES = 20  # a label may take a handful of values over a whole export, not thousands
_RA_PART = re.compile(r"\['([^']*)'\]")


def labels(output: Section) -> dict[str, str]:
    """The output's `labels` setting: label name -> literal value or record accessor ($...)."""
    pairs = [item.strip() for item in (get(output, "labels") or "").split(",") if item.strip()]
    return dict(pair.split("=", 1) for pair in pairs)


def accessor_value(accessor: str, record: dict[str, Any]) -> Any:
    """What a record accessor like `$tags['scope']` reads from `record`."""
    head, _, rest = accessor.removeprefix("$").partition("[")
    value: Any = record.get(head)
    for key in _RA_PART.findall("[" + rest if rest else ""):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def the_output(path: Path) -> Section:
    outputs = load(path).outputs
    assert len(outputs) == 1
    return outputs[0]


# --- labels and line ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [OUTPUT_YAML, OUTPUT_CONF], ids=lambda p: p.name)
def test_labels_are_job_org_scope_and_source_type(path: Path) -> None:
    assert set(labels(the_output(path))) == {"job", "org", "scope", "source_type"}


@pytest.mark.parametrize("path", [OUTPUT_YAML, OUTPUT_CONF], ids=lambda p: p.name)
def test_no_label_reads_a_high_cardinality_field(path: Path) -> None:
    accessors = [value for value in labels(the_output(path)).values() if value.startswith("$")]
    assert accessors
    for accessor in accessors:
        read = accessor.removeprefix("$")
        assert not any(read == field or read.startswith(field) for field in HIGH_CARDINALITY), accessor


@pytest.mark.parametrize("path", [OUTPUT_YAML, OUTPUT_CONF], ids=lambda p: p.name)
def test_no_other_setting_adds_labels(path: Path) -> None:
    output = the_output(path)
    assert (get(output, "auto_kubernetes_labels") or "").lower() in ("off", "false")
    for key in ("label_keys", "label_map_path", "structured_metadata", "structured_metadata_map_keys"):
        assert get(output, key) is None, key


@pytest.mark.parametrize("path", [OUTPUT_YAML, OUTPUT_CONF], ids=lambda p: p.name)
def test_the_line_is_the_whole_record_as_json(path: Path) -> None:
    output = the_output(path)
    assert get(output, "line_format") == "json"
    assert (get(output, "drop_single_key") or "off").lower() in ("off", "false")
    assert get(output, "remove_keys") is None  # only the label values leave the line


@pytest.fixture(scope="module")
def export_records(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in simulated_export_lines(tmp_path_factory.mktemp("loki-export"))]


def test_every_record_gets_every_label_from_few_values(export_records: list[dict[str, Any]]) -> None:
    accessors = {name: value for name, value in labels(the_output(OUTPUT_YAML)).items() if value.startswith("$")}
    seen: dict[str, set[str]] = {name: set() for name in accessors}
    for record in export_records:
        for name, accessor in accessors.items():
            value = accessor_value(accessor, record)
            assert isinstance(value, str) and value, f"{record['eventType']} has no {name} label"
            seen[name].add(value)
    assert {name: len(values) for name, values in seen.items() if len(values) > MAX_LABEL_VALUES} == {}
    assert len(seen["scope"]) == 9


# --- YAML and classic do the same ------------------------------------------------------------------

_FORMAT_ONLY = {"match", "processors"}


def _normalized(section: Section) -> dict[str, str]:
    words = {"on": "true", "off": "false"}
    return {key: words.get(str(value).lower(), str(value)) for key, value in section.items() if key not in _FORMAT_ONLY}


def test_classic_output_has_the_yaml_outputs_settings() -> None:
    assert _normalized(the_output(OUTPUT_CONF)) == _normalized(the_output(OUTPUT_YAML))


def test_classic_feeds_the_loki_output_a_copy_of_every_plugin_record() -> None:
    yaml_match = get(the_output(OUTPUT_YAML), "match")
    copy = next(f for f in load(OUTPUT_CONF).filters if get(f, "name") == "rewrite_tag")
    key, regex, new_tag, keep = (get(copy, "rule") or "").split()
    assert get(copy, "match") == yaml_match
    assert (key, keep) == ("$eventTime", "true")  # every record has an eventTime; the original goes on
    assert re.search(regex, "2026-11-25T17:03:34.123Z")
    assert new_tag == "loki.$TAG"
    assert get(the_output(OUTPUT_CONF), "match") == f"loki.{yaml_match}"


def test_classic_restamps_the_copies_with_the_yaml_processors_script() -> None:
    processors = orjson.loads(get(the_output(OUTPUT_YAML), "processors") or "{}")
    (processor,) = processors["logs"]
    (lua_filter,) = [f for f in load(OUTPUT_CONF).filters if get(f, "name") == "lua"]
    assert processor["name"] == "lua"
    assert (get(lua_filter, "script"), get(lua_filter, "call")) == (processor["script"], processor["call"])
    assert get(lua_filter, "match") == get(the_output(OUTPUT_CONF), "match")


def test_default_script_path_resolves_from_the_main_configs_directory() -> None:
    processors = orjson.loads(get(the_output(OUTPUT_YAML), "processors") or "{}")
    default = env_references(processors["logs"][0]["script"])["LOKI_RESTAMP_SCRIPT"]
    assert default is not None and (FLB_DIR / default).resolve() == SCRIPT.resolve()


def test_every_setting_of_the_loki_path_is_documented() -> None:
    readme = LOKI_README.read_text(encoding="utf-8")
    used = set(env_references(OUTPUT_YAML.read_text()) | env_references(OUTPUT_CONF.read_text()))
    used |= set(re.findall(r'os\.getenv\("([A-Z0-9_]+)"\)', SCRIPT.read_text()))
    assert "LOKI_RESTAMP_AFTER_MINUTES" in used
    assert {name for name in used if not re.search(rf"\b{name}\b", readme)} == set()


# --- the re-stamp script, as real Lua --------------------------------------------------------------

RecordT = dict[str, Any]
Restamp = Callable[[float, RecordT], tuple[int, float, RecordT]]


try:
    from lupa import luajit21 as lua_impl  # Fluent Bit embeds LuaJIT 2.1
except ImportError:  # a platform without lupa's LuaJIT build: the script is plain Lua 5.1
    import lupa as lua_impl  # type: ignore[no-redef]  # the fallback module, under the same name


def _to_python(value: Any) -> Any:
    if lua_impl.lua_type(value) != "table":
        return value
    items = {key: _to_python(item) for key, item in value.items()}
    if list(items) == list(range(1, len(items) + 1)):
        return list(items.values())  # an empty table reads as [], like the record's enrichments
    return items


@pytest.fixture
def load_script(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str | None], Restamp]]:
    """Load the shipped script with LOKI_RESTAMP_AFTER_MINUTES set (or unset), as Fluent Bit does."""

    def load_with(after_minutes: str | None) -> Restamp:
        if after_minutes is None:
            monkeypatch.delenv("LOKI_RESTAMP_AFTER_MINUTES", raising=False)
        else:
            monkeypatch.setenv("LOKI_RESTAMP_AFTER_MINUTES", after_minutes)
        lua = lua_impl.LuaRuntime()
        lua.execute(SCRIPT.read_text(encoding="utf-8"))
        function = lua.globals()[CALL]

        def call(timestamp: float, record: RecordT) -> tuple[int, float, RecordT]:
            code, new_timestamp, new_record = function("hf_audit.acme", timestamp, lua.table_from(record, recursive=True))
            return int(code), float(new_timestamp), _to_python(new_record)

        return call

    yield load_with


def record_at(age_seconds: float) -> tuple[float, RecordT]:
    """A record whose Fluent Bit timestamp (its eventTime) lies `age_seconds` in the past."""
    timestamp = time.time() - age_seconds
    event_time = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{int(timestamp * 1000) % 1000:03d}Z"
    record = {
        "id": "2f0b6c57-5f35-5b49-9f0e-0e7c4a0f3b1d",
        "eventTime": event_time,
        "eventType": "repo.create",
        "srcIP": "",
        "sourceTTL": 365,
        "readOnly": False,
        "tags": {"scope": "repo", "action": "create", "org": "acme", "data.repo.name": "acme/foo"},
        "resources": ["model:acme/foo"],
        "enrichments": [],
    }
    return timestamp, record


MINUTE = 60.0
DAY = 86_400.0


def test_an_old_record_gets_the_current_time_and_is_marked_backfilled(load_script: Callable[[str | None], Restamp]) -> None:
    restamp = load_script(None)
    timestamp, record = record_at(30 * DAY)
    before = int(time.time())
    code, new_timestamp, new_record = restamp(timestamp, record)
    after = int(time.time()) + 1
    assert code == 1
    assert before <= new_timestamp <= after
    assert new_record == record | {"backfilled": True}  # eventTime and every other field unchanged


def test_a_recent_record_passes_through_unchanged(load_script: Callable[[str | None], Restamp]) -> None:
    restamp = load_script(None)
    timestamp, record = record_at(5 * MINUTE)
    code, new_timestamp, new_record = restamp(timestamp, record)
    assert code == 0
    assert new_timestamp == timestamp
    assert "backfilled" not in new_record


def test_a_record_from_the_future_passes_through_unchanged(load_script: Callable[[str | None], Restamp]) -> None:
    timestamp, record = record_at(-10 * MINUTE)
    assert load_script(None)(timestamp, record)[:2] == (0, timestamp)


def test_by_default_a_record_an_hour_old_is_restamped(load_script: Callable[[str | None], Restamp]) -> None:
    # Loki accepts a line at most max_chunk_age / 2 (1 h by default) behind its stream's newest.
    assert load_script(None)(*record_at(61 * MINUTE))[0] == 1


def test_by_default_a_record_under_fifty_minutes_old_keeps_its_time(load_script: Callable[[str | None], Restamp]) -> None:
    assert load_script(None)(*record_at(45 * MINUTE))[0] == 0


def test_the_threshold_is_read_from_the_environment(load_script: Callable[[str | None], Restamp]) -> None:
    restamp = load_script("5")
    assert restamp(*record_at(10 * MINUTE))[0] == 1
    assert restamp(*record_at(2 * MINUTE))[0] == 0


@pytest.mark.parametrize("setting", ["", "abc", "0", "-30"])
def test_an_unusable_threshold_falls_back_to_fifty_minutes(load_script: Callable[[str | None], Restamp], setting: str) -> None:
    restamp = load_script(setting)
    assert restamp(*record_at(45 * MINUTE))[0] == 0
    assert restamp(*record_at(55 * MINUTE))[0] == 1


def test_restamping_twice_changes_nothing_more(load_script: Callable[[str | None], Restamp]) -> None:
    restamp = load_script(None)
    timestamp, record = record_at(3 * DAY)
    _, first_timestamp, first_record = restamp(timestamp, record)
    code, second_timestamp, second_record = restamp(first_timestamp, first_record)
    assert (code, second_timestamp, second_record) == (0, first_timestamp, first_record)
