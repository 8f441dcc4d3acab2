"""A Kafka consumer's membership of its group: how long it has waited to join, and the
warnings while the wait lasts (events/kafka.py, `_Membership`). The clock is the
module's own `time.monotonic`, moved by hand; the real broker's side is in
tests/integration/events/test_kafka_bus.py."""

import logging

import pytest

from events import kafka


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(kafka.time, "monotonic", clock)
    return clock


def check_after(clock: Clock, membership: kafka._Membership, seconds: float) -> None:
    """Move the clock on, then run the group's watch once, as its task does."""
    clock.now += seconds
    membership.check()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_member_waits_from_its_start_until_its_first_assignment(clock: Clock) -> None:
    membership = kafka._Membership("g", patience=60)
    clock.now += 12
    assert membership.waiting() == 12
    membership.on_partitions_revoked(set())  # the first join: nothing to give back
    clock.now += 3
    assert membership.waiting() == 15
    membership.on_partitions_assigned({("t", 0)})
    assert membership.waiting() == 0
    clock.now += 100
    assert membership.waiting() == 0


def test_a_rebalance_counts_from_the_moment_the_partitions_are_given_back(clock: Clock) -> None:
    membership = kafka._Membership("g", patience=60)
    membership.on_partitions_assigned({("t", 0)})
    clock.now += 500
    membership.on_partitions_revoked({("t", 0)})
    clock.now += 7
    assert membership.waiting() == 7
    # an assignment of no partitions (more members than partitions) is membership too
    membership.on_partitions_assigned(set())
    assert membership.waiting() == 0


def test_a_wait_past_the_patience_is_logged_then_again_each_time_it_grows_by_as_much(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="events.kafka")
    membership = kafka._Membership("todo-recurring-task", patience=60)
    check_after(clock, membership, 59)
    assert warnings_of(caplog) == []
    check_after(clock, membership, 1)
    check_after(clock, membership, 30)  # 90 s: already said at 60
    assert len(warnings_of(caplog)) == 1
    assert "consumer group todo-recurring-task: not a member for 60 s" in warnings_of(caplog)[0]
    check_after(clock, membership, 30)
    assert len(warnings_of(caplog)) == 2
    assert "not a member for 120 s" in warnings_of(caplog)[1]
    clock.now += 5
    membership.on_partitions_assigned({("t", 0), ("t", 1)})
    said = warnings_of(caplog)
    assert len(said) == 3
    assert "todo-recurring-task: a member again after 125 s, with 2 partitions" in said[2]


def test_a_join_within_the_patience_is_not_logged(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="events.kafka")
    membership = kafka._Membership("g", patience=60)
    check_after(clock, membership, 30)
    membership.on_partitions_assigned({("t", 0)})
    check_after(clock, membership, 600)
    assert caplog.records == []
