#!/bin/bash
# First start of the clickhouse-server image (mounted into /docker-entrypoint-initdb.d): create the
# shipped table in the database the image has just created from CLICKHOUSE_DB. The DDL names no
# database, and the image feeds plain .sql init files to the default one, hence this wrapper.
# No `set` or `exit` here: the image's entrypoint may source this file rather than run it.
clickhouse-client --host 127.0.0.1 \
  --user "${CLICKHOUSE_USER}" --password "${CLICKHOUSE_PASSWORD}" \
  --database "${CLICKHOUSE_DB}" --multiquery \
  < /hf-audit/clickhouse/huggingface_logs.sql
