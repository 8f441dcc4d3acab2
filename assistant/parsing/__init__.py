"""The offline reader of everyday task language (what `todo parse` prints).

reading = parse_utterance("buy milk tomorrow at 5pm #errands p1", now, "Europe/Berlin")
reading.to_json()  # the object of docs/reference.md, The `todo parse` reading
"""

from assistant.parsing.parser import parse_utterance
from assistant.parsing.reading import Intent, Priority, Reading, TaskFilters

__all__ = ["Intent", "Priority", "Reading", "TaskFilters", "parse_utterance"]
