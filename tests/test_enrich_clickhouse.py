"""ClickHouse and IP enrichment, on the real engine (chdb): enriched records are stored unchanged by
the shipped table and output, and the README's query-time enrichment (a dictionary over the same
iptoasn file) gives each address the AS the poller gives it.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from chdb_http_endpoint import ChdbHttpEndpoint, create_table
from clickhouse_shipped import (
    DDL_FILE,
    STRICT_SERVER,
    mismatched_columns,
    post_like_fluent_bit,
    shipped_uri,
    stored_rows,
)
from conftest import ORG, REPO, TOKEN, poller_env, run_like_fluent_bit
from hf_audit.simhub.server import SimulatedHub
from ip_databases import IpDatabases, build_databases, write_iptoasn
from records import simulated_export_events

USER = "hf_audit_writer"
PASSWORD = secrets.token_urlsafe(16)
CLICKHOUSE_README = (REPO / "fluent-bit" / "clickhouse" / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> IpDatabases:
    return build_databases(tmp_path_factory.mktemp("ipdb"))


@pytest.fixture(scope="module")
def enriched_lines(databases: IpDatabases, tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    work = tmp_path_factory.mktemp("export")
    settings = {
        "HF_AUDIT_GEOIP_CITY_DB": str(databases.city), "HF_AUDIT_GEOIP_ASN_DB": str(databases.asn),
        "HF_AUDIT_IPTOASN_TSV": str(databases.iptoasn),
    }  # fmt: skip
    with SimulatedHub(org=ORG, token=TOKEN, events=simulated_export_events(400)) as hub:
        run = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, work / "state", work, **settings))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any(json.loads(line)["enrichments"] for line in lines), "nothing enriched: the test would prove nothing"
    return lines


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbHttpEndpoint]:
    data = tmp_path_factory.mktemp("chdb") / "data"
    with ChdbHttpEndpoint(data, user=USER, password=PASSWORD, server_settings=STRICT_SERVER) as running:
        yield running


def test_enriched_records_are_stored_unchanged_by_the_shipped_table(endpoint: ChdbHttpEndpoint, enriched_lines: list[bytes]) -> None:
    create_table(endpoint, DDL_FILE, "hf_audit_enriched")
    response = post_like_fluent_bit(endpoint, shipped_uri("hf_audit_enriched"), enriched_lines, (USER, PASSWORD))
    assert response.status_code == 200, response.text
    rows = {row["id"]: row for row in stored_rows(endpoint, "hf_audit_enriched")}
    records = [json.loads(line) for line in enriched_lines]
    assert rows.keys() == {record["id"] for record in records}
    differences = {record["id"]: mismatched_columns(rows[record["id"]], record) for record in records}
    assert {key: str(value)[:300] for key, value in differences.items() if value} == {}


def readme_enrichment_sql() -> list[str]:
    section = CLICKHOUSE_README.split("## 7. Enrichment at query time", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sql\n(.*?)```", section, re.DOTALL)
    without_comments = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in without_comments.split(";") if statement.strip()]


def test_the_readme_query_time_enrichment_gives_the_pollers_as(
    endpoint: ChdbHttpEndpoint, enriched_lines: list[bytes], tmp_path: Path
) -> None:
    create_table(endpoint, DDL_FILE, "hf_audit")
    endpoint.query("TRUNCATE TABLE hf_audit.huggingface_logs")
    response = post_like_fluent_bit(endpoint, shipped_uri("hf_audit"), enriched_lines, (USER, PASSWORD))
    assert response.status_code == 200, response.text
    gz = write_iptoasn(tmp_path / "ip2asn-combined.tsv.gz", compressed=True)
    statements = readme_enrichment_sql()
    assert len(statements) == 4  # table, load, dictionary, query
    for statement in statements[:3]:
        endpoint.query(statement.replace("'ip2asn-combined.tsv.gz'", f"'{gz}'"))
    query = statements[3].replace("LIMIT 50", "").replace("SELECT\n", "SELECT id, ", 1)
    rows = [json.loads(line) for line in endpoint.query(query, "JSONEachRow").splitlines()]
    records = {json.loads(line)["id"]: json.loads(line) for line in enriched_lines}
    assert len(rows) == len(records)
    checked = 0
    for row in rows:
        record = records[row["id"]]
        by_iptoasn = any(entry["name"] == "iptoasn" for entry in record["enrichments"])
        expected = [record["srcASNumber"], record["srcASCountryCode"]] if by_iptoasn else [0, ""]
        assert [row["source_as"]["asn"], row["source_as"]["country"]] == expected, record["srcIP"]
        checked += by_iptoasn
    assert checked, "no address is in the iptoasn file: the test would prove nothing"
