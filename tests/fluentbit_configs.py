"""Read Fluent Bit configuration files, YAML or classic, into one shape tests can compare.

`load(path)` reads one file as written; `resolve(path)` also follows its includes and parsers files
the way Fluent Bit does, so a YAML config and its classic twin resolve to equal `FluentBitConfig`s
when they configure the same pipeline. Keys are lowercased (Fluent Bit's are case-insensitive);
values are kept as text, `${VAR}` references included.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Value = str | list[str]
Section = dict[str, Value]

# Top-level keys of Fluent Bit's YAML format; a YAML file with any other key is not a Fluent Bit config.
YAML_TOP_LEVEL = frozenset(
    {"env", "includes", "service", "pipeline", "parsers", "multiline_parsers", "customs", "plugins", "upstream_servers"}
)
YAML_PIPELINE_KINDS = ("inputs", "filters", "outputs")
# Classic section name -> the list it belongs to ([SERVICE] is merged into `service`).
CLASSIC_SECTIONS = {
    "INPUT": "inputs",
    "FILTER": "filters",
    "OUTPUT": "outputs",
    "PARSER": "parsers",
    "MULTILINE_PARSER": "multiline_parsers",
    "CUSTOM": "customs",
    "PLUGINS": "plugins",
    "UPSTREAM": "upstream_servers",
    "NODE": "upstream_servers",
}
LIST_KINDS = ("inputs", "filters", "outputs", "parsers", "multiline_parsers", "customs", "plugins", "upstream_servers")

ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_TRUE_WORDS = frozenset({"on", "true", "yes"})
_FALSE_WORDS = frozenset({"off", "false", "no"})
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]B?)?\s*$", re.IGNORECASE)


@dataclass
class FluentBitConfig:
    path: Path
    service: Section = field(default_factory=dict)
    sections: dict[str, list[Section]] = field(default_factory=lambda: {kind: [] for kind in LIST_KINDS})
    includes: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def inputs(self) -> list[Section]:
        return self.sections["inputs"]

    @property
    def filters(self) -> list[Section]:
        return self.sections["filters"]

    @property
    def outputs(self) -> list[Section]:
        return self.sections["outputs"]

    @property
    def parsers(self) -> list[Section]:
        return self.sections["parsers"]

    def all_sections(self) -> list[Section]:
        return [self.service, *(section for kind in LIST_KINDS for section in self.sections[kind])]

    def comparable(self) -> dict[str, Any]:
        """The pipeline with format-only differences removed: `on`/`true`, section order, file names."""
        return {
            "service": _comparable_section(self.service),
            **{kind: sorted(json.dumps(_comparable_section(s), sort_keys=True) for s in self.sections[kind]) for kind in LIST_KINDS},
            "includes": [Path(name).with_suffix("").as_posix() for name in self.includes],
            "env": dict(self.env),
        }


def comparable_value(value: Value) -> Value:
    if isinstance(value, list):
        return [comparable_value(item) for item in value]  # type: ignore[misc]  # the items of a list value are str, so each result is a str
    text = value.strip()
    if text.lower() in _TRUE_WORDS:
        return "true"
    if text.lower() in _FALSE_WORDS:
        return "false"
    return text


def _comparable_section(section: Section) -> dict[str, Value]:
    return {key: comparable_value(value) for key, value in section.items()}


def get(section: Section, key: str, default: str | None = None) -> str | None:
    """A single-valued key, case-insensitively."""
    value = section.get(key.lower(), default)
    if isinstance(value, list):
        raise ValueError(f"{key} is set more than once")
    return value


def size_to_bytes(text: str) -> int:
    """A size as Fluent Bit reads it (flb_utils_size_to_bytes): K, M, G are powers of 1000."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a Fluent Bit size: {text!r}")
    number, unit = match.groups()
    factor = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3}[(unit or "")[:1].upper()]
    return int(float(number) * factor)


def env_references(text: str) -> dict[str, str | None]:
    """Every `${NAME}` / `${NAME:-default}` in text: name -> default (None when it has none)."""
    found: dict[str, str | None] = {}
    for match in ENV_REFERENCE.finditer(text):
        found.setdefault(match["name"], match["default"])
    return found


def expand(text: str, env: dict[str, str]) -> str:
    """`${NAME}` and `${NAME:-default}` as Fluent Bit 5.1 expands them (unset means empty)."""

    def one(match: re.Match[str]) -> str:
        value = env.get(match["name"], "")
        if not value and match["default"] is not None:
            return match["default"]
        return value

    return ENV_REFERENCE.sub(one, text)


# --- reading one file -------------------------------------------------------------------------------


def is_yaml(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml")


def load(path: Path) -> FluentBitConfig:
    """One file as written: includes and parsers files are listed, not followed."""
    return _load_yaml(path) if is_yaml(path) else _load_classic(path)


def is_fluent_bit_config(path: Path) -> bool:
    """A YAML file whose top-level keys are all Fluent Bit's, or a classic file with a known section."""
    try:
        if is_yaml(path):
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
            return isinstance(document, dict) and bool(document) and set(document) <= YAML_TOP_LEVEL
        if path.suffix.lower() != ".conf":
            return False
        load(path)
    except (ValueError, yaml.YAMLError, UnicodeDecodeError):
        return False
    return True


def _text(value: Any) -> Value:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list):
        return [_text(item) for item in value]  # type: ignore[misc]  # a config list holds scalars, so each result is a str
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)  # e.g. YAML processors, which classic cannot express
    return str(value)


