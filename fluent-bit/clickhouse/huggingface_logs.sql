-- hf-audit: the ClickHouse table for Hugging Face audit-log records, one row per event.
--
-- The table name is fixed; the database is yours to pick. Create both before Fluent Bit starts
-- (the http output drops a chunk without a retry when the table is missing):
--
--   clickhouse-client --query 'CREATE DATABASE IF NOT EXISTS hf_audit'
--   clickhouse-client --database hf_audit --multiquery < huggingface_logs.sql
--
-- and give Fluent Bit the same name in CLICKHOUSE_DATABASE.
--
-- Columns: the 51 columns of the record hf-audit-poll prints, in its order, with the types of
-- the source schema. LowCardinality marks the enumerations and geography columns (a few thousand
-- values at most): same values, smaller and faster. DateTime columns carry the 'UTC' zone so
-- display and date functions do not depend on the server's zone; storage stays whole seconds
-- (the exact millisecond time is kept in rawLog).
--
-- Engine: a re-delivered event (a Fluent Bit retry, a re-poll after lost state) has the same
-- sourceID, eventTime and id, so it has the same sorting key and lands in the same partition;
-- ReplacingMergeTree keeps the copy with the latest receivedAt when parts merge. Until then, query
-- with FINAL (or argMax(..., receivedAt) grouped by id) to see each event once.
--
-- TTL: a row is deleted sourceTTL days after its eventTime (when parts merge); sourceTTL = 0
-- keeps it forever. The arithmetic is done in seconds and capped at the end of the DateTime range,
-- because eventTime + toIntervalDay(n) wraps around past 2106 and would delete the row at once.

CREATE TABLE IF NOT EXISTS huggingface_logs
(
    workspaceID        LowCardinality(String),
    sourceID           LowCardinality(String),
    sourceType         LowCardinality(String),
    sourceTTL          UInt32,
    receivedAt         DateTime('UTC'),
    id                 String,
    eventTime          DateTime('UTC'),
    eventName          LowCardinality(String),
    eventID            String,
    srcIP              String,
    srcASCountryCode   LowCardinality(String),
    srcASNumber        UInt32,
    srcASOrganization  LowCardinality(String),
    srcCity            LowCardinality(String),
    srcConnectionType  LowCardinality(String),
    srcISP             LowCardinality(String),
    srcLatitude        Float64,
    srcLongitude       Float64,
    srcUserType        LowCardinality(String),
    dstIP              String,
    dstASCountryCode   LowCardinality(String),
    dstASNumber        UInt32,
    dstASOrganization  LowCardinality(String),
    dstCity            LowCardinality(String),
    dstConnectionType  LowCardinality(String),
    dstISP             LowCardinality(String),
    dstLatitude        Float64,
    dstLongitude       Float64,
    dstUserType        LowCardinality(String),
    actor              Map(LowCardinality(String), String),
    tags               Map(LowCardinality(String), String),
    resources          Array(String),
    serviceName        LowCardinality(String),
    enrichments        Array(Tuple(data Map(String, String), name String, provider String, type String, value String)),
    readOnly           Bool,
    rawLog             String CODEC(ZSTD(3)),
    auditID            String,
    eventType          LowCardinality(String),
    message            String CODEC(ZSTD(3)),
    authorID           String,
    authorUser         String,
    authorType         LowCardinality(String),
    actorIP            String,
    locationFormatted  LowCardinality(String),
    locationCountry    LowCardinality(String),
    locationCity       LowCardinality(String),
    tokenType          LowCardinality(String),
    tokenID            String,
    tokenRole          LowCardinality(String),
    tokenLast4         String,
    tokenDeleted       Bool,

    -- What an investigation filters on: who, from where, with which token, on which resource.
    INDEX idx_author_user authorUser TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_src_ip srcIP TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_token_id tokenID TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_resources resources TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(receivedAt)
PARTITION BY toYYYYMM(eventTime)
ORDER BY (sourceID, eventTime, id)
TTL toDateTime(
        least(toUInt64(toUnixTimestamp(eventTime)) + 86400 * if(sourceTTL = 0, 4294967295, sourceTTL), 4294967295),
        'UTC')
-- A retried insert of the very same chunk is dropped on arrival, not only folded at merge time
-- (replicated and ClickHouse Cloud tables do this by default).
SETTINGS non_replicated_deduplication_window = 1000;
