#!/bin/sh
# Install the hf-audit ILM policy and composable index template into Elasticsearch 8/9.
#
# Reads the same environment variables as fluent-bit/outputs/elasticsearch.yaml:
#   HF_AUDIT_ES_HOST (127.0.0.1)  HF_AUDIT_ES_PORT (9200)  HF_AUDIT_ES_TLS (off)
#   HF_AUDIT_ES_TLS_VERIFY (on)   HF_AUDIT_ES_TLS_CA_FILE  HF_AUDIT_ES_INDEX_PREFIX (hf-audit)
#   HF_AUDIT_ES_USER + HF_AUDIT_ES_PASSWORD, or HF_AUDIT_ES_API_KEY
# and HF_AUDIT_ES_DELETE_AFTER (396d): the age at which a monthly index is deleted.
# Credentials reach curl on its standard input, never on its command line.
# Safe to run again: both PUTs replace what is there (existing indices keep their mapping).
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
prefix=${HF_AUDIT_ES_INDEX_PREFIX:-hf-audit}
delete_after=${HF_AUDIT_ES_DELETE_AFTER:-396d}
generated_delete_after=396d  # the value in ilm-policy.json (fluent-bit/search/build_templates.py)

fail() { echo "install.sh: $*" >&2; exit 1; }

case $prefix in
  '' | [._-]* | *[!a-z0-9._-]*) fail "HF_AUDIT_ES_INDEX_PREFIX must be lowercase letters, digits, '.', '_' or '-'" ;;
esac
case $delete_after in
  '' | *[!0-9a-z]*) fail "HF_AUDIT_ES_DELETE_AFTER must be a duration such as 396d" ;;
esac
case ${HF_AUDIT_ES_TLS:-off} in
  [Oo][Nn] | [Tt][Rr][Uu][Ee] | [Yy][Ee][Ss] | 1) scheme=https ;;
  *) scheme=http ;;
esac
url="$scheme://${HF_AUDIT_ES_HOST:-127.0.0.1}:${HF_AUDIT_ES_PORT:-9200}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

quote() { printf '%s' "$1" | sed 's/[\\"]/\\&/g'; }

# curl options that must not show up in `ps`: written to curl's standard input.
curl_config() {
  if [ -n "${HF_AUDIT_ES_USER:-}" ]; then
    printf 'user = "%s:%s"\n' "$(quote "$HF_AUDIT_ES_USER")" "$(quote "${HF_AUDIT_ES_PASSWORD:-}")"
  elif [ -n "${HF_AUDIT_ES_API_KEY:-}" ]; then
    printf 'header = "Authorization: ApiKey %s"\n' "$(quote "$HF_AUDIT_ES_API_KEY")"
  fi
  case ${HF_AUDIT_ES_TLS_VERIFY:-on} in
    [Oo][Ff][Ff] | [Ff][Aa][Ll][Ss][Ee] | [Nn][Oo] | 0) echo 'insecure' ;;
  esac
  if [ -n "${HF_AUDIT_ES_TLS_CA_FILE:-}" ]; then
    printf 'cacert = "%s"\n' "$(quote "$HF_AUDIT_ES_TLS_CA_FILE")"
  fi
}

# put <api path> <json file>: the file with the index prefix and retention applied.
put() {
  sed -e "s/\"hf-audit-\*\"/\"$prefix-*\"/g" \
      -e "s/\"name\": \"hf-audit\"/\"name\": \"$prefix\"/g" \
      -e "s/\"$generated_delete_after\"/\"$delete_after\"/g" \
      "$2" > "$work/body.json"
  status=$(curl_config | curl --silent --show-error --config - -X PUT \
    -H 'Content-Type: application/json' --data-binary "@$work/body.json" \
    -o "$work/answer.json" -w '%{http_code}' "$url$1") || fail "PUT $1: could not reach $url"
  case $status in
    2??) echo "PUT $1: $status" ;;
    *) echo "PUT $1: HTTP $status" >&2; cat "$work/answer.json" >&2; echo >&2; exit 1 ;;
  esac
}

put "/_ilm/policy/$prefix" "$here/ilm-policy.json"
put "/_index_template/$prefix" "$here/index-template.json"
echo "installed: indices $prefix-* use template $prefix and ILM policy $prefix"