def _yaml_section(raw: Any, where: str) -> Section:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(raw).__name__}")
    return {str(key).lower(): _text(value) for key, value in raw.items()}


def _yaml_sections(raw: Any, where: str) -> list[Section]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError(f"{where}: expected a list")
    return [_yaml_section(item, f"{where}[{i}]") for i, item in enumerate(raw)]


def _load_yaml(path: Path) -> FluentBitConfig:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(document, dict) or not set(document) <= YAML_TOP_LEVEL:
        raise ValueError(f"{path}: not a Fluent Bit YAML config (top-level keys {sorted(document)})")
    config = FluentBitConfig(path=path)
    config.service = _yaml_section(document.get("service") or {}, "service")
    pipeline = document.get("pipeline") or {}
    if not isinstance(pipeline, dict) or not set(pipeline) <= set(YAML_PIPELINE_KINDS):
        raise ValueError(f"{path}: pipeline must map inputs/filters/outputs")
    for kind in YAML_PIPELINE_KINDS:
        config.sections[kind] = _yaml_sections(pipeline.get(kind), f"pipeline.{kind}")
    for kind in ("parsers", "multiline_parsers", "customs", "plugins", "upstream_servers"):
        config.sections[kind] = _yaml_sections(document.get(kind), kind)
    includes = document.get("includes") or []
    config.includes = [str(name) for name in (includes if isinstance(includes, list) else [includes])]
    config.env = {str(k): str(_text(v)) for k, v in (document.get("env") or {}).items()}
    return config


def _load_classic(path: Path) -> FluentBitConfig:
    config = FluentBitConfig(path=path)
    current: Section | None = None
    for number, raw_line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{number}"
        if line.startswith("@"):
            directive, _, argument = line.partition(" ")
            if directive.upper() == "@INCLUDE":
                config.includes.append(argument.strip())
            elif directive.upper() == "@SET":
                name, equals, value = argument.strip().partition("=")
                if not equals:
                    raise ValueError(f"{where}: @SET needs NAME=VALUE")
                config.env[name.strip()] = value.strip()
            else:
                raise ValueError(f"{where}: unknown directive {directive}")
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip().upper()
            if name == "SERVICE":
                current = config.service
            elif name in CLASSIC_SECTIONS:
                current = {}
                config.sections[CLASSIC_SECTIONS[name]].append(current)
            else:
                raise ValueError(f"{where}: unknown section [{name}]")
            continue
        if current is None:
            raise ValueError(f"{where}: key outside a section")
        key, _, value = line.partition(" ")
        _add(current, key.lower(), value.strip())
    return config


def _add(section: Section, key: str, value: str) -> None:
    """A key given twice (e.g. `Add` of the modify filter) becomes a list, as YAML writes it."""
    if key not in section:
        section[key] = value
        return
    existing = section[key]
    section[key] = [*existing, value] if isinstance(existing, list) else [existing, value]


# --- following includes -----------------------------------------------------------------------------


def resolve(path: Path, *, root: Path | None = None) -> FluentBitConfig:
    """The file with its includes merged in and its parsers files read.

    Include paths are relative to the file that names them; a `parsers_file` is relative to the
    top-level config, which is how Fluent Bit 5.1 reads them. The `parsers_file` key is dropped
    once its parsers are merged, so `Parsers_File x.conf` and `includes: [x.yaml]` compare equal.
    """
    path = path.resolve()
    root = root or path.parent
    config = load(path)
    merged = FluentBitConfig(path=path, env=dict(config.env))
    for name in config.includes:
        for included_path in _included_files(path.parent, name):
            _merge(merged, resolve(included_path, root=root))
    own = FluentBitConfig(path=path, service=dict(config.service), sections=config.sections)
    parsers_files = own.service.pop("parsers_file", [])
    _merge(merged, own)
    for name in parsers_files if isinstance(parsers_files, list) else [parsers_files]:
        _merge(merged, resolve(root / name, root=root))
    return merged


def _included_files(base: Path, name: str) -> list[Path]:
    if any(ch in name for ch in "*?["):
        found = sorted(base.glob(name))
        if not found:
            raise FileNotFoundError(f"{base / name}: the include matches no file")
        return found
    target = base / name
    if not target.is_file():
        raise FileNotFoundError(f"{target}: included file does not exist")
    return [target]


def _merge(into: FluentBitConfig, other: FluentBitConfig) -> None:
    into.service.update(other.service)
    for kind in LIST_KINDS:
        into.sections[kind].extend(other.sections[kind])
    into.env.update(other.env)


# --- the shipped tree ---------------------------------------------------------------------------------


def fluent_bit_configs(root: Path) -> list[Path]:
    """Every Fluent Bit config under root, in either format (sink assets and compose files excluded)."""
    candidates = [p for p in sorted(root.rglob("*")) if p.is_file() and p.suffix.lower() in (".yaml", ".yml", ".conf")]
    return [p for p in candidates if is_fluent_bit_config(p)]


def twin_of(path: Path) -> Path:
    return path.with_suffix(".conf") if is_yaml(path) else path.with_suffix(".yaml")
