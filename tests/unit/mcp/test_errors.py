"""Failures as text a model can act on."""

import uuid
from datetime import date

import pytest
from pydantic import BaseModel, ValidationError

from mcp_server.errors import from_domain, from_validation
from services.errors import (
    AuthError,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    VersionMismatch,
)
from services.tasks.schemas import TaskCreate


def test_not_found_points_to_find_tasks() -> None:
    task_id = uuid.uuid4()
    error = from_domain(NotFound(f"no task {task_id}"))
    assert str(error) == f"no task {task_id}: call find_tasks to get the task_id"


def test_invalid_input_names_the_field_and_shows_time_formats_for_times() -> None:
    assert str(from_domain(InvalidInput("tags", "too many"))) == "tags: too many"
    timed = str(from_domain(InvalidInput("remind_at", "is in the past")))
    assert timed.startswith("remind_at: is in the past; send a wall-clock time like")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (VersionMismatch(2, 3), "the task is at version 3, not 2: fetch it again and retry"),
        (Conflict("this is the series' last occurrence"), "this is the series' last occurrence"),
        (AuthError("expired"), "not signed in: expired"),
    ],
)
def test_other_domain_errors_keep_their_detail(error: DomainError, expected: str) -> None:
    assert str(from_domain(error)) == expected


def test_validation_errors_are_one_line_per_field_without_pydantic_noise() -> None:
    with pytest.raises(ValidationError) as caught:
        TaskCreate.model_validate({"title": "", "due_at": "someday", "priority": "urgent"})
    text = str(from_validation(caught.value))
    assert {part.split(":")[0] for part in text.split("; ")} == {"title", "due_at", "priority"}
    assert "priority: Input should be 'none', 'low', 'medium' or 'high'" in text
    assert text.endswith("or a date like 2030-03-03)")
    assert "pydantic" not in text
    assert "\n" not in text


def test_nested_models_name_the_path() -> None:
    class Inner(BaseModel):
        when: date

    class Outer(BaseModel):
        inner: Inner

    with pytest.raises(ValidationError) as caught:
        Outer.model_validate({"inner": {"when": "x"}})
    assert str(from_validation(caught.value)).startswith("inner.when: ")
