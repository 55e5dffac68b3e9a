"""Small IP databases for the enrichment tests, written here: MaxMind DB files in the GeoLite2 City
and ASN layouts (with the `mmdb-writer` library) and an iptoasn.com ip2asn-combined TSV.

The addresses are the simulated Hub's (plugin/simhub/events.py), so a poll of its export meets
addresses each database knows, addresses only some know, and addresses none knows.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmdb_writer import MmdbF64, MmdbU16, MmdbU32, MMDBWriter
from netaddr import IPSet

# (network, record) in the GeoLite2-City layout.
CITY_NETWORKS: dict[str, dict[str, Any]] = {
    "81.64.12.0/24": {
        "city": {"geoname_id": MmdbU32(2988507), "names": {"en": "Paris", "fr": "Paris"}},
        "continent": {"code": "EU", "names": {"en": "Europe"}},
        "country": {"iso_code": "FR", "names": {"en": "France"}},
        "location": {"latitude": MmdbF64(48.8534), "longitude": MmdbF64(2.3488), "accuracy_radius": MmdbU16(20), "time_zone": "Europe/Paris"},
        "postal": {"code": "75001"},
        "registered_country": {"iso_code": "FR", "names": {"en": "France"}},
        "subdivisions": [{"iso_code": "IDF", "names": {"en": "Île-de-France"}}],
    },
    "2a01:cb00::/32": {
        "city": {"names": {"en": "Lyon"}},
        "country": {"iso_code": "FR", "names": {"en": "France"}},
        "location": {"latitude": MmdbF64(45.7485), "longitude": MmdbF64(4.8467), "accuracy_radius": MmdbU16(100)},
    },
    "91.64.80.0/24": {
        "city": {"names": {"de": "Berlin"}},  # no English name: the first the record has is used
        "country": {"iso_code": "DE", "names": {"en": "Germany"}},
        "location": {"latitude": MmdbF64(52.5244), "longitude": MmdbF64(13.4105)},
    },
    "126.75.4.0/24": {
        "country": {"iso_code": "JP", "names": {"en": "Japan"}},  # a country-level record: no city
        "location": {"latitude": MmdbF64(35.69), "longitude": MmdbF64(139.69), "accuracy_radius": MmdbU16(500)},
    },
}
# (network, record) in the GeoLite2-ASN layout.
ASN_NETWORKS: dict[str, dict[str, Any]] = {
    "81.64.0.0/16": {"autonomous_system_number": MmdbU32(3215), "autonomous_system_organization": "Orange"},
    "2a01:cb00::/32": {"autonomous_system_number": MmdbU32(3215), "autonomous_system_organization": "Orange"},
    "91.64.0.0/16": {"autonomous_system_number": MmdbU32(31334), "autonomous_system_organization": "Vodafone Kabel Deutschland GmbH"},
    "177.92.40.0/24": {"autonomous_system_number": MmdbU32(28573), "autonomous_system_organization": "Claro NXT Telecomunicacoes Ltda"},
}
# range_start, range_end, AS number, country, AS description (iptoasn's column order).
IPTOASN_ROWS: list[tuple[str, str, int, str, str]] = [
    ("49.207.0.0", "49.207.127.255", 24309, "IN", "CABLELITE-AS-AP Atria Convergence Technologies Pvt. Ltd."),
    ("81.64.0.0", "81.64.255.255", 3215, "FR", "AS3215 Orange S.A."),
    ("91.64.0.0", "91.64.255.255", 31334, "DE", "KABELDEUTSCHLAND-AS"),
    ("126.0.0.0", "126.255.255.255", 0, "None", "Not routed"),
    ("177.92.0.0", "177.92.63.255", 28573, "BR", "CLARO S.A."),
    ("2003::", "2003:ff:ffff:ffff:ffff:ffff:ffff:ffff", 3320, "DE", "DTAG Internet service provider operations"),
    ("2a01:cb00::", "2a01:cb00:ffff:ffff:ffff:ffff:ffff:ffff", 3215, "FR", "AS3215 Orange S.A."),
]
BUILD_EPOCH = 1_764_201_600  # 2025-11-27T00:00:00Z
BUILD_DATE = "2025-11-27"

# Addresses of the simulated organization's members and what each database knows of them.
PARIS_V4 = "81.64.12.0"
PARIS_V6 = "2a01:cb00:5c1::"
BERLIN_V4 = "91.64.80.0"
BERLIN_V6 = "2003:e6:3f0b::"  # only iptoasn knows it
TOKYO_V4 = "126.75.4.0"  # City: country only; iptoasn: not routed
SAO_PAULO_V4 = "177.92.40.0"  # ASN and iptoasn only
BENGALURU_V4 = "49.207.52.0"  # iptoasn only
UNKNOWN_V4 = "203.0.113.0"  # no database


@dataclass(frozen=True)
class IpDatabases:
    city: Path
    asn: Path
    iptoasn: Path


def write_mmdb(path: Path, database_type: str, networks: dict[str, dict[str, Any]], build_epoch: int = BUILD_EPOCH) -> Path:
    """An IPv6 MaxMind DB (IPv4 reachable through ::/96, as MaxMind's own files) of `networks`."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type, languages=["en"], description="hf-audit test database")
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    _set_build_epoch(path, build_epoch)
    return path


def _set_build_epoch(path: Path, build_epoch: int) -> None:
    """mmdb-writer stamps the current time: overwrite the uint64 build_epoch in the metadata map
    (same size, so nothing else moves) to get a fixed, checkable build date."""
    data = bytearray(path.read_bytes())
    marker = b"\xab\xcd\xefMaxMind.com"
    key = b"\x4bbuild_epoch"  # a 11-byte UTF-8 string key
    at = data.index(key, data.rindex(marker)) + len(key)
    size = data[at] & 0x1F  # uint64: extended type, control byte's low bits give the length
    assert data[at] >> 5 == 0 and data[at + 1] == 2, "build_epoch is not a uint64"
    data[at + 2 : at + 2 + size] = build_epoch.to_bytes(8, "big")[8 - size :]
    path.write_bytes(bytes(data))


def iptoasn_text(rows: list[tuple[str, str, int, str, str]] = IPTOASN_ROWS) -> str:
    return "".join(f"{first}\t{last}\t{number}\t{country}\t{name}\n" for first, last, number, country, name in rows)


def write_iptoasn(path: Path, *, compressed: bool = False) -> Path:
    data = iptoasn_text().encode()
    path.write_bytes(gzip.compress(data) if compressed else data)
    return path


def build_databases(directory: Path) -> IpDatabases:
    directory.mkdir(parents=True, exist_ok=True)
    return IpDatabases(
        city=write_mmdb(directory / "GeoLite2-City.mmdb", "GeoLite2-City", CITY_NETWORKS),
        asn=write_mmdb(directory / "GeoLite2-ASN.mmdb", "GeoLite2-ASN", ASN_NETWORKS),
        iptoasn=write_iptoasn(directory / "ip2asn-combined.tsv"),
    )
