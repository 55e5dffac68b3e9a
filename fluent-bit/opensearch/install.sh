#!/bin/sh
# Install the hf-audit ISM policy and composable index template into OpenSearch 2.15+.
#
# Reads the same environment variables as fluent-bit/outputs/opensearch.yaml:
#   HF_AUDIT_OPENSEARCH_HOST (127.0.0.1)  HF_AUDIT_OPENSEARCH_PORT (9200)
#   HF_AUDIT_OPENSEARCH_TLS (off)  HF_AUDIT_OPENSEARCH_TLS_VERIFY (on)  HF_AUDIT_OPENSEARCH_TLS_CA_FILE
#   HF_AUDIT_OPENSEARCH_INDEX_PREFIX (hf-audit)  HF_AUDIT_OPENSEARCH_USER + HF_AUDIT_OPENSEARCH_PASSWORD
# and HF_AUDIT_OPENSEARCH_DELETE_AFTER (396d): the age at which a monthly index is deleted;
# HF_AUDIT_OPENSEARCH_ISM (on): set to off on a cluster without the Index Management plugin.
# Credentials reach curl on its standard input, never on its command line.
# Safe to run again: an existing policy is updated in place (indices already attached keep the
# version they started with), the template is replaced (existing indices keep their mapping).
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
prefix=${HF_AUDIT_OPENSEARCH_INDEX_PREFIX:-hf-audit}
delete_after=${HF_AUDIT_OPENSEARCH_DELETE_AFTER:-396d}
generated_delete_after=396d  # the value in ism-policy.json (fluent-bit/search/build_templates.py)

fail() { echo "install.sh: $*" >&2; exit 1; }

case $prefix in
  '' | [._-]* | *[!a-z0-9._-]*) fail "HF_AUDIT_OPENSEARCH_INDEX_PREFIX must be lowercase letters, digits, '.', '_' or '-'" ;;
esac
case $delete_after in
  '' | *[!0-9a-z]*) fail "HF_AUDIT_OPENSEARCH_DELETE_AFTER must be a duration such as 396d" ;;
esac
case ${HF_AUDIT_OPENSEARCH_TLS:-off} in
  [Oo][Nn] | [Tt][Rr][Uu][Ee] | [Yy][Ee][Ss] | 1) scheme=https ;;
  *) scheme=http ;;
esac
url="$scheme://${HF_AUDIT_OPENSEARCH_HOST:-127.0.0.1}:${HF_AUDIT_OPENSEARCH_PORT:-9200}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

quote() { printf '%s' "$1" | sed 's/[\\"]/\\&/g'; }

# curl options that must not show up in `ps`: written to curl's standard input.
curl_config() {
  if [ -n "${HF_AUDIT_OPENSEARCH_USER:-}" ]; then
    printf 'user = "%s:%s"\n' "$(quote "$HF_AUDIT_OPENSEARCH_USER")" "$(quote "${HF_AUDIT_OPENSEARCH_PASSWORD:-}")"
  fi
  case ${HF_AUDIT_OPENSEARCH_TLS_VERIFY:-on} in
    [Oo][Ff][Ff] | [Ff][Aa][Ll][Ss][Ee] | [Nn][Oo] | 0) echo 'insecure' ;;
  esac
  if [ -n "${HF_AUDIT_OPENSEARCH_TLS_CA_FILE:-}" ]; then
    printf 'cacert = "%s"\n' "$(quote "$HF_AUDIT_OPENSEARCH_TLS_CA_FILE")"
  fi
}

# request <method> <api path> [json file]: prints the HTTP status, the answer goes to answer.json.
request() {
  if [ $# -ge 3 ]; then
    set -- "$1" "$2" -H 'Content-Type: application/json' --data-binary "@$3"
  fi
  method=$1 path=$2
  shift 2
  curl_config | curl --silent --show-error --config - -X "$method" "$@" \
    -o "$work/answer.json" -w '%{http_code}' "$url$path" || fail "$method $path: could not reach $url"
}

# prepare <json file>: the file with the index prefix and retention applied, as body.json.
prepare() {
  sed -e "s/\"hf-audit-\*\"/\"$prefix-*\"/g" \
      -e "s/\"$generated_delete_after\"/\"$delete_after\"/g" \
      "$1" > "$work/body.json"
}

# first_number <key>: the number after the first "<key>": in answer.json.
first_number() {
  grep -o "\"$1\"[[:space:]]*:[[:space:]]*[0-9][0-9]*" "$work/answer.json" | head -n 1 | sed 's/.*:[[:space:]]*//'
}

check() {  # check <what> <status>
  case $2 in
    2??) echo "$1: $2" ;;
    *) echo "$1: HTTP $2" >&2; cat "$work/answer.json" >&2; echo >&2; exit 1 ;;
  esac
}

case ${HF_AUDIT_OPENSEARCH_ISM:-on} in
  [Oo][Ff][Ff] | [Ff][Aa][Ll][Ss][Ee] | [Nn][Oo] | 0)
    echo "ISM policy skipped (HF_AUDIT_OPENSEARCH_ISM=off): indices are kept until you delete them" ;;
  *)
    policy="/_plugins/_ism/policies/$prefix"
    prepare "$here/ism-policy.json"
    status=$(request GET "$policy")
    case $status in
      200)  # an update must name the version it replaces
        seq_no=$(first_number _seq_no)
        term=$(first_number _primary_term)
        [ -n "$seq_no" ] && [ -n "$term" ] || fail "GET $policy: no _seq_no/_primary_term in the answer"
        status=$(request PUT "$policy?if_seq_no=$seq_no&if_primary_term=$term" "$work/body.json")
        check "PUT $policy" "$status" ;;
      404)
        status=$(request PUT "$policy" "$work/body.json")
        check "PUT $policy" "$status" ;;
      400)
        echo "hint: no Index Management (ISM) plugin? Set HF_AUDIT_OPENSEARCH_ISM=off to skip the policy" >&2
        check "GET $policy" "$status" ;;
      *)
        check "GET $policy" "$status" ;;
    esac ;;
esac

prepare "$here/index-template.json"
status=$(request PUT "/_index_template/$prefix" "$work/body.json")
check "PUT /_index_template/$prefix" "$status"
echo "installed: indices $prefix-* use template $prefix"
