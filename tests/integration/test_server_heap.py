"""A server process moves its start-up heap out of the collector's reach, so a
full collection under load scans what requests made, not every module and cache."""

import gc

from services.app import build_app
from services.bootstrap import Container


async def test_a_server_process_keeps_its_start_up_heap_out_of_full_collections(
    container: Container,
) -> None:
    app = build_app(container, settle_heap=True)
    already = gc.get_freeze_count()
    try:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count() - already
            oldest = len(gc.get_objects(generation=2))
            assert frozen > 50_000, f"only {frozen} objects were set aside after start-up"
            assert oldest < frozen // 20, (
                f"a full collection still scans {oldest} objects beside {frozen} set aside"
            )
    finally:
        gc.unfreeze()


async def test_an_app_built_for_tests_leaves_the_collector_alone(container: Container) -> None:
    app = build_app(container)
    already = gc.get_freeze_count()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == already
