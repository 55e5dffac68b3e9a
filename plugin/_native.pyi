"""Types of the compiled extension (plugin/native/src/lib.rs); see plugin/fastline.py."""

from collections.abc import Callable
from typing import Any

class ItemLineWriter:
    def __init__(
        self,
        columns: list[tuple[str, bytes]],
        id_prefix: bytes,
        org: str,
        read_only_types: set[str],
        limits: tuple[int, int, int, int, int],
        max_line_bytes: int,
        dumps: Callable[[Any], bytes],
    ) -> None: ...
    def enrichment(self, filled: dict[str, bytes]) -> Enrichment: ...
    def line(self, item: dict[str, Any], enriched: Enrichment | None = None) -> bytes | None: ...

class Enrichment: ...

def has_model_types(item: object) -> bool: ...
