"""Hypothesis strategies for Hub events that follow the export's JSON schema."""

from datetime import UTC, datetime

from hypothesis import strategies as st

hex24 = st.text(alphabet="0123456789abcdef", min_size=24, max_size=24)
created_at = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
event_type = st.sampled_from(["repo.create", "org.add_user", "org.settings.sso.enable", "oauth.token"]) | st.from_regex(
    r"\A[a-z_]{1,12}(\.[a-zA-Z0-9_]{1,12}){1,4}\Z"
)
json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
json_data = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)
author = st.fixed_dictionaries(
    {"_id": hex24, "user": st.text(max_size=30), "avatarUrl": st.text(max_size=60), "type": st.sampled_from(["user", "system"])},
    optional={"deleted": st.booleans()},
)
location = st.fixed_dictionaries({"formatted": st.text(max_size=40)}, optional={"country": st.text(max_size=20), "city": st.text(max_size=20)})
token = st.fixed_dictionaries(
    {"type": st.just("access_token"), "id": st.text(max_size=30), "deleted": st.booleans()},
    optional={"role": st.sampled_from(["read", "write", "fineGrained"]), "last4": st.text(max_size=4)},
)
oauth = st.fixed_dictionaries({"clientId": st.text(max_size=30)}, optional={"name": st.text(max_size=30)})

hub_events = st.fixed_dictionaries(
    {"_id": hex24, "createdAt": created_at, "type": event_type, "message": st.text(max_size=200), "author": author},
    optional={
        "data": json_data,
        "ip": st.ip_addresses().map(str) | st.just(""),
        "location": location,
        "userAgent": st.text(max_size=80),
        "token": token,
        "oauth": oauth,
    },
)
