"""Realistic task text from a fixed vocabulary.

Words are drawn with Zipf-like weights (the first of each list is the most
frequent), so full-text search meets very common words ("review", "call"),
middling ones ("budget") and rare ones. The RARE words are planted in about
one task in RARE_ONE_IN, which makes them the selective search terms.
"""

import itertools
import random
from collections.abc import Sequence

VERBS = (
    "review", "call", "email", "buy", "pay", "book", "fix", "clean", "schedule", "prepare", "send",
    "update", "plan", "finish", "check", "renew", "order", "write", "read", "organize", "cancel",
    "return", "submit", "draft", "confirm", "water", "file", "print", "backup", "collect",
    "replace", "install", "repair", "pack", "sort", "research", "compare", "sign", "discuss",
    "invite", "remind", "visit", "test", "measure", "paint", "archive", "translate", "upload",
    "download", "practice", "cook", "bake", "wash", "mow", "vacuum", "recycle", "donate",
)

OBJECTS = (
    "report", "budget", "invoice", "presentation", "slides", "meeting", "agenda", "contract",
    "proposal", "roadmap", "groceries", "milk", "bread", "coffee", "rent", "bills", "taxes",
    "insurance", "car", "bike", "tires", "oil", "filter", "kitchen", "bathroom", "garage",
    "garden", "plants", "lawn", "windows", "laundry", "dishes", "fridge", "oven", "dentist",
    "doctor", "appointment", "prescription", "vitamins", "gym", "yoga", "running", "shoes",
    "jacket", "tickets", "flight", "hotel", "train", "visa", "luggage", "birthday", "gift", "cake",
    "party", "flowers", "card", "newsletter", "blog", "article", "chapter", "thesis", "homework",
    "exam", "notes", "library", "course", "website", "server", "database", "backups",
    "certificates", "passwords", "laptop", "printer", "router", "phone", "charger", "headphones",
    "camera", "photos", "album", "documents", "receipts", "statements", "mortgage", "loan",
    "pension", "savings", "donation", "subscription", "membership", "license", "registration",
    "roof", "gutter", "fence", "paint", "furniture", "shelves", "curtains", "carpet", "lamp",
    "heater", "boiler", "interview", "candidate", "onboarding", "feedback", "sprint", "release",
    "vendor", "supplier", "shipment", "warehouse", "inventory",
)

QUALIFIERS = (
    "for the team",
    "with Anna",
    "with Ben",
    "with Carla",
    "for mum",
    "for dad",
    "before Friday",
    "before the weekend",
    "this week",
    "next week",
    "by Monday",
    "after lunch",
    "tomorrow morning",
    "at the office",
    "at home",
    "downtown",
    "online",
    "for the client",
    "for the board",
    "for the quarter",
    "for the holidays",
    "for school",
    "for the trip",
)

RARE = (
    "harpsichord", "notary", "chimney", "sweep", "zeppelin", "kombucha", "sourdough", "origami",
    "telescope", "aquarium", "saxophone", "trampoline",
)
RARE_ONE_IN = 300

SENTENCES = (
    "Remember to {phrase} {qualifier}.",
    "Don't forget the {object} {qualifier}.",
    "Ask {person} about the {object}.",
    "Need to {phrase} before the {object} is due.",
    "{Phrase} and {phrase2}.",
    "As discussed, {phrase} {qualifier}.",
    "Check whether we still need to {phrase}.",
    "{Phrase} with the latest numbers from last time.",
)
PEOPLE = ("Anna", "Ben", "Carla", "the landlord", "the accountant", "the team", "mum")


def _weights(n: int, exponent: float = 1.07) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, n + 1)))


class TextMaker:
    """Titles and descriptions; deterministic for a given `random.Random`."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._verb_w = _weights(len(VERBS))
        self._obj_w = _weights(len(OBJECTS))

    def _pick(self, words: Sequence[str], cum: list[float]) -> str:
        return self._rng.choices(words, cum_weights=cum)[0]

    def _phrase(self) -> str:
        verb = self._pick(VERBS, self._verb_w)
        obj = self._pick(OBJECTS, self._obj_w)
        return f"{verb} {obj}"

    def title(self) -> str:
        rng = self._rng
        parts = [self._phrase()]
        if rng.random() < 0.3:
            parts.append("and " + self._pick(OBJECTS, self._obj_w))
        if rng.random() < 0.5:
            parts.append(rng.choice(QUALIFIERS))
        if rng.randrange(RARE_ONE_IN) == 0:
            parts.append(rng.choice(RARE))
        text = " ".join(p for p in parts if p)
        return text[0].upper() + text[1:]

    def description(self) -> str | None:
        rng = self._rng
        if rng.random() < 0.45:
            return None
        sentences = []
        for _ in range(rng.randint(1, 3)):
            phrase = self._phrase()
            text = rng.choice(SENTENCES).format(
                phrase=phrase,
                Phrase=phrase.capitalize(),
                phrase2=self._phrase(),
                object=self._pick(OBJECTS, self._obj_w),
                qualifier=rng.choice(QUALIFIERS),
                person=rng.choice(PEOPLE),
            )
            sentences.append(text)
        if rng.randrange(RARE_ONE_IN) == 0:
            sentences.append(f"Ask about the {rng.choice(RARE)}.")
        return " ".join(sentences)


TAGS = (
    "work",
    "home",
    "personal",
    "errands",
    "health",
    "finance",
    "family",
    "shopping",
    "travel",
    "school",
    "garden",
    "urgent",
    "someday",
    "reading",
)
TAG_WEIGHTS = list(itertools.accumulate((30, 18, 15, 10, 8, 8, 7, 6, 5, 4, 4, 3, 2, 2)))
PRIORITIES = ("none", "low", "medium", "high")
PRIORITY_WEIGHTS = list(itertools.accumulate((40, 20, 25, 15)))
RULES = (
    "FREQ=WEEKLY;BYDAY=MO",
    "FREQ=MONTHLY;BYMONTHDAY=1",
    "FREQ=DAILY",
    "FREQ=WEEKLY;BYDAY=MO,WE,FR",
    "FREQ=YEARLY",
)
ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "UTC",
    "Europe/London",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Asia/Kolkata",
)


def pick_tags(rng: random.Random) -> list[str]:
    count = rng.choices((0, 1, 2, 3), cum_weights=(25, 70, 92, 100))[0]
    return sorted(set(rng.choices(TAGS, cum_weights=TAG_WEIGHTS, k=count)))


def pick_priority(rng: random.Random) -> str:
    return rng.choices(PRIORITIES, cum_weights=PRIORITY_WEIGHTS)[0]
