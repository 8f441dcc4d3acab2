"""The producer's partitioner remembers key hashes but places every key
where Kafka's default partitioner does (other producers of the same topics,
Dapr's among them, must agree on where one user's events go)."""

import uuid

from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]

from events.kafka import cached_partitioner


def test_every_key_lands_on_the_default_partitioners_partition_every_time() -> None:
    default = DefaultPartitioner()
    keys = [str(uuid.uuid4()).encode() for _ in range(2000)] + [b"", b"u1", "zoë".encode()]
    for partitions in (1, 3, 6, 7):
        everything = list(range(partitions))
        for key in keys:
            expected = default(key, everything, everything)
            assert cached_partitioner(key, everything, everything) == expected
            assert cached_partitioner(key, everything, everything) == expected  # cached


def test_an_event_without_a_key_goes_to_an_available_partition() -> None:
    for _ in range(50):
        assert cached_partitioner(None, [0, 1, 2, 3], [2, 3]) in {2, 3}
        assert cached_partitioner(None, [0, 1, 2], []) in {0, 1, 2}
