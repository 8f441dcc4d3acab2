"""Tool schemas trimmed for the model, without changing what they accept."""

from typing import Annotated, Any, Literal

import jsonschema  # type: ignore[import-untyped]
from pydantic import BaseModel, Field

from mcp_server.schemas import compact_input, compact_output


class Arguments(BaseModel):
    title: str
    due_at: Annotated[str | None, Field(description="Wall-clock")] = None
    tags: list[Annotated[str, Field(max_length=5)]] | None = None
    status: Literal["all", "active"] = "active"


class Output(BaseModel):
    title: str
    due_at: str | None


def test_input_loses_titles_and_null_branches_but_keeps_the_rest() -> None:
    schema = compact_input(Arguments.model_json_schema())
    assert schema == {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "due_at": {"type": "string", "description": "Wall-clock"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}},
            "status": {"enum": ["all", "active"], "type": "string", "default": "active"},
        },
        "required": ["title"],
    }


def test_whatever_the_compact_schema_accepts_the_model_accepts() -> None:
    schema = compact_input(Arguments.model_json_schema())
    samples: list[dict[str, Any]] = [
        {"title": "a"},
        {"title": "a", "due_at": "2030-01-01", "tags": ["x"], "status": "all"},
    ]
    for sample in samples:
        jsonschema.validate(sample, schema)
        Arguments.model_validate(sample)


def test_output_keeps_its_nulls() -> None:
    schema = compact_output(Output.model_json_schema())
    assert "title" not in schema
    assert schema["properties"]["due_at"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    jsonschema.validate({"title": "a", "due_at": None}, schema)
