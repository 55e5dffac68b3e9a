# The `curl | jq` peer of hf-audit-poll, for the benchmark (tests/bench_poll.py):
#   curl -s --compressed -H "Authorization: Bearer $HF_TOKEN" URL | jq -c -f hf_audit.jq
# Input: the whole export (one JSON array). Output: one record per event with the same 51 keys
# as hf-audit-poll's, and the same kinds of values for the main columns.
# What it does NOT do, unlike hf-audit-poll: no dedupe across runs (no checkpoint: every run
# prints the whole export again), no dedupe within an export, no ordering guarantee (lines come
# in the export's order), no line bound (a 200 KB message makes a 200 KB line), no malformed-event
# handling (one bad event or a cut-off body fails the whole run), `id` is not a UUID (jq has no
# hash function), integers beyond 2^53 lose precision, and the whole body is held in memory.

def orempty: if . == null then "" else tostring end;

# RFC 3339 in any offset -> UTC with milliseconds and a Z. The Hub's usual form passes as is.
def utc_ms:
  if test("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$") then .
  else
    capture("^(?<base>\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d)(?<frac>\\.\\d+)?(?<tz>Z|[+-]\\d\\d:?\\d\\d)?$")
    | ((.frac // ".000") + "000")[1:4] as $ms
    | (if (.tz // "Z") == "Z" then 0
       else (.tz | sub(":"; "")) as $z
         | ($z[0:1] | if . == "-" then -1 else 1 end) * (($z[1:3] | tonumber) * 3600 + ($z[3:5] | tonumber) * 60)
       end) as $offset
    | ((.base + "Z" | fromdateiso8601) - $offset | todateiso8601 | rtrimstr("Z")) + "." + $ms + "Z"
  end;

# data's scalar leaves as "data.a.b" -> text; lists of scalars become one comma-separated value.
def flat($key):
  if type == "object" then to_entries[] | .key as $k | .value | flat("\($key).\($k)")
  elif type == "array" and all(.[]; type != "object" and type != "array") then
    {key: $key, value: (map(orempty) | join(","))}
  elif type == "array" then to_entries[] | .key as $k | .value | flat("\($key).\($k)")
  else {key: $key, value: orempty}
  end;

def data_tags: if . == null then {} else [flat("data")] | from_entries end;

def repo_resource:
  if type == "string" then "model:" + .
  elif type == "object" and (.name // .id) != null then "\(.type // "model"):\(.name // .id)"
  else empty end;

def named($kind; $fields):
  if type == "string" then "\($kind):\(.)"
  elif type == "object" then [.[$fields[]] | strings] | first // empty | "\($kind):\(.)"
  else empty end;

def resources($scope):
  if type != "object" then []
  else
    [(.repo, .repoId | select(. != null) | repo_resource)] as $repos
    | [$repos[],
     (if $scope == "repo" and (.from | type) == "string" and (.to | type) == "string"
      then ($repos[0] // "model:" | split(":")[0]) as $kind | "\($kind):\(.from)", "\($kind):\(.to)"
      else empty end),
     (.collection | select(. != null) | named("collection"; ["slug", "id"])),
     (.resourceGroup | select(. != null) | named("resource_group"; ["id", "name"])),
     (.job | select(. != null) | named("job"; ["id"])),
     (.scheduledJob | select(. != null) | named("scheduled_job"; ["id"])),
     (.serviceAccount | select(. != null) | named("service_account"; ["id", "name"])),
     (.user | select(. != null) | named("user"; ["user", "name"])),
     (.users | arrays | .[] | named("user"; ["user", "name"]))]
    | unique
  end;

(now | todateiso8601 | rtrimstr("Z") + ".000Z") as $received
| .[]
| . as $raw
| (.type | split(".")) as $type
| (.author // {}) as $author
| (.location // {}) as $location
| (.token // {}) as $token
| {
    workspaceID: "default",
    sourceID: "huggingface-acme",
    sourceType: "huggingface",
    sourceTTL: 365,
    receivedAt: $received,
    id: "huggingface:acme:\(._id)",
    eventTime: (.createdAt | utc_ms),
    eventName: .type,
    eventID: ._id,
    srcIP: (.ip | orempty),
    srcASCountryCode: "",
    srcASNumber: 0,
    srcASOrganization: "",
    srcCity: ($location.city | orempty),
    srcConnectionType: "",
    srcISP: "",
    srcLatitude: 0.0,
    srcLongitude: 0.0,
    srcUserType: "",
    dstIP: "",
    dstASCountryCode: "",
    dstASNumber: 0,
    dstASOrganization: "",
    dstCity: "",
    dstConnectionType: "",
    dstISP: "",
    dstLatitude: 0.0,
    dstLongitude: 0.0,
    dstUserType: "",
    actor: ({id: ($author._id | orempty), user: ($author.user | orempty), type: ($author.type | orempty)}
            + (if $author.avatarUrl then {avatarUrl: $author.avatarUrl} else {} end)
            + (if $author.deleted != null then {deleted: ($author.deleted | tostring)} else {} end)),
    tags: ({scope: $type[0], action: ($type[1:] | join(".")), org: "acme"}
           + (if .userAgent then {userAgent: .userAgent} else {} end)
           + (if .oauth then {"oauth.clientId": (.oauth.clientId | orempty)} else {} end)
           + (if .oauth.name then {"oauth.name": .oauth.name} else {} end)
           + (.data | data_tags)),
    resources: (.data | resources($type[0])),
    serviceName: "huggingface-hub",
    enrichments: [],
    readOnly: (.type == "org.audit_log.export" or .type == "org.sso_login"),
    rawLog: ($raw | tojson),
    auditID: ._id,
    eventType: .type,
    message: (.message | orempty),
    authorID: ($author._id | orempty),
    authorUser: ($author.user | orempty),
    authorType: ($author.type | orempty),
    actorIP: (.ip | orempty),
    locationFormatted: ($location.formatted | orempty),
    locationCountry: ($location.country | orempty),
    locationCity: ($location.city | orempty),
    tokenType: ($token.type | orempty),
    tokenID: ($token.id | orempty),
    tokenRole: ($token.role | orempty),
    tokenLast4: ($token.last4 | orempty),
    tokenDeleted: ($token.deleted == true)
  }
