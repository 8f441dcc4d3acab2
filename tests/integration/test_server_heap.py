"""A server process moves its start-up heap out of the collector's reach, so a
full collection under load scans what requests made, not every module and cache,
and collects its young objects every few hundred requests, not several times in each."""

import gc

from services.app import build_app
from services.bootstrap import Container
from services.shared.heap import YOUNG_COLLECTION_THRESHOLD


async def test_a_server_process_keeps_its_start_up_heap_out_of_full_collections(
    container: Container,
) -> None:
    app = build_app(container, settle_heap=True)
    already = gc.get_freeze_count()
    threshold = gc.get_threshold()
    try:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count() - already
            oldest = len(gc.get_objects(generation=2))
            assert frozen > 50_000, f"only {frozen} objects were set aside after start-up"
            assert oldest < frozen // 20, (
                f"a full collection still scans {oldest} objects beside {frozen} set aside"
            )
            young, *older = gc.get_threshold()
            assert young == YOUNG_COLLECTION_THRESHOLD > threshold[0], gc.get_threshold()
            assert older == list(threshold[1:]), "only the young generation's threshold changes"
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


async def test_an_app_built_for_tests_leaves_the_collector_alone(container: Container) -> None:
    app = build_app(container)
    already = gc.get_freeze_count()
    threshold = gc.get_threshold()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == already
        assert gc.get_threshold() == threshold
