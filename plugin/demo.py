"""`python -m hf_audit.demo`: try the poller with no token and no server to install.

Starts the simulated Hub on loopback, runs the real `hf-audit-poll` twice through `/bin/sh -c` as
Fluent Bit's exec input would (a backfill, then an incremental poll after new and late events
arrive), and shows what came out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from .simhub.events import generate_events
from .simhub.server import SimulatedHub

DEMO_TOKEN = "hf_demo_token_not_a_real_one"


def _poll(env: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
    proc = subprocess.run(["/bin/sh", "-c", "hf-audit-poll"], env=env, capture_output=True, timeout=120, check=False)
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    if proc.returncode != 0:
        sys.exit(f"hf-audit-poll failed with exit code {proc.returncode}: {proc.stderr.decode()}")
    return records, proc.stderr.decode().strip()


def _show(title: str, records: list[dict[str, Any]], summary: str, sample: int = 3) -> None:
    print(f"\n== {title}: {len(records)} records ==")
    print(f"stderr: {summary}")
    for record in records[:sample]:
        print(f"  {record['eventTime']}  {record['eventName']:<45} {record['authorUser']:<10} {record['resources']}")
    if len(records) > sample:
        print(f"  ... {len(records) - sample} more")


def main() -> None:
    bin_dir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="hf-audit-demo-"))
    events = generate_events(500, seed=1, span=timedelta(days=30))
    try:
        with SimulatedHub(org="acme", token=DEMO_TOKEN, events=events, order="newest-first") as hub:
            env = {
                "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                "HOME": str(work),
                "HF_ORG": "acme",
                "HF_TOKEN": DEMO_TOKEN,
                "HF_ENDPOINT": hub.url,
                "HF_AUDIT_STATE_DIR": str(work / "state"),
            }
            print(f"simulated Hub at {hub.url} serving {len(events)} events (newest first), state in {work / 'state'}")
            first, summary = _poll(env)
            _show("poll 1: backfill", first, summary)
            late = hub.generate_late(2, age=timedelta(minutes=30))
            new = hub.generate_newer(5)
            print(
                f"\n(the Hub now has {len(new)} new events, and {len(late)} late arrivals dated 30 minutes "
                "before the newest event of poll 1)"
            )
            second, summary = _poll(env)
            _show("poll 2: incremental", second, summary, sample=len(second))
            third, summary = _poll(env)
            _show("poll 3: nothing new", third, summary)
            print("\nOne record, as Fluent Bit receives it:")
            print(json.dumps(second[-1], indent=2)[:3000])
            emitted = [r["eventID"] for r in first + second + third]
            assert len(emitted) == len(set(emitted)) == len(events) + len(new) + len(late)
            print(f"\n{len(emitted)} events emitted in all, each exactly once.")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
