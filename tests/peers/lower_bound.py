"""The benchmark's lower bound: parse the export body and serialize each event, nothing else.

Run by tests/bench_poll.py as a process of its own, so its wall time, CPU time and peak RSS are
measured like a poll's. It reads the body as the Hub sent it (gzip included: a poller has to
inflate it too), parses the whole array with one call of the chosen JSON library and prints each
event back as one compact JSON line. No validation, no dedupe, no checkpoint, no line bound.
With --url it also downloads the body itself (one GET), to show what the transfer adds.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

BATCH = 4096  # events serialized per write


def read_body(path: str) -> bytes:
    with open(path, "rb") as body:
        data = body.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def download_body(url: str) -> bytes:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {os.environ['HF_TOKEN']}", "Accept-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (loopback URL)
        data = response.read()
        gzipped = response.headers.get("Content-Encoding") == "gzip"
    return gzip.decompress(data) if gzipped else data


def codec(library: str) -> tuple[Callable[[bytes], Any], Callable[[Any], bytes]]:
    if library == "msgspec":
        import msgspec

        return msgspec.json.decode, msgspec.json.Encoder().encode
    import orjson

    return orjson.loads, orjson.dumps


def lines(events: list[Any], dumps: Callable[[Any], bytes]) -> Iterator[bytes]:
    for start in range(0, len(events), BATCH):
        yield b"\n".join(map(dumps, events[start : start + BATCH])) + b"\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--body", help="file holding the export body as the Hub sent it")
    source.add_argument("--url", help="export URL to GET (token from HF_TOKEN)")
    parser.add_argument("--lib", choices=["orjson", "msgspec"], default="orjson")
    args = parser.parse_args()
    loads, dumps = codec(args.lib)
    events = loads(read_body(args.body) if args.body else download_body(args.url))
    out = sys.stdout.buffer
    for chunk in lines(events, dumps):
        out.write(chunk)
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
