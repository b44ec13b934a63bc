"""Relative time words, made absolute against the moment they were said.

"Last month" in a fact learned on 5 March means February 2026 for ever after, so learning
rewrites it (`absolute`), and a question like "what did I do last month?" becomes a period to
search in (`period_in`). A small table of English expressions, not a general date parser:
we need periods (a week, a month), which general parsers flatten to a single instant.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))  # only after a preposition: "may" is also a verb
DAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "couple of": 2, "few": 3}  # fmt: skip
COUNT = "(\\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|couple of|few)"
UNITS = {"day": 1, "week": 7, "fortnight": 14, "month": 30, "year": 365}
MONTH_PREPOSITIONS = "(?:in|on|since|during|back in|by|about|around|until|till|from|of) "
SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 2)}

SEASON_NAMES = "|".join(SEASONS)


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    words: str  # how it reads in a fact: "on 4 March 2026", "in February 2026"

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def _day(d: date) -> str:
    return f"{d.day} {calendar.month_name[d.month]} {d.year}"


def _on(d: date) -> Period:
    return Period(d, d, f"on {_day(d)}")


def _week(monday: date) -> Period:
    return Period(monday, monday + timedelta(days=6), f"in the week of {_day(monday)}")


def _month(year: int, month: int) -> Period:
    last = calendar.monthrange(year, month)[1]
    return Period(date(year, month, 1), date(year, month, last), f"in {calendar.month_name[month]} {year}")


def _shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + by
    return index // 12, index % 12 + 1


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS.get(word, 1)


def _ago_or_ahead(today: date, count: int, unit: str, sign: int) -> Period:
    days = UNITS[unit] * count
    centre = today + timedelta(days=sign * days)
    if unit in ("day",):
        return _on(centre)
    slack = max(1, days // 7)  # "three weeks ago" is roughly then, not to the day
    return Period(centre - timedelta(days=slack), centre + timedelta(days=slack), f"around {_day(centre)}")


def _weekday(today: date, name: str, which: str) -> Period:
    """ "last Friday": the most recent one; "this"/"on Friday": the coming one (today counts);
    "next Friday": the one in next week."""
    target = DAYS[name]
    if which == "last":
        delta = -((today.weekday() - target) % 7 or 7)
    elif which == "next":
        delta = 7 - today.weekday() + target
    else:
        delta = (target - today.weekday()) % 7
    return _on(today + timedelta(days=delta))


def _named_month(today: date, name: str, which: str, year: str | None, past: bool | None) -> Period:
    """A month by name: "last March" the most recent, "next March" the coming one; a bare
    "March" the past one in a question, the nearest one in a statement."""
    month = MONTHS[name]
    if year:
        return _month(int(year), month)
    before = today.year if month <= today.month else today.year - 1  # this month counts as past...
    after = today.year if month >= today.month else today.year + 1  # ...and as coming
    if which == "last":
        return _month(today.year if month < today.month else today.year - 1, month)
    if which == "next":
        return _month(today.year if month > today.month else today.year + 1, month)
    if which == "this" or (past and not which):
        return _month(today.year if which == "this" else before, month)
    ahead = (after - today.year) * 12 + month - today.month
    behind = (today.year - before) * 12 + today.month - month
    return _month(after if ahead <= behind else before, month)


def _season(today: date, name: str, which: str, given: str | None = None) -> Period:
    first, last = SEASONS[name]
    year = int(given) if given else today.year  # "in autumn 2026" is already absolute
    if which == "last" and not given:
        year -= 1 if today.month <= last or first > last else 0
    elif which == "next" and not given:
        year += 1 if today.month >= first else 0
    start = date(year, first, 1)
    end_year = year + 1 if last < first else year
    end = date(end_year, last, calendar.monthrange(end_year, last)[1])
    return Period(start, end, f"in {name} {year}" if last >= first else f"in the winter of {year}-{end_year}")


Rule = tuple[re.Pattern[str], Callable[[re.Match[str], date, bool | None], Period]]

RULES: list[Rule] = [
    (re.compile(r"\b(today|tonight|this (?:morning|afternoon|evening))\b"), lambda m, t, p: _on(t)),
    (re.compile(r"\bthe day before yesterday\b"), lambda m, t, p: _on(t - timedelta(days=2))),
    (re.compile(r"\bthe day after tomorrow\b"), lambda m, t, p: _on(t + timedelta(days=2))),
    (re.compile(r"\b(yesterday|last night)\b"), lambda m, t, p: _on(t - timedelta(days=1))),
    (re.compile(r"\b(tomorrow)\b"), lambda m, t, p: _on(t + timedelta(days=1))),
    (
        re.compile(rf"\b{COUNT} (day|week|fortnight|month|year)s? ago\b"),
        lambda m, t, p: _ago_or_ahead(t, _count(m[1]), m[2], -1),
    ),
    (
        re.compile(rf"\bin {COUNT} (day|week|fortnight|month|year)s?(?: time)?\b"),
        lambda m, t, p: _ago_or_ahead(t, _count(m[1]), m[2], 1),
    ),
    (
        re.compile(rf"\b{COUNT} (day|week|fortnight|month|year)s? (?:from now|from today|away)\b"),
        lambda m, t, p: _ago_or_ahead(t, _count(m[1]), m[2], 1),
    ),
    (
        re.compile(r"\b(last|this|next)(?: coming)? (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"),
        lambda m, t, p: _weekday(t, m[2], m[1]),
    ),
    (
        re.compile(r"\b(last|this|next) weekend\b"),
        lambda m, t, p: (lambda sat: Period(sat, sat + timedelta(days=1), f"on the weekend of {_day(sat)}"))(
            t + timedelta(days=(5 - t.weekday()) % 7 + {"last": -7, "this": 0, "next": 7}[m[1]])
        ),
    ),
    (
        re.compile(r"\b(last|this|next) week\b"),
        lambda m, t, p: _week(t - timedelta(days=t.weekday() - {"last": -7, "this": 0, "next": 7}[m[1]])),
    ),
    (
        re.compile(r"\b(last|this|next) month\b"),
        lambda m, t, p: _month(*_shift_month(t.year, t.month, {"last": -1, "this": 0, "next": 1}[m[1]])),
    ),
    (
        re.compile(r"\b(last|this|next) year\b"),
        lambda m, t, p: (lambda y: Period(date(y, 1, 1), date(y, 12, 31), f"in {y}"))(
            t.year + {"last": -1, "this": 0, "next": 1}[m[1]]
        ),
    ),
    (
        re.compile(
            rf"\b(?:(last|this|next) |in the |in |during the |over the |this past )({SEASON_NAMES})\b"
            rf"(?: (\d{{4}})| of (\d{{4}})-\d{{4}})?"
        ),
        lambda m, t, p: _season(t, m[2], m[1] or ("last" if p else "this"), m[3] or m[4]),
    ),
    (
        re.compile(rf"\b(?:(last|this|next) |{MONTH_PREPOSITIONS})({MONTH_NAMES})\b(?: (\d{{4}}))?"),
        lambda m, t, p: _named_month(t, m[2], m[1] or "", m[3], p),
    ),
    (
        re.compile(
            r"\bon (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
            r"(?! (?:mornings|afternoons|evenings|nights))"  # "on Thursday evenings": every week
        ),
        lambda m, t, p: _weekday(t, m[1], ""),
    ),
]


def _find(text: str, today: date, past: bool | None) -> list[tuple[re.Match[str], Period]]:
    candidates: list[tuple[re.Match[str], Period]] = []
    lowered = text.lower()
    for pattern, make in RULES:
        for match in pattern.finditer(lowered):
            try:
                candidates.append((match, make(match, today, past)))
            except (KeyError, ValueError):
                continue
    found: list[tuple[re.Match[str], Period]] = []
    for match, period in sorted(candidates, key=lambda pair: pair[0].start() - pair[0].end()):  # longest first
        if not any(match.start() < other.end() and other.start() < match.end() for other, _ in found):
            found.append((match, period))  # "two weeks from today" is not also "today"
    return sorted(found, key=lambda pair: pair[0].start())


def period_in(text: str, now: datetime | date) -> Period | None:
    """The period a question refers to ("last month" asked on 5 March: February), or None."""
    today = now.date() if isinstance(now, datetime) else now
    found = _find(text, today, past=True)
    if not found:
        return None
    start = min(p.start for _, p in found)
    end = max(p.end for _, p in found)
    return Period(start, end, found[0][1].words)


def periods(text: str, now: datetime | date) -> list[Period]:
    """Every period a statement names, in order."""
    today = now.date() if isinstance(now, datetime) else now
    return [period for _, period in _find(text, today, past=None)]


def absolute(text: str, now: datetime | date) -> tuple[str, Period | None]:
    """`text` with relative time words replaced by dates, and the first period it names.

    "My sister visits next week" said on Thursday 5 March 2026 becomes "My sister visits in
    the week of 9 March 2026". A bare month ("in May") is left as said, with its year added
    only in the period.
    """
    today = now.date() if isinstance(now, datetime) else now
    found = _find(text, today, past=None)
    if not found:
        return text, None
    out, last = [], 0
    for match, period in found:
        out.append(text[last : match.start()])
        phrase = text[match.start() : match.end()]
        named = re.fullmatch(rf"\w+ ({MONTH_NAMES})", phrase, re.I)
        if named and not phrase.lower().startswith(("last", "next", "this")):
            out.append(phrase)  # a named month reads fine as said
        else:
            out.append(period.words)
        last = match.end()
    out.append(text[last:])
    return "".join(out), found[0][1]
