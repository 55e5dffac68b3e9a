"""The iptoasn.com `ip2asn-combined.tsv` (plain or gzip): IP ranges to AS number, country and name.

Each line is `range_start<TAB>range_end<TAB>AS_number<TAB>country_code<TAB>AS_description`, IPv4 and
IPv6 ranges in one file. The whole file is read and checked when it is opened, so a truncated or
garbled file is refused at start instead of failing a poll halfway; a lookup is then a binary
search. Ranges with AS number 0 ("Not routed") are kept out: they say nothing about the address.
"""

from __future__ import annotations

import bisect
import gzip
import socket
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"


class IpToAsnError(ValueError):
    """The file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class AsnRange:
    first: str
    last: str
    as_number: int
    country_code: str  # the AS's registration country, ISO 3166 alpha-2 ("None" in the file: unknown)
    organization: str


def _address_key(text: str) -> tuple[int, int]:
    """(family, integer value) of an address; ValueError when it is not one."""
    if ":" in text:
        return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")


# A range as parsed: (first, last, AS number, country code, AS description). Plain tuples: the file
# has ~600,000 lines and is read on every poll, and a tuple costs a fraction of an object.
_Row = tuple[str, str, int, str, str]


class _Family:
    """The sorted ranges of one address family."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.rows: list[_Row] = []

    def sort(self) -> None:
        if self.starts != sorted(self.starts):  # the published file is sorted; sort anything else once
            order = sorted(range(len(self.starts)), key=self.starts.__getitem__)
            self.starts = [self.starts[i] for i in order]
            self.ends = [self.ends[i] for i in order]
            self.rows = [self.rows[i] for i in order]

    def find(self, value: int) -> AsnRange | None:
        at = bisect.bisect_right(self.starts, value) - 1
        if at >= 0 and value <= self.ends[at]:
            return AsnRange(*self.rows[at])
        return None


class IpToAsnTable:
    def __init__(self, path: Path, built: datetime) -> None:
        self.path = path
        self.built = built  # the file's modification time: the file itself carries no build date
        self.ranges = 0
        self._families = {4: _Family(), 6: _Family()}

    @classmethod
    def load(cls, path: Path) -> IpToAsnTable:
        """Read and check the whole file; IpToAsnError (or OSError) when it cannot be used."""
        with path.open("rb") as probe:
            compressed = probe.read(2) == GZIP_MAGIC
        table = cls(path, datetime.fromtimestamp(path.stat().st_mtime, UTC))
        try:
            if compressed:
                with gzip.open(path, "rb") as stream:
                    data = stream.read()
            else:
                data = path.read_bytes()
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise IpToAsnError(f"the gzip stream is damaged or cut short ({exc})") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IpToAsnError(f"not UTF-8 text at byte {exc.start}: not an ip2asn TSV file") from None
        table._parse(text)
        return table

    def _parse(self, text: str) -> None:
        if text and not text.endswith("\n"):
            raise IpToAsnError("the last line has no newline: the file was cut short")
        pton, v4, v6, from_bytes = socket.inet_pton, socket.AF_INET, socket.AF_INET6, int.from_bytes
        families = {4: self._families[4], 6: self._families[6]}
        for number, line in enumerate(text.splitlines(), 1):
            fields = line.split("\t")
            if len(fields) != 5:
                if not line.strip():
                    continue
                raise IpToAsnError(f"line {number}: expected 5 tab-separated fields, found {len(fields)}")
            first, last, as_text, country, name = fields
            family = 6 if ":" in first else 4
            try:
                kind = v6 if family == 6 else v4
                start, end = from_bytes(pton(kind, first), "big"), from_bytes(pton(kind, last), "big")
                as_number = int(as_text)
            except (OSError, ValueError):
                raise IpToAsnError(f"line {number}: not an address range and AS number: {line[:120]!r}") from None
            if start > end or not 0 <= as_number < 2**32:
                raise IpToAsnError(f"line {number}: not a valid range: {line[:120]!r}")
            self.ranges += 1
            if as_number == 0:
                continue  # "Not routed": no AS to report
            target = families[family]
            target.starts.append(start)
            target.ends.append(end)
            target.rows.append((first, last, as_number, country, name))
        if self.ranges == 0:
            raise IpToAsnError("the file holds no address ranges")
        for family_table in self._families.values():
            family_table.sort()

    def find(self, address: str) -> AsnRange | None:
        """The range holding `address`, or None (not routed, not in the file, not an address)."""
        try:
            family, value = _address_key(address)
        except (OSError, ValueError):
            return None
        return self._families[family].find(value)
