"""The fault campaign's invariant checker: each invariant broken on purpose
is reported, and a clean run reports nothing."""

from dataclasses import replace

import pytest

from bench.faults.checker import (
    Ack,
    AuditRow,
    Delivery,
    FaultWindow,
    Observations,
    Reminder,
    Response,
    SeriesTask,
    WsMessage,
    WsSession,
    check_all,
    check_audit,
    check_dlq,
    check_no_5xx,
    check_recurring,
    check_reminders,
    check_websockets,
)
from bench.faults.faults import Fault, Outcome
from bench.faults.load import Sample
from bench.faults.report import outside_faults


def clean() -> Observations:
    """A small run in which everything held: one user, a plain task created
    and updated, a recurring task completed once, a reminder delivered on
    every channel, a replica killed while a 503 came out of it, one poisoned
    event in the DLQ."""
    acks = [
        Ack("u1", "t1", "task.created", 1, 10.0),
        Ack("u1", "t1", "task.updated", 2, 11.0),
        Ack("u1", "r1", "task.created", 1, 12.0, series_id="s1", recurring=True),
        Ack("u1", "r1", "task.completed", 2, 13.0, series_id="s1", recurring=True),
        Ack("u1", "m1", "task.created", 1, 14.0),
    ]
    audit = [
        AuditRow("e1", "task.created", "t1"),
        AuditRow("e2", "task.updated", "t1"),
        AuditRow("e3", "task.created", "r1"),
        AuditRow("e4", "task.completed", "r1"),
        AuditRow("e5", "task.occurrence.generated", "r1"),
        AuditRow("e6", "task.created", "r2"),  # the next occurrence, made by the system
        AuditRow("e7", "task.created", "m1"),
        AuditRow("e8", "reminder.triggered", "m1"),
    ]
    return Observations(
        acks=acks,
        audit=audit,
        series=[
            SeriesTask("r1", "s1", "2030-01-01T09:00:00+00:00"),
            SeriesTask("r2", "s1", "2030-01-02T09:00:00+00:00"),
        ],
        reminders=[Reminder("u1", "m1", 40.0)],
        deliveries=[Delivery("in_app", "m1"), Delivery("email", "m1"), Delivery("webhook", "m1")],
        sessions=[WsSession("w1", "u1", 0.0, None)],
        ws_messages=[
            WsMessage("w1", "task.created", "t1", 1, 10.1),
            WsMessage("w1", "task.updated", "t1", 2, 11.1),
            WsMessage("w1", "task.created", "r1", 1, 12.1),
            WsMessage("w1", "task.completed", "r1", 2, 13.1),
            WsMessage("w1", "task.created", "r2", 1, 13.5),
            WsMessage("w1", "task.created", "m1", 1, 14.1),
        ],
        responses=[
            Response(10.0, "api-1", 201, "POST /api/tasks"),
            Response(20.5, "api-2", 503, "GET /api/tasks"),
            Response(30.0, "api-2", 200, "GET /api/tasks"),
        ],
        faults=[
            FaultWindow("kill api-2", 20.0, 25.0, frozenset({"api-2"})),
            FaultWindow("kill broker", 26.0, 29.0),
        ],
        dlq=[("poison-1", "audit"), ("poison-1", "recurring-task")],
        poisoned=["poison-1"],
    )


def test_a_clean_run_reports_zero_violations() -> None:
    report = check_all(clean())
    assert report
    assert all(v == [] for v in report.values()), report


def test_an_acknowledged_change_whose_outbox_row_vanished_is_missing_from_the_audit() -> None:
    obs = clean()
    audit = [row for row in obs.audit if row.event_id != "e2"]
    assert check_audit(obs.acks, audit) == ["task t1 task.updated: 1 acknowledged, 0 audited"]


def test_a_redelivered_event_handled_twice_is_reported() -> None:
    obs = clean()
    # The consumer skipped its processed-events record and stored the event again.
    problems = check_audit(obs.acks, [*obs.audit, AuditRow("e1", "task.created", "t1")])
    assert "event e1 recorded 2 times in the audit trail" in problems
    assert "task t1 task.created: 1 acknowledged, 2 audited" in problems


def test_an_audited_change_never_acknowledged_is_reported() -> None:
    obs = clean()
    problems = check_audit(obs.acks, [*obs.audit, AuditRow("e9", "task.deleted", "t1")])
    assert problems == ["task t1 task.deleted: 0 acknowledged, 1 audited"]


