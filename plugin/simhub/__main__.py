"""Run the simulated hub as a process: `python -m hf_audit.simhub --port 8080 --events 500`."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import get_args

from .events import DataProfile, generate_events
from .server import Order, Plan, SimulatedFleet, SimulatedHub


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hf_audit.simhub",
        description="Serve a simulated Hugging Face organization audit-log export.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind, 0 for any (default: %(default)s)")
    parser.add_argument(
        "--org", action="append", dest="orgs", metavar="ORG",
        help="organization name (default: acme); repeat it to serve several organizations behind one endpoint",
    )
    parser.add_argument("--token", default="hf_simulated_token", help="accepted bearer token")
    parser.add_argument("--events", type=int, default=500, help="events generated at start (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the generated events")
    parser.add_argument("--order", choices=get_args(Order), default="newest-first", help="order of the export")
    parser.add_argument("--limit", type=int, default=100_000, help="newest events the export holds")
    parser.add_argument("--plan", choices=get_args(Plan), default="enterprise", help="the organization's plan")
    parser.add_argument(
        "--data", choices=get_args(DataProfile), default="plain", dest="data_profile",
        help="shape of the events' data: plain, or rich (nested, 10 to 40 leaves) (default: %(default)s)",
    )
    parser.add_argument("--no-gzip", action="store_true", help="never gzip the export")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    orgs = args.orgs or ["acme"]
    hubs = [
        SimulatedHub(
            org=org, token=args.token, events=generate_events(args.events, seed=args.seed + i, org=org, data_profile=args.data_profile),
            order=args.order, limit=args.limit, plan=args.plan, gzip=not args.no_gzip, host=args.host, port=args.port,
            seed=args.seed + i, data_profile=args.data_profile,
        )
        for i, org in enumerate(orgs)
    ]
    hub: SimulatedHub | SimulatedFleet = hubs[0] if len(hubs) == 1 else SimulatedFleet(hubs, host=args.host, port=args.port)
    done = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    url = hub.start()
    print(f"simulated hub listening on {url} (org {', '.join(orgs)})", flush=True)
    try:
        while not done.wait(0.5):  # short waits keep the main thread responsive to signals
            pass
    finally:
        hub.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
