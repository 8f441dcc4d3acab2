"""docs/asyncapi.yaml and docs/schemas/events/ are what the models give."""

import yaml  # type: ignore[import-untyped]

from events.catalogue import ASYNCAPI, asyncapi_document, main, rendered, stale
from events.schemas import DATA_MODELS


def test_the_committed_catalogue_is_up_to_date() -> None:
    assert stale() == [], "run `make asyncapi` and commit docs/asyncapi.yaml and docs/schemas/"
    assert main(["--check"]) == 0


def test_the_asyncapi_document_names_every_event_on_its_topic() -> None:
    document = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    assert document == asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    on_channels = {
        name for channel in document["channels"].values() for name in channel["messages"]
    }
    assert on_channels == {t.value for t in DATA_MODELS} | {"dead-letter"}
    assert len(rendered()) == len(DATA_MODELS) + 1
