"""How a server process sets up Python's garbage collector once it has started."""

import gc

# Net new container objects between two young-generation collections in a
# server process (CPython's default is 700).
YOUNG_COLLECTION_THRESHOLD = 10_000


def settle() -> None:
    """Collect what start-up left behind, then move everything still alive (the
    modules, the app, the container, caches) out of the collector's reach for
    good. A full collection, every few hundred requests under load, then scans
    only what requests made since: it took up to 140 ms over the whole heap,
    a pause every request in flight waited through.

    Then the young generation is collected less often. Under load most of what
    a request allocates is freed by reference counting when it ends; at
    CPython's default a young collection ran several times per request and
    scanned the objects of every request in flight, about 7 % of the process's
    CPU. At `YOUNG_COLLECTION_THRESHOLD` it runs every few hundred requests."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
