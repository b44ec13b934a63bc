"""What a question asks about, as the attributes facts are learned with (`memory/extraction.py`).

"Do you happen to remember what I am called?" shares no word with "The user's name is Harold",
and MiniLM puts them far apart; but the fact was learned with the attribute `name`, so a search
can add the memories that have it. The table maps everyday wording to attributes, one topic per
row; a question may name several ("whats my lizard called": name and pet).
"""

from __future__ import annotations

import re

ASKED: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(rf"\b(?:{words})\b", re.IGNORECASE), attributes)
    for words, attributes in (
        (r"names?|named|called|call (?:me|you)", ("name",)),
        (r"live|lives|living|reside|city|town|hometown|neighbou?rhood|moved?|relocated?|address|home", ("home",)),
        (r"work|works|working|job|career|profession|occupation|employed|employer|business|boss|company|shifts?",
         ("job", "workplace")),
        (r"school|college|university|uni|class|classes|study|studying|major|degree", ("school",)),
        (r"how old|age", ("age", "birthday")),
        (r"birthday|born", ("birthday",)),
        (r"wife|husband|partner|girlfriend|boyfriend|spouse|fianc[eé]e?", ("partner", "family")),
        (r"sister|brother|bro|sis|son|daughter|mom|mum|mother|dad|father|grand\w+|opa|oma|kids?|child|children|"
         r"eldest|oldest|youngest|cousin|aunt|uncle|niece|nephew|family|parents?|twins?|baby", ("family",)),
        (r"pets?|dog|cat|puppy|kitten|lizard|gecko|bird|parrot|fish|hamster|rabbit|bunny|horse|snake|turtle|"
         r"tortoise", ("pet",)),
        (r"allerg\w*|intoleran\w*|eat|food|foods|diet|vegetarian|vegan", ("diet", "health")),
        (r"doctor|medication|medicine|condition|diagnos\w*|illness|health|sick", ("health",)),
        (r"hobby|hobbies|sport|sports|exercise|play|plays|free time|practice|club|training", ("hobby",)),
        (r"language|languages|speak|speaks", ("language",)),
        (r"trip|travel\w*|vacation|holiday|visit\w*", ("trip", "plan")),
        (r"when|date|what day|appointment|test|exam|party|wedding|anniversary|plans?", ("event", "plan")),
    )
)  # fmt: skip


def asked_attributes(question: str) -> list[str]:
    """The attributes a question asks about, in the table's order, without repeats."""
    found: dict[str, None] = {}
    for pattern, attributes in ASKED:
        if pattern.search(question):
            found.update(dict.fromkeys(attributes))
    return list(found)
