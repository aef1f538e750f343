"""Closed vocabularies, date-phrase resolution and argument samplers for the synthetic tool library.

Every sampler returns ``(value, surface)``: ``value`` goes into the tool call, ``surface`` is what the user says.
``surfaces(value, ref)`` lists every wording that maps to a value, so tests can check that arguments are grounded.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import re
from typing import Any

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]

CITIES = ["Tokyo", "Paris", "London", "Berlin", "Madrid", "Rome", "Sydney", "Toronto", "Chicago", "Seattle",
          "Boston", "Denver", "Lisbon", "Vienna", "Prague", "Dublin", "Oslo", "Nairobi", "Lima", "Mumbai",
          "Singapore", "Seoul", "Cairo", "Austin"]
CURRENCIES = {
    "USD": ["dollars", "US dollars", "USD"], "EUR": ["euros", "EUR"], "GBP": ["British pounds", "GBP"],
    "JPY": ["yen", "Japanese yen", "JPY"], "CAD": ["Canadian dollars", "CAD"], "CHF": ["Swiss francs", "CHF"],
    "AUD": ["Australian dollars", "AUD"], "INR": ["Indian rupees", "INR"], "MXN": ["Mexican pesos", "MXN"],
    "SEK": ["Swedish kronor", "SEK"],
}
TICKERS = ["AAPL", "MSFT", "TSLA", "AMZN", "NVDA", "GOOG", "META", "NFLX", "INTC", "ORCL"]
PEOPLE = ["Alice", "Bruno", "Chen", "Dana", "Elif", "Farah", "Gustavo", "Hana", "Ivan", "Jonas", "Keiko", "Liam"]
TEAMS = ["Arsenal", "Chelsea", "Liverpool", "Real Madrid", "Barcelona", "Juventus", "Lakers", "Celtics",
         "Warriors", "Packers", "Cowboys", "Yankees"]
PLAYERS = ["Marta Ruiz", "Tom Okafor", "Yuki Tanaka", "Lena Weber", "Sam Patel", "Nina Costa"]
PRODUCTS = ["wireless earbuds", "running shoes", "coffee grinder", "yoga mat", "desk lamp", "backpack",
            "mechanical keyboard", "water bottle", "phone charger", "air fryer"]
PLACES = ["Louvre Museum", "Central Library", "Blue Door Cafe", "City Zoo", "Harbor Market", "Old Town Hall"]
FOODS = ["banana", "oatmeal", "salmon", "almonds", "brown rice", "avocado", "chicken breast", "lentils"]
INGREDIENTS = ["chicken", "rice", "tomatoes", "spinach", "garlic", "mushrooms", "eggs", "tofu", "potatoes"]
EVENT_TITLES = ["Team sync", "Dentist appointment", "Lunch with Dana", "Project review", "Yoga class",
                "Budget meeting"]
SHORT_MESSAGES = ["running 10 minutes late", "see you at the station", "call me when you land",
                  "dinner is at 7", "happy birthday", "the meeting moved to Friday"]
ORDER_IDS = [f"ORD-{n}" for n in (10432, 20981, 31517, 48213, 55020, 61744, 73305, 88126, 90457, 99310)]


def _time_words(h: int, m: int) -> list[str]:
    # "3pm" / "9:30am" plus the 24-hour form itself
    clock = f"{(h - 1) % 12 + 1}{f':{m:02d}' if m else ''}{'am' if h < 12 else 'pm'}"
    return [clock, f"{h:02d}:{m:02d}"]


TIMES = {f"{h:02d}:{m:02d}": _time_words(h, m)
         for h, m in [(8, 0), (9, 30), (10, 0), (11, 15), (13, 0), (14, 30), (15, 0), (16, 45), (18, 0), (19, 30)]}

_REL = {"today": 0, "tomorrow": 1, "the day after tomorrow": 2}


def weekday_name(day: dt.date) -> str:
    """English weekday name of ``day``."""
    return WEEKDAYS[day.weekday()]


@functools.lru_cache(maxsize=4096)
def resolve_date_phrase(phrase: str, ref: dt.date) -> str | None:
    """Resolve a relative/absolute date phrase against ``ref`` to ISO-8601, or None if unrecognised.

    Conventions: "next Friday" = the first Friday strictly after ``ref``;
    "on December 3" = the first such date on or after ``ref``.
    """
    p = phrase.strip().lower()
    p = p[3:] if p.startswith("on ") else p
    if p in _REL:
        return (ref + dt.timedelta(days=_REL[p])).isoformat()
    if m := re.fullmatch(r"in (\d+|a) (day|days|week|weeks)", p):
        n = 1 if m.group(1) == "a" else int(m.group(1))
        return (ref + dt.timedelta(days=n * (7 if m.group(2).startswith("week") else 1))).isoformat()
    if m := re.fullmatch(r"(?:next|this coming) (\w+)", p):
        names = [w.lower() for w in WEEKDAYS]
        if m.group(1) not in names:
            return None
        ahead = (names.index(m.group(1)) - ref.weekday() - 1) % 7 + 1
        return (ref + dt.timedelta(days=ahead)).isoformat()
    if m := re.fullmatch(r"(\w+) (\d{1,2})", p):
        names = [w.lower() for w in MONTHS]
        if m.group(1) not in names:
            return None
        month, day = names.index(m.group(1)) + 1, int(m.group(2))
        try:
            cand = dt.date(ref.year, month, day)
            return (cand if cand >= ref else dt.date(ref.year + 1, month, day)).isoformat()
        except ValueError:
            return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", p):
        return p
    return None


def date_phrase_candidates(ref: dt.date) -> list[str]:
    """All date phrases the sampler may emit for reference date ``ref``."""
    out = ["today", "tomorrow", "the day after tomorrow", "in a week", "in 2 weeks"]
    out += [f"in {n} days" for n in range(2, 11)]
    out += [f"next {w}" for w in WEEKDAYS] + [f"this coming {w}" for w in WEEKDAYS]
    for k in range(0, 61):  # absolute dates over the next two months
        day = ref + dt.timedelta(days=k)
        out += [f"on {MONTHS[day.month - 1]} {day.day}", f"on {day.isoformat()}"]
    return out


@functools.lru_cache(maxsize=8)
def _phrases_by_date(ref: dt.date) -> dict[str, tuple[str, ...]]:
    # inverse of resolve_date_phrase over all candidate phrases, cached per reference date
    table: dict[str, list[str]] = {}
    for p in date_phrase_candidates(ref):
        table.setdefault(resolve_date_phrase(p, ref), []).append(p)
    return {k: tuple(v) for k, v in table.items()}


def fmt_number(x: float) -> str:
    """Render a number the way a user would type it (no trailing .0)."""
    return str(int(x)) if float(x).is_integer() else str(x)


def join_words(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class Pick:
    """Value copied verbatim from a closed vocabulary."""

    def __init__(self, items: list):
        self.items = list(items)

    def __call__(self, rng: random.Random, ref: dt.date) -> tuple[Any, str]:
        v = rng.choice(self.items)
        return v, fmt_number(v) if isinstance(v, (int, float)) else str(v)

    def surfaces(self, value: Any, ref: dt.date) -> list[str]:
        """Wordings that map to ``value``."""
        return [fmt_number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)]


class Pairs:
    """Normalised value with several user wordings, e.g. "USD" <- "dollars"; also enums and booleans."""

    def __init__(self, table: dict):
        self.table = {k: list(v) for k, v in table.items()}
        self.keys = list(self.table)

    def __call__(self, rng: random.Random, ref: dt.date) -> tuple[Any, str]:
        v = rng.choice(self.keys)
        return v, rng.choice(self.table[v])

    def surfaces(self, value: Any, ref: dt.date) -> list[str]:
        """Wordings that map to ``value``."""
        return list(self.table.get(value, []))


class IntRange:
    """Integer in [lo, hi], said as digits."""

    def __init__(self, lo: int, hi: int):
        self.lo, self.hi = lo, hi

    def __call__(self, rng: random.Random, ref: dt.date) -> tuple[Any, str]:
        v = rng.randint(self.lo, self.hi)
        return v, str(v)

    def surfaces(self, value: Any, ref: dt.date) -> list[str]:
        """Wordings that map to ``value``."""
        return [str(value)]


class DatePhrase:
    """Date said relatively or absolutely by the user, resolved to ISO-8601 in the call."""

    def __call__(self, rng: random.Random, ref: dt.date) -> tuple[Any, str]:
        kind = rng.random()
        if kind < 0.3:
            phrase = rng.choice(["today", "tomorrow", "tomorrow", "the day after tomorrow"])
        elif kind < 0.5:
            phrase = rng.choice(["in a week", f"in {rng.randint(2, 10)} days"])
        elif kind < 0.75:
            phrase = f"{rng.choice(['next', 'next', 'this coming'])} {rng.choice(WEEKDAYS)}"
        else:
            day = ref + dt.timedelta(days=rng.randint(3, 60))
            phrase = rng.choice([f"on {MONTHS[day.month - 1]} {day.day}", f"on {day.isoformat()}"])
        return resolve_date_phrase(phrase, ref), phrase

    def surfaces(self, value: Any, ref: dt.date) -> list[str]:
        """Wordings that map to ``value``."""
        return list(_phrases_by_date(ref).get(value, []))


class PickList:
    """Array of distinct scalars from a vocabulary, said as "a, b and c"."""

    def __init__(self, items: list, lo: int = 2, hi: int = 4):
        self.items, self.lo, self.hi = list(items), lo, hi

    def __call__(self, rng: random.Random, ref: dt.date) -> tuple[Any, str]:
        v = rng.sample(self.items, rng.randint(self.lo, self.hi))
        return v, join_words([fmt_number(x) if isinstance(x, (int, float)) else x for x in v])

    def surfaces(self, value: Any, ref: dt.date) -> list[str]:
        """Wordings that map to ``value``."""
        return [join_words([fmt_number(x) if isinstance(x, (int, float)) else x for x in value])]
