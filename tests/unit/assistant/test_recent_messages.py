"""What a process keeps of the conversations it answered, and when it does not use it."""

import uuid

from assistant.conversations.recent import RecentMessages
from assistant.messages import Message, user


def answer(text: str) -> Message:
    return Message(role="assistant", content=text)


def test_the_kept_messages_serve_only_the_client_that_names_the_last_answer() -> None:
    recent = RecentMessages(keep=4)
    alice, bob, talk = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    hello, hi = user("hello"), answer("hi")
    recent.keep(alice, talk, None, [hello, hi], hi.id)
    assert recent.get(alice, talk, hi.id) == [hello, hi]
    assert recent.get(alice, talk, None) is None  # a client that names nothing reads
    assert recent.get(alice, talk, uuid.uuid4()) is None  # an answer given elsewhere
    assert recent.get(bob, talk, hi.id) is None  # never another user's conversation


def test_a_turn_keeps_the_last_messages_a_turn_loads() -> None:
    recent = RecentMessages(keep=3)
    alice, talk = uuid.uuid4(), uuid.uuid4()
    said = [user("a"), answer("b"), user("c"), answer("d")]
    recent.keep(alice, talk, None, said, said[-1].id)
    assert recent.get(alice, talk, said[-1].id) == said[-3:]


def test_two_turns_that_overlap_leave_nothing_kept() -> None:
    recent = RecentMessages(keep=10)
    alice, talk = uuid.uuid4(), uuid.uuid4()
    first = answer("first")
    recent.keep(alice, talk, None, [user("a"), first], first.id)
    began = recent.last_answer(talk)
    # Two turns begin from `first`; the one that ends first is kept ...
    one, two = answer("one"), answer("two")
    recent.keep(alice, talk, began, [user("a"), first, user("b"), one], one.id)
    assert recent.get(alice, talk, one.id) is not None
    # ... and the other finds the entry changed: neither view is complete, so none is kept.
    recent.keep(alice, talk, began, [user("a"), first, user("c"), two], two.id)
    assert recent.get(alice, talk, one.id) is None
    assert recent.get(alice, talk, two.id) is None
    assert recent.last_answer(talk) is None


def test_a_turn_without_an_answer_drops_what_was_kept() -> None:
    recent = RecentMessages(keep=10)
    alice, talk = uuid.uuid4(), uuid.uuid4()
    hi = answer("hi")
    recent.keep(alice, talk, None, [user("hello"), hi], hi.id)
    recent.keep(alice, talk, hi.id, [user("hello"), hi, user("and?")], None)
    assert recent.get(alice, talk, hi.id) is None


def test_the_least_recently_used_conversations_go_past_the_message_budget() -> None:
    recent = RecentMessages(keep=10, max_messages=5)
    alice = uuid.uuid4()
    talks = [uuid.uuid4() for _ in range(3)]
    answers = [answer(str(n)) for n in range(3)]
    for talk, last in zip(talks[:2], answers[:2], strict=True):
        recent.keep(alice, talk, None, [user("q"), last], last.id)
    assert recent.get(alice, talks[0], answers[0].id) is not None  # used: now the newest
    recent.keep(alice, talks[2], None, [user("q"), answers[2]], answers[2].id)  # 6 > 5
    assert recent.get(alice, talks[1], answers[1].id) is None
    assert recent.get(alice, talks[0], answers[0].id) is not None
    assert recent.get(alice, talks[2], answers[2].id) is not None
