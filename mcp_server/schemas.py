"""Tool schemas trimmed to what a model needs.

Tool definitions are sent to the model on every turn, so their size is a cost
paid per message. pydantic's schemas repeat each parameter's name as a
`title`, and spell every optional parameter as `anyOf [X, null]` with
`default: null`. Every tool here treats `null` as "not given", so an optional
parameter is simply one that is not `required`; dropping the null branch
changes nothing a client can observe. Arguments are still validated by the
full pydantic model, not by this schema.
"""

from typing import Any

_NULL = {"type": "null"}
_NESTED_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_NESTED_ONE = ("items", "additionalProperties", "not")


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    branches = schema.get("anyOf")
    if not isinstance(branches, list) or _NULL not in branches or len(branches) != 2:
        return schema
    (kept,) = [b for b in branches if b != _NULL]
    rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**kept, **rest}


def _strip(schema: Any, *, optional: bool) -> Any:
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key in ("properties", "$defs"):
            required = set(schema.get("required", [])) if key == "properties" else set()
            out[key] = {
                name: _strip(sub, optional=optional and name not in required)
                for name, sub in value.items()
            }
        elif key in _NESTED_LISTS:
            out[key] = [_strip(sub, optional=False) for sub in value]
        elif key in _NESTED_ONE:
            out[key] = _strip(value, optional=False)
        else:
            out[key] = value
    return _without_null(out) if optional else out


def compact_input(schema: dict[str, Any]) -> dict[str, Any]:
    """An input schema without titles, and optional parameters without their null branch."""
    result: dict[str, Any] = _strip(schema, optional=True)
    return result


def compact_output(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema without titles (its nulls are real values, so they stay)."""
    result: dict[str, Any] = _strip(schema, optional=False)
    return result


__all__ = ["compact_input", "compact_output"]