def test_a_duplicated_next_occurrence_is_reported() -> None:
    obs = clean()
    twin = SeriesTask("r3", "s1", "2030-01-02T09:00:00+00:00")
    problems = check_recurring(obs.acks, [*obs.series, twin])
    assert problems == [
        "series s1: 1 completed, 3 occurrences (want 2)",
        "series s1: 2 occurrences due 2030-01-02T09:00:00+00:00",
    ]


def test_a_missing_next_occurrence_is_reported() -> None:
    obs = clean()
    assert check_recurring(obs.acks, obs.series[:1]) == [
        "series s1: 1 completed, 1 occurrences (want 2)"
    ]


def test_a_reminder_fired_twice_is_reported() -> None:
    obs = clean()
    audit = [*obs.audit, AuditRow("e10", "reminder.triggered", "m1")]
    assert check_reminders(obs.reminders, audit, obs.deliveries) == [
        "reminder of task m1 fired 2 times"
    ]


def test_a_reminder_that_never_fired_or_missed_a_channel_is_reported() -> None:
    obs = clean()
    audit = [row for row in obs.audit if row.event_type != "reminder.triggered"]
    deliveries = [obs.deliveries[0], obs.deliveries[1], obs.deliveries[1]]
    assert check_reminders(obs.reminders, audit, deliveries) == [
        "reminder of task m1 fired 0 times",
        "reminder of task m1: 2 deliveries by email",
        "reminder of task m1: 0 deliveries by webhook",
    ]


def test_a_websocket_stream_with_a_gap_is_reported() -> None:
    obs = clean()
    messages = [m for m in obs.ws_messages if not (m.task_id == "t1" and m.version == 2)]
    assert check_websockets(obs.acks, obs.sessions, messages) == [
        "listener w1 missed task.updated of task t1 v2"
    ]


def test_a_websocket_stream_out_of_order_or_repeated_is_reported() -> None:
    obs = clean()
    swapped = [
        replace(m, at=11.2) if (m.task_id, m.version) == ("t1", 1) else m for m in obs.ws_messages
    ]
    assert check_websockets(obs.acks, obs.sessions, swapped) == [
        "listener w1 got task t1 v1 out of order (after v2)"
    ]
    repeated = [*obs.ws_messages, WsMessage("w1", "task.updated", "t1", 2, 11.5)]
    assert check_websockets(obs.acks, obs.sessions, repeated) == [
        "listener w1 got task t1 v2 twice (after v2)"
    ]


def test_changes_made_while_a_listener_was_away_are_not_required() -> None:
    obs = clean()
    sessions = [WsSession("w1", "u1", 0.0, 10.5), WsSession("w2", "u1", 12.0, None)]
    messages = [*obs.ws_messages[:1], *[replace(m, listener="w2") for m in obs.ws_messages[2:]]]
    # w2 settles one second after connecting: the change at 12.0 is not owed to it.
    messages = [
        m for m in messages if not (m.listener == "w2" and m.task_id == "r1" and m.version == 1)
    ]
    assert check_websockets(obs.acks, sessions, messages) == []


def test_a_change_made_before_a_drop_may_arrive_on_the_next_connection() -> None:
    obs = clean()
    # The connection dropped at 11.15 before t1 v2 (acknowledged at 11.0)
    # arrived; the listener resumed at 11.5 and got it then.
    sessions = [WsSession("w1", "u1", 0.0, 11.15), WsSession("w1", "u1", 11.5, None)]
    late = [
        replace(m, at=11.6) if m.version == 2 and m.task_id == "t1" else m for m in obs.ws_messages
    ]
    assert check_websockets(obs.acks, sessions, late) == []
    # Never received on any connection: missed.
    lost = [m for m in late if not (m.task_id == "t1" and m.version == 2)]
    assert check_websockets(obs.acks, sessions, lost) == [
        "listener w1 missed task.updated of task t1 v2"
    ]
    # Replayed after the resume although the first connection had it: twice.
    twice = [*obs.ws_messages, WsMessage("w1", "task.updated", "t1", 2, 11.6)]
    assert check_websockets(obs.acks, sessions, twice) == [
        "listener w1 got task t1 v2 twice (after v2)"
    ]


