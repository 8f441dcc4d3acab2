"""Ports for the servers tests start: one process never gets the same port twice,
even when it picks several before it starts anything on them."""

import pytest

from testsupport import ports


def test_a_port_picked_before_is_never_picked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    picks = iter([21001, 21001, 21001, 21002])
    monkeypatch.setattr(ports.random, "randint", lambda low, high: next(picks))
    monkeypatch.setattr(ports, "_bindable", lambda port: True)  # nothing started on them yet
    monkeypatch.setattr(ports, "_given", set())
    assert [ports.free_port(), ports.free_port()] == [21001, 21002]


def test_many_ports_are_all_different_and_free() -> None:
    picked = [ports.free_port() for _ in range(300)]
    assert len(set(picked)) == len(picked)
    assert all(ports._bindable(port) for port in picked)
