#!/usr/bin/env bash
# Import the shipped Kibana saved objects (data view and dashboards) through the saved objects API.
#
#   KIBANA_URL=http://localhost:5601 SAVED_OBJECTS=fluent-bit/kibana/hf-audit.ndjson \
#     bash fluent-bit/docker/kibana-import.sh
#
# With Kibana security on, also set KIBANA_USER and KIBANA_PASSWORD.
set -euo pipefail

kibana_url="${KIBANA_URL:-http://localhost:5601}"
saved_objects="${SAVED_OBJECTS:-fluent-bit/kibana/hf-audit.ndjson}"

auth=()
if [[ -n "${KIBANA_USER:-}" ]]; then
  auth=(--user "${KIBANA_USER}:${KIBANA_PASSWORD:-}")
fi

# overwrite=true: importing twice (every `up`) replaces the objects instead of failing on conflicts.
response="$(curl -sS "${auth[@]}" -X POST \
  -H 'kbn-xsrf: true' \
  --form "file=@${saved_objects}" \
  "${kibana_url%/}/api/saved_objects/_import?overwrite=true")"

# Judge by the body, not the status: the API answers 200 even when some objects fail to import.
if [[ "${response}" != *'"success":true'* ]]; then
  echo "Kibana saved objects import failed: ${response}" >&2
  exit 1
fi
echo "Kibana saved objects imported: ${response}"
