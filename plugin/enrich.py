"""Offline enrichment of the src* columns from local IP databases, once per distinct address.

Three optional sources, each a setting: a City database and an ASN (or ISP) database in MaxMind DB
format, read with `maxminddb` (the `geoip` extra), and the iptoasn.com TSV. Every database is opened
and checked before any request, so a missing or damaged file is a settings error (exit 2) and not a
failed poll. An address no database knows keeps the record's defaults; the Hub's own location stays
in the location* columns. `enrichments` names each source that filled something.

Field names are those of the GeoLite2/GeoIP2 City, Enterprise, ASN and ISP layouts (DB-IP's Lite
databases use the same ones).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from .errors import UsageError
from .iptoasn import IpToAsnError, IpToAsnTable
from .settings import Settings

CITY_SETTING = "HF_AUDIT_GEOIP_CITY_DB"
ASN_SETTING = "HF_AUDIT_GEOIP_ASN_DB"
IPTOASN_SETTING = "HF_AUDIT_IPTOASN_TSV"
LANGUAGE = "en"  # the names the databases give in English, else the first language they have
# Addresses that exercise a database's search tree at start, so a damaged tree is found then.
_PROBE_ADDRESSES = ("1.1.1.1", "8.8.8.8", "2001:4860:4860::8888")


class _Reader(Protocol):
    def get(self, address: str) -> Any: ...

    def metadata(self) -> Any: ...


@dataclass(frozen=True)
class DatabaseInfo:
    """What `doctor` says about one configured database."""

    setting: str
    path: Path
    kind: str  # the database type from its metadata, e.g. GeoLite2-City
    built: datetime
    detail: str = ""


@dataclass(frozen=True)
class Enrichment:
    """What one address adds to a record: column values and the `enrichments` entries."""

    columns: dict[str, Any] = field(default_factory=dict)
    entries: tuple[dict[str, Any], ...] = ()

    def filled(self) -> dict[str, Any]:
        """The record's columns it sets (none when it found nothing): its src* columns, and
        `enrichments` as a list of the record's own (the entries are never changed)."""
        return {**self.columns, "enrichments": list(self.entries)} if self.entries else {}


_NOTHING = Enrichment()


