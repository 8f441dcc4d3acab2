"""CHAT_FOLD_DELAY_SECONDS: how long a turn written ahead waits for its fold."""

import pytest
from pydantic import ValidationError

from assistant.config import assistant_settings


def test_the_fold_runs_at_once_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAT_FOLD_DELAY_SECONDS", raising=False)
    assert assistant_settings().chat_fold_delay_seconds == 0


def test_the_environment_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_FOLD_DELAY_SECONDS", "2.5")
    assert assistant_settings().chat_fold_delay_seconds == 2.5


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("-1", "greater than or equal to 0"),
        ("3601", "less than or equal to 3600"),
        ("soon", "valid number"),
    ],
)
def test_a_bad_value_names_the_setting_and_what_it_takes(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    monkeypatch.setenv("CHAT_FOLD_DELAY_SECONDS", value)
    with pytest.raises(ValidationError) as raised:
        assistant_settings()
    assert "chat_fold_delay_seconds" in str(raised.value)
    assert says in str(raised.value)
