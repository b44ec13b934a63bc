"""Worked examples for the code model: small tools, each a request, its parameters and its function.

Two or three of them, the ones most like the request, are shown to the model before it writes
(`closest`). A 1.5B model copies shape better than it follows rules: seeing `run(weight_lb: float)
-> str` with `import datetime` and a formatted answer steers it more than a list of what is
allowed. They were written for this file and are not taken from `sena bench generate`'s requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Example:
    request: str
    parameters: tuple[tuple[str, str, str], ...]
    """(name, type, description) of each parameter, in the function's order."""
    code: str


EXAMPLES: tuple[Example, ...] = (
    Example(
        "turn pounds into kilograms",
        (("weight_lb", "number", "the weight in pounds"),),
        "def run(weight_lb: float) -> str:\n"
        "    kilograms = weight_lb * 0.45359237\n"
        '    return f"{weight_lb:g} lb is {kilograms:.2f} kg"\n',
    ),
    Example(
        "which quarter of the year is a date in, like 2024-08-15",
        (("day", "string", "the date, as YYYY-MM-DD"),),
        "import datetime\n\n\ndef run(day: str) -> str:\n"
        "    when = datetime.date.fromisoformat(day.strip())\n"
        "    quarter = (when.month - 1) // 3 + 1\n"
        '    return f"{when.isoformat()} is in Q{quarter} of {when.year}"\n',
    ),
    Example(
        "find all the phone numbers in a piece of text",
        (("text", "string", "the text to search"),),
        "import re\n\n\ndef run(text: str) -> str:\n"
        '    found = re.findall(r"\\+?\\d[\\d ()-]{6,}\\d", text)\n'
        '    return ", ".join(found) if found else "No phone numbers found."\n',
    ),
    Example(
        "capitalise the first letter of every sentence",
        (("text", "string", "the text to fix"),),
        "import re\n\n\ndef run(text: str) -> str:\n"
        '    return re.sub(r"(^|[.!?]\\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text.strip())\n',
    ),
    Example(
        "average speed from a distance in km and a time in minutes",
        (("distance_km", "number", "distance travelled in km"), ("minutes", "number", "time taken in minutes")),
        "def run(distance_km: float, minutes: float) -> str:\n"
        "    if minutes <= 0:\n"
        '        return "The time must be more than zero minutes."\n'
        "    speed = distance_km / (minutes / 60)\n"
        '    return f"Average speed: {speed:.1f} km/h"\n',
    ),
    Example(
        "the range of the numbers in my message (largest minus smallest)",
        (("text", "string", "text containing numbers"),),
        "import re\n\n\ndef run(text: str) -> str:\n"
        '    numbers = [float(n) for n in re.findall(r"-?\\d+(?:\\.\\d+)?", text)]\n'
        "    if not numbers:\n"
        '        return "I found no numbers."\n'
        '    return f"Range: {max(numbers) - min(numbers):g} (from {min(numbers):g} to {max(numbers):g})"\n',
    ),
    Example(
        "show a fraction like 0.237 as a percentage with one decimal",
        (("value", "number", "the fraction to show, such as 0.237"),),
        'def run(value: float) -> str:\n    return f"{value * 100:.1f}%"\n',
    ),
    Example(
        "is this year a leap year",
        (("year", "integer", "the year, such as 2028"),),
        "import calendar\n\n\ndef run(year: int) -> str:\n"
        '    return f"{year} is a leap year." if calendar.isleap(year) else f"{year} is not a leap year."\n',
    ),
    Example(
        "the longest word in a sentence",
        (("text", "string", "the sentence"),),
        "import re\n\n\ndef run(text: str) -> str:\n"
        '    words = re.findall(r"[A-Za-z\']+", text)\n'
        "    if not words:\n"
        '        return "There are no words."\n'
        "    longest = max(words, key=len)\n"
        '    return f"The longest word is {longest!r} ({len(longest)} letters)."\n',
    ),
    Example(
        "what time will it be after some minutes, from a time like 09:45",
        (("start", "string", "the time of day, HH:MM"), ("minutes", "integer", "minutes to add")),
        "import datetime\n\n\ndef run(start: str, minutes: int) -> str:\n"
        '    begin = datetime.datetime.strptime(start.strip(), "%H:%M")\n'
        "    later = begin + datetime.timedelta(minutes=minutes)\n"
        '    return f"{minutes} minutes after {begin:%H:%M} it will be {later:%H:%M}"\n',
    ),
)

Embed = Callable[[list[str]], "np.ndarray[tuple[int, int], np.dtype[np.float32]]"]


def closest(
    request: str, embed: Embed | None = None, count: int = 3, examples: Sequence[Example] = EXAMPLES
) -> list[Example]:
    """The `count` examples most like the request: by MiniLM similarity when an embedder is given,
    else by shared words."""
    if embed is not None:
        vectors = embed([request, *(e.request for e in examples)])
        scores = (vectors[1:] @ vectors[0]).tolist()
    else:
        words = set(re.findall(r"[a-z]+", request.lower()))
        scores = [len(words & set(re.findall(r"[a-z]+", e.request.lower()))) for e in examples]
    ranked = sorted(range(len(examples)), key=lambda i: -scores[i])
    return [examples[i] for i in ranked[:count]]