def _open_maxmind(setting: str, path: Path) -> tuple[_Reader, DatabaseInfo]:
    try:
        import maxminddb
    except ImportError:
        raise UsageError(
            f"{setting} needs the maxminddb package: install hf-audit with the geoip extra "
            "(pip install 'hf-audit[geoip]')"
        ) from None
    try:
        reader = maxminddb.open_database(str(path))
        for address in _PROBE_ADDRESSES:
            try:
                reader.get(address)
            except ValueError:  # an IPv6 address in an IPv4-only database: not a fault
                pass
        metadata = reader.metadata()
    except FileNotFoundError:
        raise UsageError(f"{setting}: {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"{setting}: {path} is a directory, not a MaxMind DB file") from None
    except OSError as exc:
        raise UsageError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None
    except (maxminddb.InvalidDatabaseError, RuntimeError, ValueError, TypeError, KeyError, IndexError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{setting}: {path} is not a valid MaxMind DB file (damaged or cut short?): {reason}") from None
    built = datetime.fromtimestamp(metadata.build_epoch, UTC)
    info = DatabaseInfo(setting, path, metadata.database_type, built, f"IPv{metadata.ip_version}, {metadata.node_count} nodes")
    return reader, info


def _open_iptoasn(path: Path) -> tuple[IpToAsnTable, DatabaseInfo]:
    try:
        table = IpToAsnTable.load(path)
    except FileNotFoundError:
        raise UsageError(f"{IPTOASN_SETTING}: {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"{IPTOASN_SETTING}: {path} is a directory, not an ip2asn TSV file") from None
    except OSError as exc:
        raise UsageError(f"{IPTOASN_SETTING}: cannot read {path}: {exc.strerror or exc}") from None
    except IpToAsnError as exc:
        raise UsageError(f"{IPTOASN_SETTING}: {path} is not a valid ip2asn TSV file: {exc}") from None
    info = DatabaseInfo(IPTOASN_SETTING, path, "iptoasn ip2asn-combined", table.built, f"{table.ranges} ranges")
    return table, info


def configured_databases(settings: Settings) -> list[tuple[str, Path]]:
    """(setting name, path) of every database the settings name."""
    paths = ((CITY_SETTING, settings.geoip_city_db), (ASN_SETTING, settings.geoip_asn_db), (IPTOASN_SETTING, settings.iptoasn_tsv))
    return [(setting, path.expanduser()) for setting, path in paths if path is not None]


def inspect_database(setting: str, path: Path) -> DatabaseInfo:
    """Open and check one database; UsageError when it cannot be used."""
    if setting == IPTOASN_SETTING:
        return _open_iptoasn(path)[1]
    return _open_maxmind(setting, path)[1]


def _name(names: Any) -> str:
    if not isinstance(names, dict) or not names:
        return ""
    found = names.get(LANGUAGE) or next(iter(names.values()))
    return found if isinstance(found, str) else ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _as_number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**32 else 0


def _put(target: dict[str, str], key: str, value: Any) -> None:
    if value not in (None, ""):
        target[key] = str(value)


class IpEnricher:
    """Fills a record's src* columns from whichever databases are configured, caching per address."""

    def __init__(
        self,
        city: tuple[_Reader, DatabaseInfo] | None,
        asn: tuple[_Reader, DatabaseInfo] | None,
        iptoasn: tuple[IpToAsnTable, DatabaseInfo] | None,
    ) -> None:
        self._city = city
        self._asn = asn
        self._iptoasn = iptoasn
        self._cache: dict[str, Enrichment] = {}
        self.lookups = 0  # distinct addresses looked up (what the cache saves is records - lookups)

    @classmethod
    def from_settings(cls, settings: Settings) -> IpEnricher | None:
        """The enricher the settings ask for, every database opened and checked; None when no
        database is configured. UsageError (exit 2) when one cannot be used."""
        paths = dict(configured_databases(settings))
        city = _open_maxmind(CITY_SETTING, paths[CITY_SETTING]) if CITY_SETTING in paths else None
        asn = _open_maxmind(ASN_SETTING, paths[ASN_SETTING]) if ASN_SETTING in paths else None
        iptoasn = _open_iptoasn(paths[IPTOASN_SETTING]) if IPTOASN_SETTING in paths else None
        if city is None and asn is None and iptoasn is None:
            return None
        return cls(city, asn, iptoasn)

    def databases(self) -> Iterator[DatabaseInfo]:
        for source in (self._city, self._asn, self._iptoasn):
            if source is not None:
                yield source[1]

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """`record` with its src* columns filled for its srcIP (the same dict, changed in place)."""
        record.update(self.enrichment_of(record["srcIP"]).filled())
        return record

    def enrichment_of(self, address: str) -> Enrichment:
        """What the databases say about `address`, looked up once a poll; nothing for no address."""
        if not address:
            return _NOTHING
        found = self._cache.get(address)
        if found is None:
            found = self._cache[address] = self.lookup(address)
        return found

    def lookup(self, address: str) -> Enrichment:
        """What the databases say about one address (uncached)."""
        self.lookups += 1
        try:
            canonical = str(ipaddress.ip_address(address))
        except ValueError:
            return _NOTHING
        columns: dict[str, Any] = {}
        entries: list[dict[str, Any]] = []
        isp_from_isp_field = False
        if self._city is not None:
            record = self._maxmind_record(self._city, canonical)
            if record and self._fill_from_city(record, columns):
                isp_from_isp_field = "srcISP" in columns
                entries.append(self._entry("geoip-city", self._city[1], address, self._city_data(record)))
        if self._asn is not None:
            record = self._maxmind_record(self._asn, canonical)
            if record and self._fill_from_asn(record, columns, isp_from_isp_field):
                entries.append(self._entry("geoip-asn", self._asn[1], address, {}))
        if self._iptoasn is not None:
            row = self._iptoasn[0].find(canonical)
            if row is not None:
                # MaxMind's AS data, when there is some, is kept; the AS country is iptoasn's alone.
                columns.setdefault("srcASNumber", row.as_number)
                columns.setdefault("srcASOrganization", row.organization)
                if row.country_code and row.country_code != "None":
                    columns["srcASCountryCode"] = row.country_code
                entries.append(self._entry("iptoasn", self._iptoasn[1], address, {"range": f"{row.first}-{row.last}"}))
        if not entries:
            return _NOTHING
        return Enrichment(columns, tuple(entries))

    @staticmethod
    def _maxmind_record(source: tuple[_Reader, DatabaseInfo], address: str) -> dict[str, Any] | None:
        reader, info = source
        try:
            found = reader.get(address)
        except ValueError:  # an IPv6 address in an IPv4-only database: not found
            return None
        except RuntimeError as exc:  # InvalidDatabaseError: damage the checks at start did not reach
            raise UsageError(f"{info.setting}: {info.path} is damaged: {exc}") from None
        return found if isinstance(found, dict) else None

    @staticmethod
    def _fill_from_city(record: dict[str, Any], columns: dict[str, Any]) -> bool:
        """City, coordinates and, from Enterprise-style traits, AS, ISP, connection and user type."""
        before = len(columns)
        if city := _name((record.get("city") or {}).get("names")):
            columns["srcCity"] = city
        location = record.get("location") or {}
        latitude, longitude = _number(location.get("latitude")), _number(location.get("longitude"))
        if latitude is not None and longitude is not None:
            columns["srcLatitude"], columns["srcLongitude"] = latitude, longitude
        traits = record.get("traits") or {}
        if as_number := _as_number(traits.get("autonomous_system_number")):
            columns["srcASNumber"] = as_number
        for key, column in (
            ("autonomous_system_organization", "srcASOrganization"),
            ("isp", "srcISP"),
            ("connection_type", "srcConnectionType"),
            ("user_type", "srcUserType"),
        ):
            if value := _text(traits.get(key)):
                columns[column] = value
        return len(columns) > before or bool(record.get("country") or record.get("continent"))

    @staticmethod
    def _city_data(record: dict[str, Any]) -> dict[str, str]:
        """The one thing a City database says that has no column of its own: the country. Kept
        short: every byte here is repeated in each record from the address."""
        data: dict[str, str] = {}
        _put(data, "countryIsoCode", (record.get("country") or {}).get("iso_code"))
        return data

    @staticmethod
    def _fill_from_asn(record: dict[str, Any], columns: dict[str, Any], isp_known: bool) -> bool:
        """AS number and organization; the ISP from an ISP database, else the AS organization."""
        before = len(columns)
        if as_number := _as_number(record.get("autonomous_system_number")):
            columns["srcASNumber"] = as_number
        organization = _text(record.get("autonomous_system_organization"))
        if organization:
            columns["srcASOrganization"] = organization
        isp = _text(record.get("isp"))  # GeoIP2-ISP layout
        if isp:
            columns["srcISP"] = isp
        elif organization and not isp_known:
            columns["srcISP"] = organization
        if value := _text(record.get("connection_type")):
            columns["srcConnectionType"] = value
        return len(columns) > before

    @staticmethod
    def _entry(name: str, info: DatabaseInfo, address: str, data: dict[str, str]) -> dict[str, Any]:
        """One `enrichments` item: the ClickHouse tuple's fields data, name, provider, type, value."""
        return {
            "data": {"database": info.kind, **data},
            "name": name,
            "provider": "iptoasn.com" if name == "iptoasn" else "maxmind-db",
            "type": "ip",
            "value": address,
        }
