"""Read an iterator ahead in a helper thread.

The export body is read from the socket and gunzipped in a helper thread, while the main thread
parses what came before: zlib and socket reads release the GIL, so on a machine with two cores a
backfill no longer waits for the download and the inflating (about 5% of its time).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar, cast

T = TypeVar("T")
_PUT_PATIENCE = 0.1  # seconds between looks at the stop flag while the queue is full


@dataclass
class _Failure:
    error: BaseException


_END = object()


def read_ahead(source: Iterator[T], depth: int) -> Iterator[T]:
    """`source`'s items in order, taken up to `depth` items ahead by a helper thread. An exception
    from `source` is raised here, after the items before it. Closing this iterator stops the
    thread at its next item (the owner of `source` closes it, which ends a blocked read)."""
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=_PUT_PATIENCE)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not offer(item):
                    return
        except BaseException as error:  # handed to the consumer, who decides
            offer(_Failure(error))
        else:
            offer(_END)

    threading.Thread(target=produce, name="hf-audit-read-ahead", daemon=True).start()
    try:
        while True:
            item = items.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield cast(T, item)  # only _END and _Failure are not items of `source`
    finally:
        stop.set()
