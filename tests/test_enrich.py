"""Offline IP enrichment: City and ASN databases in MaxMind DB format and the iptoasn TSV fill the
src* columns of the records the real `hf-audit-poll` prints, and a database that cannot be used
stops the poll at start with one line and exit 2.

The databases are small ones written by tests/ip_databases.py for the simulated Hub's addresses.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import ORG, TOKEN, poller_env, run_like_fluent_bit
from hf_audit.cli import OPTIONS, build_parser, load_settings
from hf_audit.enrich import IpEnricher
from hf_audit.normalize import COLUMNS
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import SimulatedHub
from ip_databases import (
    ASN_NETWORKS,
    BENGALURU_V4,
    BERLIN_V4,
    BERLIN_V6,
    BUILD_DATE,
    PARIS_V4,
    PARIS_V6,
    SAO_PAULO_V4,
    TOKYO_V4,
    UNKNOWN_V4,
    IpDatabases,
    build_databases,
    iptoasn_text,
    write_iptoasn,
    write_mmdb,
)

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
ADDRESSES = (PARIS_V4, PARIS_V6, BERLIN_V4, BERLIN_V6, TOKYO_V4, SAO_PAULO_V4, BENGALURU_V4, UNKNOWN_V4)
SRC_DEFAULTS = {
    "srcASCountryCode": "", "srcASNumber": 0, "srcASOrganization": "", "srcConnectionType": "",
    "srcISP": "", "srcLatitude": 0.0, "srcLongitude": 0.0, "srcUserType": "",
}  # fmt: skip


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> IpDatabases:
    return build_databases(tmp_path_factory.mktemp("ipdb"))


@pytest.fixture(scope="module")
def events() -> list[dict]:
    """400 events; the first ones carry each test address (three times each), one has none."""
    events = generate_events(400, seed=11, end=datetime.now(UTC) - timedelta(minutes=5), span=timedelta(days=3))
    for index, address in enumerate(ADDRESSES * 3):
        events[index]["ip"] = address
    events[len(ADDRESSES) * 3].pop("ip", None)
    return events


def poll_records(events: list[dict], workdir: Path, **settings: str) -> list[dict]:
    with SimulatedHub(org=ORG, token=TOKEN, events=events) as hub:
        run = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, workdir / "state", workdir, **settings))
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def by_address(records: list[dict], address: str) -> dict:
    """The first record from `address`; every record from it has the same src* values."""
    found = [record for record in records if record["srcIP"] == address]
    assert found, f"no record from {address}"
    enriched_columns = (*SRC_DEFAULTS, "enrichments")
    assert all([r[c] for c in enriched_columns] == [found[0][c] for c in enriched_columns] for r in found)
    return found[0]


@pytest.fixture(scope="module")
def plain(events: list[dict], tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return poll_records(events, tmp_path_factory.mktemp("plain"))


@pytest.fixture(scope="module")
def enriched(events: list[dict], databases: IpDatabases, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return poll_records(
        events,
        tmp_path_factory.mktemp("all"),
        HF_AUDIT_GEOIP_CITY_DB=str(databases.city),
        HF_AUDIT_GEOIP_ASN_DB=str(databases.asn),
        HF_AUDIT_IPTOASN_TSV=str(databases.iptoasn),
    )


def names(record: dict) -> list[str]:
    return [entry["name"] for entry in record["enrichments"]]


# --- what fills what --------------------------------------------------------------------------------


def test_city_database_fills_city_and_coordinates(enriched: list[dict]) -> None:
    record = by_address(enriched, PARIS_V4)
    assert (record["srcCity"], record["srcLatitude"], record["srcLongitude"]) == ("Paris", 48.8534, 2.3488)


def test_city_database_answers_ipv6_addresses(enriched: list[dict]) -> None:
    record = by_address(enriched, PARIS_V6)
    assert (record["srcCity"], record["srcLatitude"], record["srcLongitude"]) == ("Lyon", 45.7485, 4.8467)


def test_a_city_without_an_english_name_takes_the_name_the_database_has(enriched: list[dict]) -> None:
    assert by_address(enriched, BERLIN_V4)["srcCity"] == "Berlin"


def test_a_country_level_record_gives_coordinates_and_keeps_the_hubs_city(enriched: list[dict], plain: list[dict]) -> None:
    record = by_address(enriched, TOKYO_V4)
    assert (record["srcLatitude"], record["srcLongitude"]) == (35.69, 139.69)
    assert record["srcCity"] == by_address(plain, TOKYO_V4)["srcCity"]


def test_asn_database_fills_as_number_organization_and_isp(enriched: list[dict]) -> None:
    record = by_address(enriched, SAO_PAULO_V4)
    assert (record["srcASNumber"], record["srcASOrganization"], record["srcISP"]) == (
        28573, "Claro NXT Telecomunicacoes Ltda", "Claro NXT Telecomunicacoes Ltda",
    )  # fmt: skip


def test_asn_database_answers_ipv6_addresses(enriched: list[dict]) -> None:
    record = by_address(enriched, PARIS_V6)
    assert (record["srcASNumber"], record["srcASOrganization"]) == (3215, "Orange")


def test_iptoasn_fills_as_number_organization_and_country(tmp_path: Path, events: list[dict], databases: IpDatabases) -> None:
    records = poll_records(events, tmp_path, HF_AUDIT_IPTOASN_TSV=str(databases.iptoasn))
    record = by_address(records, BENGALURU_V4)
    assert (record["srcASNumber"], record["srcASOrganization"], record["srcASCountryCode"]) == (
        24309, "CABLELITE-AS-AP Atria Convergence Technologies Pvt. Ltd.", "IN",
    )  # fmt: skip
    assert record["srcISP"] == "" and record["srcLatitude"] == 0.0


def test_iptoasn_answers_ipv6_addresses(enriched: list[dict]) -> None:
    record = by_address(enriched, BERLIN_V6)
    assert (record["srcASNumber"], record["srcASOrganization"], record["srcASCountryCode"]) == (
        3320, "DTAG Internet service provider operations", "DE",
    )  # fmt: skip


def test_gzipped_iptoasn_reads_like_the_plain_file(tmp_path: Path, events: list[dict]) -> None:
    gz = write_iptoasn(tmp_path / "ip2asn-combined.tsv.gz", compressed=True)
    records = poll_records(events, tmp_path, HF_AUDIT_IPTOASN_TSV=str(gz))
    assert by_address(records, BERLIN_V4)["srcASNumber"] == 31334


def test_maxmind_as_data_wins_and_iptoasn_adds_the_as_country(enriched: list[dict]) -> None:
    record = by_address(enriched, PARIS_V4)
    assert (record["srcASNumber"], record["srcASOrganization"], record["srcASCountryCode"]) == (3215, "Orange", "FR")


def test_an_isp_database_names_the_isp_instead_of_the_as_organization(tmp_path: Path, events: list[dict]) -> None:
    isp_layout = {
        network: {**record, "isp": "Orange Business", "organization": "Orange"} for network, record in ASN_NETWORKS.items()
    }
    isp_db = write_mmdb(tmp_path / "GeoIP2-ISP.mmdb", "GeoIP2-ISP", isp_layout)
    record = by_address(poll_records(events, tmp_path, HF_AUDIT_GEOIP_ASN_DB=str(isp_db)), PARIS_V4)
    assert (record["srcISP"], record["srcASOrganization"]) == ("Orange Business", "Orange")


# --- what stays as it was ----------------------------------------------------------------------------


def test_an_address_no_database_knows_keeps_every_default(enriched: list[dict], plain: list[dict]) -> None:
    def without_poll_time(record: dict) -> dict:
        return {column: value for column, value in record.items() if column != "receivedAt"}

    assert without_poll_time(by_address(enriched, UNKNOWN_V4)) == without_poll_time(by_address(plain, UNKNOWN_V4))
    assert {column: by_address(enriched, UNKNOWN_V4)[column] for column in SRC_DEFAULTS} == SRC_DEFAULTS
    assert by_address(enriched, UNKNOWN_V4)["enrichments"] == []


def test_a_not_routed_iptoasn_range_is_a_miss(tmp_path: Path, events: list[dict], databases: IpDatabases) -> None:
    records = poll_records(events, tmp_path, HF_AUDIT_IPTOASN_TSV=str(databases.iptoasn))
    record = by_address(records, TOKYO_V4)
    assert (record["srcASNumber"], record["srcASOrganization"], record["srcASCountryCode"], record["enrichments"]) == (0, "", "", [])


def test_events_without_an_address_are_left_alone(enriched: list[dict]) -> None:
    without = [record for record in enriched if record["srcIP"] == ""]
    assert without
    assert all(record["enrichments"] == [] and record["srcASNumber"] == 0 for record in without)


def test_the_hubs_location_stays_in_the_location_columns(enriched: list[dict], plain: list[dict]) -> None:
    location = ("locationFormatted", "locationCountry", "locationCity")
    assert [[r[c] for c in location] for r in enriched] == [[r[c] for c in location] for r in plain]


def test_only_src_columns_and_enrichments_change(enriched: list[dict], plain: list[dict]) -> None:
    changed = {
        column
        for before, after in zip(plain, enriched, strict=True)
        for column in COLUMNS
        if before[column] != after[column] and column != "receivedAt"
    }
    assert changed <= {*SRC_DEFAULTS, "srcCity", "enrichments"}
    assert {"srcCity", "srcLatitude", "srcASNumber", "srcASCountryCode", "enrichments"} <= changed


def test_enrichments_name_each_source_that_filled_the_record(enriched: list[dict]) -> None:
    assert names(by_address(enriched, PARIS_V4)) == ["geoip-city", "geoip-asn", "iptoasn"]
    assert names(by_address(enriched, SAO_PAULO_V4)) == ["geoip-asn", "iptoasn"]
    assert names(by_address(enriched, BENGALURU_V4)) == ["iptoasn"]
    assert names(by_address(enriched, BERLIN_V6)) == ["iptoasn"]


def test_an_enrichments_entry_has_the_clickhouse_tuple_fields_and_names_the_database(enriched: list[dict]) -> None:
    city = by_address(enriched, PARIS_V4)["enrichments"][0]
    assert set(city) == {"data", "name", "provider", "type", "value"}
    assert (city["type"], city["value"]) == ("ip", PARIS_V4)
    assert city["data"] == {"database": "GeoLite2-City", "countryIsoCode": "FR"}
    assert all(isinstance(value, str) for entry in by_address(enriched, PARIS_V4)["enrichments"] for value in entry["data"].values())


# --- once per distinct address ----------------------------------------------------------------------


def test_each_distinct_address_is_looked_up_once(databases: IpDatabases, tmp_path: Path) -> None:
    env = {"HF_ORG": ORG, "HF_TOKEN": TOKEN, "HOME": str(tmp_path), "HF_AUDIT_GEOIP_CITY_DB": str(databases.city)}
    enricher = IpEnricher.from_settings(load_settings(build_parser().parse_args([]), env))
    assert enricher is not None
    template = {column: "" for column in COLUMNS} | {"enrichments": []}
    records = [enricher.apply({**template, "srcIP": address}) for address in ADDRESSES * 50]
    assert enricher.lookups == len(ADDRESSES)
    assert [r["srcCity"] for r in records[: len(ADDRESSES)]] == [r["srcCity"] for r in records[-len(ADDRESSES) :]]
    assert records[0]["enrichments"] is not records[len(ADDRESSES)]["enrichments"]  # no shared list


# --- databases that cannot be used -------------------------------------------------------------------


def truncated(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes()[: len(source.read_bytes()) // 2])
    return target


BROKEN = {
    "missing city database": ("HF_AUDIT_GEOIP_CITY_DB", lambda dbs, tmp: tmp / "absent.mmdb"),
    "truncated city database": ("HF_AUDIT_GEOIP_CITY_DB", lambda dbs, tmp: truncated(dbs.city, tmp / "cut.mmdb")),
    "truncated asn database": ("HF_AUDIT_GEOIP_ASN_DB", lambda dbs, tmp: truncated(dbs.asn, tmp / "cut.mmdb")),
    "text as asn database": ("HF_AUDIT_GEOIP_ASN_DB", lambda dbs, tmp: dbs.iptoasn),
    "directory as city database": ("HF_AUDIT_GEOIP_CITY_DB", lambda dbs, tmp: tmp),
    "truncated iptoasn file": ("HF_AUDIT_IPTOASN_TSV", lambda dbs, tmp: truncated(dbs.iptoasn, tmp / "cut.tsv")),
    "truncated gzipped iptoasn": (
        "HF_AUDIT_IPTOASN_TSV",
        lambda dbs, tmp: truncated(write_iptoasn(tmp / "whole.tsv.gz", compressed=True), tmp / "cut.tsv.gz"),
    ),
    "garbled iptoasn line": (
        "HF_AUDIT_IPTOASN_TSV",
        lambda dbs, tmp: _write(tmp / "bad.tsv", iptoasn_text() + "1.2.3.4\tnot-an-address\t13335\tUS\tX\n"),
    ),
    "mmdb as iptoasn": ("HF_AUDIT_IPTOASN_TSV", lambda dbs, tmp: dbs.city),
    "empty iptoasn": ("HF_AUDIT_IPTOASN_TSV", lambda dbs, tmp: _write(tmp / "empty.tsv", "")),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_database_that_cannot_be_used_stops_the_poll_with_one_line_before_any_request(
    case: str, databases: IpDatabases, events: list[dict], tmp_path: Path
) -> None:
    setting, make = BROKEN[case]
    path = make(databases, tmp_path)
    with SimulatedHub(org=ORG, token=TOKEN, events=events) as hub:
        run = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, tmp_path / "state", tmp_path, **{setting: str(path)}))
        requests = hub.requests_seen
    assert run.returncode == 2, run.stderr
    assert run.stdout == b""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and setting in lines[0], run.stderr
    assert requests == []
    assert not (tmp_path / "state" / f"{ORG}.json").exists()


def test_check_reports_each_database_with_its_type_and_build_date(databases: IpDatabases, tmp_path: Path) -> None:
    with SimulatedHub(org=ORG, token=TOKEN, events=[]) as hub:
        env = poller_env(
            hub.url, tmp_path / "state", tmp_path, HF_AUDIT_GEOIP_CITY_DB=str(databases.city),
            HF_AUDIT_GEOIP_ASN_DB=str(databases.asn), HF_AUDIT_IPTOASN_TSV=str(databases.iptoasn),
        )  # fmt: skip
        run = run_like_fluent_bit("hf-audit-poll check", env)
    assert run.returncode == 0, run.stdout
    out = run.stdout.decode()
    assert re.search(rf"PASS\s+HF_AUDIT_GEOIP_CITY_DB\s+.*GeoLite2-City, built {BUILD_DATE}", out), out
    assert re.search(rf"PASS\s+HF_AUDIT_GEOIP_ASN_DB\s+.*GeoLite2-ASN, built {BUILD_DATE}", out), out
    assert re.search(r"PASS\s+HF_AUDIT_IPTOASN_TSV\s+.*iptoasn ip2asn-combined, built \d{4}-\d\d-\d\d, 7 ranges", out), out


def test_check_fails_a_damaged_database_with_the_settings_exit_code(databases: IpDatabases, tmp_path: Path) -> None:
    cut = truncated(databases.city, tmp_path / "cut.mmdb")
    with SimulatedHub(org=ORG, token=TOKEN, events=[]) as hub:
        run = run_like_fluent_bit("hf-audit-poll check", poller_env(hub.url, tmp_path / "state", tmp_path, HF_AUDIT_GEOIP_CITY_DB=str(cut)))
    assert run.returncode == 2
    assert re.search(r"FAIL\s+HF_AUDIT_GEOIP_CITY_DB\s+.*not a valid MaxMind DB file", run.stdout.decode())


def test_readme_settings_table_lists_the_three_database_settings() -> None:
    for setting in ("HF_AUDIT_GEOIP_CITY_DB", "HF_AUDIT_GEOIP_ASN_DB", "HF_AUDIT_IPTOASN_TSV"):
        assert re.search(rf"^\| `{setting}` \| `--[a-z-]+` \|", README, re.MULTILINE), setting
        assert any(option.env == setting for option in OPTIONS)


def test_an_enterprise_city_database_fills_isp_connection_and_user_type(tmp_path: Path, events: list[dict]) -> None:
    enterprise = {
        "81.64.12.0/24": {
            "city": {"names": {"en": "Paris"}},
            "location": {"latitude": 48.8534, "longitude": 2.3488},
            "traits": {
                "autonomous_system_number": 3215, "autonomous_system_organization": "Orange",
                "isp": "Orange Business", "connection_type": "Cable/DSL", "user_type": "residential",
            },
        }
    }  # fmt: skip
    db = write_mmdb(tmp_path / "GeoIP2-Enterprise.mmdb", "GeoIP2-Enterprise", enterprise)
    asn_only = write_mmdb(tmp_path / "GeoLite2-ASN.mmdb", "GeoLite2-ASN", ASN_NETWORKS)
    records = poll_records(events, tmp_path, HF_AUDIT_GEOIP_CITY_DB=str(db), HF_AUDIT_GEOIP_ASN_DB=str(asn_only))
    record = by_address(records, PARIS_V4)
    assert (record["srcISP"], record["srcConnectionType"], record["srcUserType"]) == ("Orange Business", "Cable/DSL", "residential")
    assert (record["srcASNumber"], record["srcASOrganization"]) == (3215, "Orange")
