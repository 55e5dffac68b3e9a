"""The lines our code prints for fixed exports of both benchmark workloads, for byte-identity checks.

A hot-path change (parser, validator, normalizer, line bound) must print the same bytes. The
digests in tests/test_output_identity.py were taken with the code as it was before the hot path
was reworked (commit 8af0bfd): `python tests/output_corpus.py` prints them for whatever `hf_audit`
is importable, so the old code can be checked by putting its `plugin/` first on sys.path as
`hf_audit`.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson

from hf_audit.events import MalformedEvent, parse_event
from hf_audit.normalize import RecordContext, normalize
from hf_audit.simhub.events import generate_events, make_event

try:  # the line bound lived in normalize.py before it got its own module
    from hf_audit.line import to_line
except ImportError:  # pragma: no cover - only when run against the old code
    from hf_audit.normalize import to_line  # type: ignore[attr-defined,no-redef]  # the old module's name for the same function

END = datetime(2026, 11, 25, 17, 3, 34, 123000, tzinfo=UTC)
# (workload, data profile, events, line bound): the shipped bound, and a small one that makes
# many rich records go through the cutting path.
CORPORA: tuple[tuple[str, str, int, int], ...] = (
    ("plain", "plain", 3000, 65536),
    ("rich", "rich", 3000, 65536),
    ("rich, 4096-byte lines", "rich", 1500, 4096),
)


def _odd_events() -> list[dict]:
    """Events orjson alone cannot print, or that need the model's coercions."""
    rng = random.Random(5)
    at = iter(END - timedelta(seconds=s) for s in range(1, 50))
    big = make_event("jobs.create", next(at), rng=rng, org="acme", data_profile="rich")
    big["data"]["huge"] = 2**70  # past 64 bits: the stdlib fallback
    surrogate = make_event("repo.create", next(at), rng=rng, org="acme")
    surrogate["message"] = "lone \ud800 surrogate"
    coerced = make_event("org.add_user", next(at), rng=rng, org="acme")
    coerced["ip"] = 12345  # coerced to text by the model
    coerced["createdAt"] = "2026-11-25T18:03:34+01:00"  # converted to UTC milliseconds
    deep: dict = {"end": 1}
    for _ in range(300):
        deep = {"d": [deep]}
    nested = make_event("repo.update_settings", next(at), rng=rng, org="acme")
    nested["data"] = deep
    return [big, surrogate, coerced, nested]


def corpus_lines(profile: str, count: int, max_line_bytes: int) -> Iterator[bytes]:
    ctx = RecordContext(
        org="acme", workspace_id="ws-1", source_id="src-1", source_ttl_days=90,
        received_at=datetime(2026, 11, 25, 17, 5, 0, 250000, tzinfo=UTC),
    )  # fmt: skip
    events = generate_events(count, seed=42, end=END, span=timedelta(days=20), data_profile=profile) + _odd_events()
    for event in events:
        try:
            raw = orjson.loads(orjson.dumps(event, option=orjson.OPT_PASSTHROUGH_DATACLASS))
        except orjson.JSONEncodeError:  # a big integer or a lone surrogate: what the Hub's JSON would hold
            import json

            raw = json.loads(json.dumps(event))
        try:
            parsed = parse_event(raw)
        except MalformedEvent as exc:
            yield f"malformed {exc.event_id} {exc.reason}\n".encode()
            continue
        yield to_line(normalize(parsed, raw, ctx), max_line_bytes)


def corpus_digest(profile: str, count: int, max_line_bytes: int) -> str:
    digest = hashlib.sha256()
    for line in corpus_lines(profile, count, max_line_bytes):
        digest.update(line)
    return digest.hexdigest()


if __name__ == "__main__":
    for name, profile, count, bound in CORPORA:
        print(f"{name!r}: {corpus_digest(profile, count, bound)!r},")