def test_a_resend_with_the_same_idempotency_key_is_one_delivery() -> None:
    obs = clean()
    # The notification service died after the webhook went out and before
    # it recorded it; the redelivered event sent it again with the same key.
    resent = [
        Delivery("in_app", "m1"),
        Delivery("email", "m1", "<reminder.e8@example.com>"),
        Delivery("email", "m1", "<reminder.e8@example.com>"),
        Delivery("webhook", "m1", "e8"),
        Delivery("webhook", "m1", "e8"),
    ]
    audit = obs.audit
    assert check_reminders(obs.reminders, audit, resent) == []
    # Two different keys are two deliveries; copies without a key all count.
    assert check_reminders(
        obs.reminders,
        audit,
        [*resent, Delivery("webhook", "m1", "e9"), Delivery("in_app", "m1")],
    ) == [
        "reminder of task m1: 2 deliveries by in_app",
        "reminder of task m1: 2 deliveries by webhook",
    ]


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            Response(40.0, "api-1", 500, "POST /api/tasks"),
            ["500 from api-1 on POST /api/tasks at t=40.0s"],
        ),
        # api-2 was back at 25.0: a 5xx afterwards is not excused.
        (
            Response(25.5, "api-2", 502, "GET /api/tasks"),
            ["502 from api-2 on GET /api/tasks at t=25.5s"],
        ),
        # A replica fault excuses only that replica.
        (
            Response(21.0, "api-1", 503, "GET /api/tasks"),
            ["503 from api-1 on GET /api/tasks at t=21.0s"],
        ),
        # A broker outage must be hidden by the outbox: no 5xx at all.
        (
            Response(27.0, "api-1", 503, "POST /api/tasks"),
            ["503 from api-1 on POST /api/tasks at t=27.0s"],
        ),
        (Response(40.0, "api-1", 404, "GET /api/tasks/x"), []),
    ],
)
def test_a_5xx_outside_its_fault_window_is_reported(
    response: Response, expected: list[str]
) -> None:
    obs = clean()
    assert check_no_5xx([*obs.responses, response], obs.faults) == expected


def test_a_database_restart_excuses_every_replica() -> None:
    window = FaultWindow("restart postgres", 50.0, 60.0, frozenset({"*"}))
    assert check_no_5xx([Response(55.0, "api-1", 500, "GET /api/tasks")], [window]) == []


def test_an_unexpected_dlq_entry_is_reported() -> None:
    assert check_dlq([("poison-1", "audit"), ("e4", "audit")], ["poison-1"]) == [
        "unexpected event e4 in the DLQ (from audit)"
    ]


def test_a_poisoned_event_must_be_accounted_for_once() -> None:
    entries = [("poison-1", "audit"), ("poison-1", "audit"), ("poison-1", "recurring-task")]
    assert check_dlq(entries, ["poison-1", "poison-2"]) == [
        "event poison-1 in the DLQ 2 times from audit",
        "poisoned event poison-2 never reached the DLQ",
    ]


def test_check_all_names_the_broken_invariant_only() -> None:
    obs = clean()
    obs.dlq.append(("stray", "audit"))
    report = check_all(obs)
    assert [name for name, problems in report.items() if problems] == [
        "DLQ holds only the poisoned events"
    ]


def test_an_update_that_changed_nothing_owes_no_event() -> None:
    obs = clean()
    # The same version acknowledged twice: the second PATCH changed nothing.
    acks = [*obs.acks, Ack("u1", "t1", "task.updated", 2, 11.5)]
    assert check_audit(acks, obs.audit) == []


def test_the_latency_outside_faults_leaves_out_what_overlapped_a_fault() -> None:
    fault = Fault("broker", at=0.1, hold=5.0)
    outcomes = [Outcome(fault, start=10.0, undone=15.0, ready=20.0, recovered=30.0)]
    before = Sample(at=1.0, op="create", latency=0.2, ok=True)
    into = Sample(at=9.5, op="create", latency=1.0, ok=True)  # ends inside the window
    during = Sample(at=12.0, op="search", latency=0.1, ok=True)
    across = Sample(at=19.0, op="chat", latency=2.0, ok=True)
    after = Sample(at=21.0, op="update", latency=0.3, ok=True)
    kept = outside_faults([before, into, during, across, after], outcomes)
    assert kept == [before, after]
