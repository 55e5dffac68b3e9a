"""The names of every file the poller keeps for one organization, in one place.

Each is `<org>.<kind>` with a kind that holds no dot: `json` (the checkpoint), `lock`, `health` and
`prom` (the metrics). Organization names may hold dots, but the last dot of a file name always
starts the kind, so no organization's file can be another organization's (before, the health file
of `acme`, `acme.health.json`, was the checkpoint of `acme.health`). Temp files of an atomic write
are `.<file name>.<8 characters>.tmp`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CHECKPOINT_KIND = "json"
LOCK_KIND = "lock"
HEALTH_KIND = "health"
METRICS_KIND = "prom"
_WRITTEN_KINDS = (CHECKPOINT_KIND, HEALTH_KIND, METRICS_KIND)  # those written by atomic_write
LEGACY_HEALTH_SUFFIX = ".health.json"  # up to 0.x: read once, then moved to `<org>.health`


@dataclass(frozen=True)
class OrgFiles:
    state_dir: Path
    org: str

    def _named(self, kind: str) -> Path:
        return self.state_dir / f"{self.org}.{kind}"

    @property
    def checkpoint(self) -> Path:
        return self._named(CHECKPOINT_KIND)

    @property
    def lock(self) -> Path:
        return self._named(LOCK_KIND)

    @property
    def health(self) -> Path:
        return self._named(HEALTH_KIND)

    @property
    def metrics(self) -> Path:
        return self._named(METRICS_KIND)

    @property
    def legacy_health(self) -> Path:
        """Where older versions kept the health file; it may also be the checkpoint of the
        organization `<org>.health`, so its content decides whose it is."""
        return self.state_dir / f"{self.org}{LEGACY_HEALTH_SUFFIX}"

    def stale_temp_file(self) -> re.Pattern[str]:
        """Names of this organization's temp files left by a write that was killed."""
        names = "|".join(re.escape(f"{self.org}.{kind}") for kind in _WRITTEN_KINDS)
        return re.compile(rf"\.(?:{names})\.[A-Za-z0-9_]{{8}}\.tmp")
