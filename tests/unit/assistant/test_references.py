"""How the offline assistant reads references to tasks."""

import pytest

from assistant.offline.references import (
    bulk,
    is_pronoun,
    pick,
    position,
    search_words,
    spell_ordinals,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("second one", 2),
        ("the second one", 2),
        ("2", 2),
        ("number 3", 3),
        ("#4", 4),
        ("the last one", -1),
        ("third task", 3),
        ("dentist", None),
        ("second hand shop", None),
    ],
)
def test_positions(text: str, expected: int | None) -> None:
    assert position(text) == expected


def test_bulk_references_keep_their_filter_words() -> None:
    assert bulk("all my tasks") is not None
    assert bulk("all my tasks").phrase == ""
    tagged = bulk("all tasks tagged work")
    assert tagged is not None
    assert tagged.phrase == "tagged work"
    assert not tagged.of_listing
    of_them = bulk("all of them")
    assert of_them is not None
    assert of_them.of_listing
    assert bulk("dentist") is None


def test_words_pronouns_and_picks() -> None:
    assert search_words("the dentist one") == "dentist"
    assert search_words("my milk task") == "milk"
    assert is_pronoun("it")
    assert is_pronoun("that one")
    assert not is_pronoun("milk")
    assert pick(3, 2) == 1
    assert pick(3, -1) == 2
    assert pick(3, 4) is None
    assert pick(0, -1) is None
    assert spell_ordinals("complete the 2nd one") == "complete the second one"
    assert spell_ordinals("pay rent on the 2nd") == "pay rent on the 2nd"
