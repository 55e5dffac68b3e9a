"""The compiled hot path: an export item straight to its line, when the extension is built.

`hf_audit._native` (plugin/native, Rust) writes the same bytes as `to_line(normalize(...))` for the
items it knows how to (what a JSON parser gives: text, numbers, booleans, null, lists and objects)
and returns None for the rest (an integer beyond 64 bits, a lone surrogate, nesting orjson refuses,
a line over the bound), which the poll hands to the Python path. The Python code stays the
definition; tests/test_fastline.py checks that both give the same line. The extension is optional:
installed without a Rust toolchain, hf-audit runs the Python path alone, only slower.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import orjson

from .enrich import IpEnricher
from .line import MAX_TAG_VALUE_CHARS
from .normalize import (
    MAX_DATA_DEPTH,
    MAX_DATA_TAGS,
    MAX_RESOURCES,
    MAX_TAG_KEY_CHARS,
    READ_ONLY_TYPES,
    RecordContext,
)

if TYPE_CHECKING:
    from ._native import Enrichment, ItemLineWriter


def _writer_class() -> type[ItemLineWriter] | None:
    try:
        from ._native import ItemLineWriter
    except ImportError:  # built without Rust (the extension is optional): the Python path does it all
        return None
    return ItemLineWriter


_WRITER_CLASS = _writer_class()


def is_built() -> bool:
    """Whether the compiled extension was built with this installation."""
    return _WRITER_CLASS is not None


class FastLines:
    """One poll's compiled writer: `line(item)` is the item's line, or None for the Python path."""

    def __init__(self, ctx: RecordContext, max_line_bytes: int, enricher: IpEnricher | None) -> None:
        if _WRITER_CLASS is None:
            raise RuntimeError("the compiled extension hf_audit._native is not built")
        columns = [(column, orjson.dumps(value)) for column, value in ctx.record_template.items()]
        limits = (MAX_TAG_VALUE_CHARS, MAX_TAG_KEY_CHARS, MAX_DATA_TAGS, MAX_DATA_DEPTH, MAX_RESOURCES)
        self._writer = _WRITER_CLASS(
            columns, ctx.id_prefix, ctx.org, set(READ_ONLY_TYPES), limits, max_line_bytes, orjson.dumps
        )
        self._enricher = enricher
        # address -> what its enrichment fills (None: nothing; False: orjson cannot write it)
        self._enriched: dict[str, Enrichment | None | Literal[False]] = {}
        # Called for every new event: without enrichment, straight into the compiled code.
        self.line: Callable[[dict[str, Any]], bytes | None] = self._writer.line if enricher is None else self._enriched_line

    def _enriched_line(self, item: dict[str, Any]) -> bytes | None:
        address = item.get("ip", "")
        if address not in self._enriched:
            self._enriched[address] = self._enrichment(address)
        enrichment = self._enriched[address]
        return None if enrichment is False else self._writer.line(item, enrichment)

    def _enrichment(self, address: str) -> Enrichment | None | Literal[False]:
        """What IpEnricher.apply sets for `address`, for the compiled writer; None when it sets
        nothing, False when orjson cannot write it (its records take the Python path)."""
        assert self._enricher is not None
        filled = self._enricher.enrichment_of(address).filled()
        if not filled:
            return None
        try:
            return self._writer.enrichment({column: orjson.dumps(value) for column, value in filled.items()})
        except (orjson.JSONEncodeError, TypeError):
            return False
