"""What the export client does with each HTTP status: treat it as success, retry it, or fail with
an error (its exit code) and the message the operator sees. One table, read by client.py.

Retries are urllib3's (client.HubRetry), up to HF_AUDIT_MAX_RETRIES and within the poll deadline;
a retried status that persists fails with its message. A status not in the table fails as a
server error (5xx) or as an unexpected answer (anything else).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import AuthError, DataError, HfAuditError, NetworkError, NotFoundError

Action = Literal["success", "retry", "fail"]


@dataclass(frozen=True)
class StatusRule:
    action: Action
    error: type[HfAuditError] | None = None  # raised when this is the final answer; its exit_code is the poll's
    message: str = ""  # formatted with {status} and {org}

    def failure(self, status: int, org: str) -> str:
        return self.message.format(status=status, org=org)


_NO_ACCESS = StatusRule(
    "fail", AuthError,
    "HTTP {status} from the audit-log export: the token must belong to an admin of organization {org!r}, "
    "and the organization must be on a Team or Enterprise plan",
)  # fmt: skip
_UNAVAILABLE = StatusRule("retry", NetworkError, "HTTP {status}: the Hub is unavailable; retries ran out")

STATUS_POLICY: dict[int, StatusRule] = {
    200: StatusRule("success"),
    401: _NO_ACCESS,
    403: _NO_ACCESS,
    404: StatusRule("fail", NotFoundError, "HTTP 404: organization {org!r} was not found on the Hub"),
    408: _UNAVAILABLE,
    429: StatusRule("retry", NetworkError, "HTTP 429: the Hub is rate-limiting this token; retries ran out"),
    500: _UNAVAILABLE,
    502: _UNAVAILABLE,
    503: _UNAVAILABLE,
    504: _UNAVAILABLE,
}
# Statuses the table does not name.
OTHER_SERVER_ERROR = StatusRule("fail", NetworkError, "HTTP {status}: the Hub is unavailable; retries ran out")
OTHER_STATUS = StatusRule("fail", DataError, "unexpected HTTP {status} from the audit-log export")

RETRY_STATUSES = frozenset(status for status, rule in STATUS_POLICY.items() if rule.action == "retry")


def rule_for(status: int) -> StatusRule:
    """What to do with an answer of this status."""
    if status in STATUS_POLICY:
        return STATUS_POLICY[status]
    return OTHER_SERVER_ERROR if status >= 500 else OTHER_STATUS
