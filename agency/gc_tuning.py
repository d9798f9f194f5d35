"""Garbage collection for a long-running server process.

CPython's cycle collector runs whenever 700 more container objects have been allocated
than freed, and every so often walks the whole heap (its oldest generation). A server
allocates and frees container objects by the thousand per second (requests, rows,
models), and most of its heap is what it built at start and keeps: modules, the app,
SQLAlchemy's and pydantic's caches. Measured in the API under load (bench.api,
PostgreSQL, 50 clients): full collections every second or two, each stopping the
process for about 160 ms, which set the p95 and p99 of every endpoint (190 and 215 ms
for one task), and 4,600 young collections in a minute.

So, once the process has built what it keeps: `gc.freeze()` moves every object alive
then out of the collector's sight (they are never collected, which they would not be
anyway), and the young generation is collected every 50,000 net allocations instead of
700. Requests free what they allocate by reference counting, which is unaffected;
only garbage cycles wait longer, a few megabytes at most.
"""

from __future__ import annotations

import gc

# (young, middle, old): collect the young generation every YOUNG net allocations, the
# middle one every MIDDLE young collections, the old one every OLD middle ones (and
# then only when it has grown by a quarter, CPython's own rule).
THRESHOLDS = (50_000, 20, 100)


def freeze_startup_heap() -> None:
    """Call once the process has built what it keeps, before it starts serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
