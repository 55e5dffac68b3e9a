#!/usr/bin/env bash
# Import the shipped saved objects through the saved objects API, into Kibana or OpenSearch Dashboards.
#
#   KIBANA_URL=http://localhost:5601 bash fluent-bit/docker/kibana-import.sh
#   DASHBOARDS=opensearch-dashboards KIBANA_URL=http://localhost:5601 bash fluent-bit/docker/kibana-import.sh
#
# DASHBOARDS picks the file and the anti-CSRF header: kibana (default) sends hf-audit.ndjson with
# kbn-xsrf; opensearch-dashboards sends hf-audit-opensearch-dashboards.ndjson with osd-xsrf (it
# refuses the request without that header). SAVED_OBJECTS overrides the file. With security on,
# also set KIBANA_USER and KIBANA_PASSWORD.
set -euo pipefail

kibana_url="${KIBANA_URL:-http://localhost:5601}"
dashboards="${DASHBOARDS:-kibana}"
case "${dashboards}" in
  kibana)
    xsrf_header='kbn-xsrf: true'
    default_objects=fluent-bit/kibana/hf-audit.ndjson
    ;;
  opensearch-dashboards)
    xsrf_header='osd-xsrf: true'
    default_objects=fluent-bit/kibana/hf-audit-opensearch-dashboards.ndjson
    ;;
  *)
    echo "DASHBOARDS must be kibana or opensearch-dashboards, not ${dashboards}" >&2
    exit 2
    ;;
esac
saved_objects="${SAVED_OBJECTS:-${default_objects}}"

auth=()
if [[ -n "${KIBANA_USER:-}" ]]; then
  auth=(--user "${KIBANA_USER}:${KIBANA_PASSWORD:-}")
fi

# overwrite=true: importing twice (every `up`) replaces the objects instead of failing on conflicts.
response="$(curl -sS "${auth[@]}" -X POST \
  -H "${xsrf_header}" \
  --form "file=@${saved_objects}" \
  "${kibana_url%/}/api/saved_objects/_import?overwrite=true")"

# Judge by the body, not the status: the API answers 200 even when some objects fail to import.
if [[ "${response}" != *'"success":true'* ]]; then
  echo "saved objects import into ${dashboards} failed: ${response}" >&2
  exit 1
fi
echo "saved objects imported into ${dashboards}: ${response}"
