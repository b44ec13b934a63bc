"""What a message says about the user, as facts: text, subject, attribute and date.

Only the parts of a message that state something are read (a fact inside a question counts; a
question alone never makes a memory). They are rewritten as facts about the user
(`memory/wording.py`) with relative dates made absolute against when they were said, and the
`router` model picks the facts out as JSON constrained by a schema (llama.cpp grammar, Ollama
`format`), since small local models break free-form JSON. Facts not grounded in the user's own
words are dropped; what the model missed about the user is kept as the user said it.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from memory.dates import Period, absolute, periods
from memory.wording import (
    BASE_VERBS,
    FIRST_PERSON,
    IRREGULAR_PAST,
    MODALS,
    foreign,
    introduced_name,
    name_introductions,
    own_voice,
    resolve_pronouns,
    third_person,
)

log = logging.getLogger(__name__)

KINDS = ("fact", "preference", "event", "relationship")

STOPWORDS = frozenset(
    "the a an and or but of to in on at for with from by is are was were be been am has have had do does did "
    "that this these those it its as into about than then so very just also user user's users their they them "
    "he she his her him who whom which what when where why how not no yes can will would should could".split()
)

ATTRIBUTES = (
    "name", "home", "job", "workplace", "school", "age", "birthday", "partner", "diet", "language",
    "family", "pet", "health", "hobby", "likes", "dislikes", "plan", "event", "trip", "possession", "mood", "other",
)  # fmt: skip
ATTRIBUTE_PATTERNS = (
    ("home", re.compile(r"\b(lives?|living|moved|moving|relocated) (in|to)\b|\bhome(town)? is\b", re.I)),
    ("workplace", re.compile(
        r"\bworks? (at|for)\b|\bemployed (at|by)\b"
        r"|\bstart(?:s|ed|ing)? (?:a (?:new )?job |work(?:ing)? )?at\b(?! \d)",
        re.I,
    )),
    ("job", re.compile(r"\bworks? as\b|\b(job|profession|occupation) is\b", re.I)),
    ("name", re.compile(r"\bname is\b|\b(is|are) called\b|\bgoes by\b", re.I)),
    ("age", re.compile(r"\b\d+ years? old\b|\bage is\b", re.I)),
    ("birthday", re.compile(r"\bbirthday\b|\bborn on\b|\bturns? \d+\b", re.I)),
    ("diet", re.compile(r"\b(vegetarian|vegan|pescatarian|gluten-free|diet)\b", re.I)),
)  # fmt: skip
"""How a fact's wording shows its attribute; the small model's own choice is less reliable for these."""

DATED = frozenset({"event", "plan", "trip", "birthday"})
"""Attributes whose facts happen at a time."""

FACTS_SCHEMA: dict[str, Any] = {
    "title": "Learnings",
    "type": "object",
    "properties": {
        "facts": {
            "type": "array",
            "maxItems": 5,
            "items": {
                "type": "object",
                "properties": {
                    "subject": {"type": "string", "maxLength": 60},
                    "attribute": {"type": "string", "enum": list(ATTRIBUTES)},
                    "text": {"type": "string", "maxLength": 200},
                    "kind": {"type": "string", "enum": list(KINDS)},
                },
                "required": ["subject", "attribute", "text", "kind"],
            },
        }
    },
    "required": ["facts"],
}

EXTRACT_PROMPT = (
    "You pick out lasting facts from what the user says, for a personal assistant's memory: facts about "
    "the user, their preferences, events in their life (with dates when given; today is {today}), and "
    "the people, pets and things in their life. Write each fact as one short third-person sentence that "
    "names who it is about, for example 'The user's name is Sam', 'The user's sister Lena lives in Porto', "
    "'The user prefers tea', 'Lena moved to Lyon'. Say 'The user' only for the user themselves. "
    "subject: who the fact is about ('user', or the person's relation and name, such as 'sister Lena'). "
    "attribute: what about them the fact gives. An introduction such as 'I'm Sam' gives the user's name. "
    "A correction such as 'I live in Berlin now, not Paris' gives only the new value: 'The user lives in "
    "Berlin'. Keep separate facts separate: an event and a feeling about it are two facts. "
    "Return an empty list when nothing is stated."
)


@dataclass(frozen=True)
class Fact:
    text: str
    kind: str = "fact"
    subject: str = "user"
    attribute: str = "other"
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)
    """Stored with the memory: subject, attribute, when it was said and, for a dated fact, the
    period it names."""


ABOUT_USER = re.compile(r"\bthe user\b", re.IGNORECASE)
ABOUT_THE_CHAT = re.compile(
    r"\b(?:(?:told|tell|telling|asked|mentioned|said to|asking) (?:you|sena)|introduce (?:myself|themselves)"
    r"|what (?:i|the user) said|beg (?:your|the) pardon|wrote(?=:)"
    r"|(?:embarrassed|afraid|ashamed|silly|dumb|stupid|sorry) to (?:ask|say|admit)|(?:keep|get) (?:\w+ ){0,3}straight"
    r"|(?:am|is|was|were|get|got|feel|felt|i'm|im) (?:\w+ )?(?:stumped|confused|puzzled|baffled|clueless)"
    r"|(?:always|never|keeps?) (?:forget|forgetting|remember|mixing)|(?:just|i'm|the user is) (?:curious|wondering)"
    r"|you|your|yours)\b",
    re.IGNORECASE,
)
"""A statement about the conversation itself ("I told you Vancouver", "I'm almost embarrassed to
ask", "I can never keep that one straight", "I hope you'll forgive the long message"), not about
the user's life: once "I" and "my" are "the user", a "you" is the assistant."""
ANAPHORA = re.compile(r"\b(?:it|them|the two|both|these|those|this one|that one|either one|which one)\b", re.I)
HEDGES = frozenset(
    "always never still rather really quite ngl lol haha honestly just kinda sorta totally completely ever "
    "confess confesses admit admits two both these those either one".split()
)
TIME_WORDS = re.compile(
    rf"\b(?:\d{{4}}|{'|'.join(m.lower() for m in calendar.month_name if m)}|morning|afternoon|evening|tonight|"
    r"today|yesterday|week|weekend|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.IGNORECASE,
)


def remark(text: str) -> bool:
    """Whether a statement is about the conversation, not the user's life: `ABOUT_THE_CHAT`, or a
    remark that only points back at what is asked ("I have always rather muddled the two", "i
    always mess it up ngl", "I came across it this morning"): a pronoun for the question's topic
    and at most two words of its own beside hedges and times."""
    if ABOUT_THE_CHAT.search(text):
        return True
    if not ANAPHORA.search(text):
        return False
    return len(content_words(TIME_WORDS.sub(" ", text)) - HEDGES) <= 2


SPECIFICS = re.compile(
    rf"\d|\b(?:{'|'.join(m for m in calendar.month_name if m)}|{'|'.join(calendar.day_name)}"
    r"|mon|tues?|wed|thurs?|fri|sat|sun"
    r"|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|thirty|forty|fifty|sixty|seventy|eighty"
    r"|ninety|hundred|update|correction|anymore|any more|no more|instead|change of plans?|named|renamed|called)\b",
    re.IGNORECASE,
)
NAME = re.compile(r"(?<=\W)(?!I\b|I')[A-Z][\w'-]*")


def specific(statement: str) -> bool:
    """Whether a statement holds what a passing remark does not: a name (a capital after its
    first word), an introduction, a number, a day or month, or the words of an update ("not
    Tesco no more", "they named him Milo"). Such a statement is never taken for a remark by
    resemblance alone: "Our cat Miso knocked coffee onto my keyboard" reads like a moment but
    names the cat."""
    return bool(SPECIFICS.search(statement) or NAME.search(statement) or introduced_name(statement))


SAID_CLAUSE = re.compile(
    r"\s*(?:[,;:]|\s-\s|\b(?:and(?! their family\b)|but|so|because|since|though|although|while)\b)\s*", re.I
)
"""Where a statement kept as said is cut, so each clause is checked (and kept) on its own; "the
user and their family" (what "we" becomes) stays one subject."""
BE_HAVE_DO = {"is", "are", "am", "was", "were", "has", "have", "does", "do"}
VERBS = "|".join(sorted(MODALS | IRREGULAR_PAST | BASE_VERBS | BE_HAVE_DO))
FINITE = re.compile(rf"\b(?:{VERBS}|\w+n't|\w{{2,}}s|\w{{2,}}ed)\b", re.IGNORECASE)
"""Something like a verb: a clause kept as said must state something ("The user's sister's name
again" does not)."""
AUXILIARY = re.compile(r"^(?:has|have|had|is|are|was|were|been|being|will|would|can|could|should|shall)\b", re.I)
FILLER = re.compile(
    r"^(?:\W*\b(?:honestly|actually|wait|so|well|ok|okay|oh|also|anyway|btw|correction|update|hey|hi|hello|yeah|yes|no|lol)\b)+\W*",
    re.IGNORECASE,
)
SELF = re.compile(
    rf"\b({FIRST_PERSON}"
    r"|yo|mi|mis|soy|tengo|je|j'ai|mon|ma|mes|moi|ich|mein|meine|meinen|meinem|meiner|mir|mich|wir|unser|unsere"
    r"|eu|meu|minha|meus|minhas|mio|miei|sono|mera|meri|mere|ik|mijn|mij|wij|onze)\b",
    re.IGNORECASE,
)
"""The user speaking of themselves, in English and in the first person of a few languages people
mix into it ("Tengo un gatito", "meine Schwester")."""
ASK_WORDS = (
    r"what|what's|whats|wat|wats|wot|which|who|who's|whos|whom|whose|where|where's|wheres|when|why|how|how's|hows|"
    r"is|are|am|was|were|do|does|did|can|could|would|will|should|shall|shud|cud|wud|have|has|had|may|might|any|"
    r"anything|name(?!')|list|tell|give|gimme|lemme|recommend|suggest|explain|please|pls|plz|"
    r"write|draft|compose|make|create|help|find|search|look|show|open|launch|start|play|translate|summari[sz]e|"
    r"remind|check|fix|convert|calculate|plan|book|send|read|delete|remove|save|add|set|let's|lets"
)
"""Words that open a question or an instruction ("name" but not "Name's Dana")."""
ASKS = re.compile(rf"^\W*(?:{ASK_WORDS})\b", re.IGNORECASE)
OPENERS = (
    r"what|what's|whats|wat|wats|which|where|when|why|how|any|anything|please|pls|plz|recommend|suggest|tips|ideas|"
    r"help|(?:can|could|would|will|do|should|shall|is|are) (?:you|u|i|we|there)"
)
"""How a question starts after a comma; not "who" or "has", which more often go on a statement
("my dad, who is 70, has ...")."""
CLAUSE = re.compile(
    rf"[;:\u2013\u2014]|\s-\s|(?:,|\b(?:so|but|and)\b)(?=\s*(?:(?:so|but|and)\s+)?(?:{OPENERS})\b)", re.IGNORECASE
)
"""Where a question's statement ends: at a semicolon, colon or dash, or at a comma or "so" before
the question's opening word ("Since I'm learning Portuguese, | which podcasts help?"). Other
commas stay: "Our cat, Marmaduke, has stopped eating; | what might be wrong?"."""


EMOJI = re.compile(r"[\u2600-\u27bf\U0001f300-\U0001faff]+")
SENTENCE = re.compile(r"[^.!?\n\u2600-\u27bf\U0001f300-\U0001faff]+[.!?\u2600-\u27bf\U0001f300-\U0001faff]*")
"""A sentence; an emoji ends one too ("yo its jayden 😅 wats a good caption")."""


ABBREVIATION = re.compile(r"\b(St|Dr|Mr|Mrs|Ms|Mt|Jr|Sr|Prof|vs|approx|e\.g|i\.e)\.", re.IGNORECASE)
"""A full stop that does not end a sentence ("12-hr shifts at St. Luke's")."""
ASIDE = re.compile(r"\(([^()]{1,40}?)[!?.]+\)")
"""An aside in brackets with its own stop ("The day after tomorrow (overmorgen!) my opa turns 90")."""
TAG_QUESTION = re.compile(
    r"\s+(?=(?:is|are|was|should|could|can|do|does|will|would) (?:that|this|it|he|she|they|i|we)\b)"
)
"""Where a run-on question starts without a comma ("hes 3 yrs old and usually eats | is that bad??")."""
APPOSITION = re.compile(r"\b((?i:my|our|his|her|their|mijn|onze) (?:[\w-]+ ){0,2}[\w-]+), ([A-Z][\w'-]+),")
"""A relative named between commas ("our son, Christopher, has been made a partner"): read as one
subject, so the clauses cut at commas keep it."""


def sentences(user_text: str) -> list[str]:
    """The message's sentences, with stops that do not end one (abbreviations, bracketed asides) kept
    inside, and a named relative between commas read as one subject."""
    protected = ASIDE.sub(r"(\1)", ABBREVIATION.sub(lambda m: m[1] + "\u2024", user_text))
    found = [APPOSITION.sub(r"\1 \2", s).replace("\u2024", ".") for s in SENTENCE.findall(protected)]
    return [s for s in found if s.strip()]


def statement_parts(user_text: str) -> list[str]:
    """The parts of a message that may state something about the user.

    A message is cut into sentences, and questions into clauses ("Since I'm learning Portuguese,
    | which apps help?"). A part is kept when it is not itself a question or an instruction and
    speaks of the user ("I", "my", "we"), so "Name a famous painter in Spain?" gives nothing and
    "I'm learning Portuguese for May. Which apps help?" gives its first sentence. A question
    without its question mark counts ("any easy meals u can reccomend"), and an emoji ends a
    sentence.
    """
    kept = []
    for sentence in sentences(user_text):
        clauses = [c.strip() for part in CLAUSE.split(sentence) for c in TAG_QUESTION.split(part)]
        asking = sentence.rstrip().endswith("?") or any(ASKS.match(c) for c in clauses)
        for clause in clauses if asking else [sentence.strip()]:
            if not clause or clause.endswith("?") or ASKS.match(clause):
                continue
            if not asking or SELF.search(clause) or introduced_name(clause):
                kept.append(EMOJI.sub("", clause).strip().rstrip(".!") + ".")
    return kept


def statements(user_text: str) -> str:
    """The statements of a message as one text; "" for none (see `statement_parts`)."""
    return " ".join(statement_parts(user_text))


def worth_learning(user_text: str, intent: str | None = None) -> bool:
    """Whether the message may state a fact: a pure question or request, a greeting or a one-word
    reply does not. The intent is not trusted for this: a statement routed as a recall question
    ("My dad's surgery is on Tuesday. What should he pack?") still states its fact."""
    return states_something(statements(user_text))


def states_something(said: str) -> bool:
    """Whether statements are enough to learn from: an introduction, or two content words."""
    return bool(introduced_name(said)) or len(content_words(said)) >= 2


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in STOPWORDS and len(w) > 2}


def stem(word: str) -> str:
    """A crude stem for grounding: "lives", "lived", "living" and "live" all become "liv"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word.removesuffix("e")[:5]


def grounded(fact: str, user_text: str, min_overlap: float = 0.6) -> bool:
    """Keep a fact only if most of its content words, and all of its names and numbers,
    come from the user's message."""
    words = content_words(fact)
    if not words:
        return False
    source = content_words(user_text)
    if introduced_name(user_text):
        source |= {"name", "named", "called"}  # "I'm Noor" says the user's name is Noor
    specifics = {w.lower().rstrip(".:/-") for w in re.findall(r"\b(?:[A-Z][\w'-]+|\d[\w.:/-]*)", fact)}
    said = set(re.findall(r"[a-z0-9']+", user_text.lower())) | source  # "Year 9": short words count here
    if not all(w.removesuffix("'s") in said or w in said for w in specifics - {"the", "user", "user's"}):
        return False
    stems = {stem(w) for w in source}
    hits = sum(1 for w in words if w in source or stem(w) in stems)
    return hits / len(words) >= min_overlap


class Remarks(Protocol):
    """Tells how likely statements are passing remarks (`memory.by_example.RemarkFilter`)."""

    threshold: float

    def probabilities(self, statements: list[str]) -> list[float]: ...


SURELY_LASTING = 0.15
"""A clause about the user that the remark classifier gives at most this probability of passing
is a lasting fact, whatever the rest of its statement reads like."""


async def passing_remarks(parts: list[str], remarks: Remarks) -> list[str]:
    """The statements that are passing remarks: the classifier reads the statement as one (at
    `remarks.threshold`), it holds nothing specific (`specific`), and none of its clauses about
    the user is surely lasting ("ok so i work at a bubble tea shop | and my manager wants me to
    make tiktoks" keeps the job; "I read now some american forum | and I dont understand nothing"
    goes)."""
    general = [part for part in parts if not specific(part)]
    clauses = {part: [c for c in SAID_CLAUSE.split(part) if len(content_words(c)) >= 2 and SELF.search(c)]
               for part in general}  # fmt: skip
    texts = list(dict.fromkeys([*general, *(c for found in clauses.values() for c in found)]))
    if not texts:
        return []
    passing = dict(zip(texts, await asyncio.to_thread(remarks.probabilities, texts), strict=True))
    return [
        part
        for part in general
        if passing[part] >= remarks.threshold and not any(passing[c] < SURELY_LASTING for c in clauses[part])
    ]


async def extract_facts(
    model: BaseChatModel, user_text: str, now: datetime | None = None, remarks: Remarks | None = None
) -> list[Fact]:
    """The facts a message states, each a third-person sentence with its subject, attribute and
    absolute date.

    The model (schema-constrained) reads the message's statements already rewritten in the third
    person, with pronouns resolved and dates made absolute against `now` (when it was said); its
    facts are kept when grounded in them. A self-introduction gives the user's name, and a
    statement about the user that no fact covers is kept in its own (rewritten) words, so what a
    small model misses, or a failing model never saw, is still remembered. Statements that
    `remarks` calls passing remarks ("I always mix these up") are dropped first.
    """
    now = now or datetime.now()
    parts = statement_parts(user_text)
    if remarks is not None and (dropped := await passing_remarks(parts, remarks)):
        log.info("not learning passing remarks: %s", dropped)
        parts = [part for part in parts if part not in dropped]
    said = " ".join(parts)
    if not states_something(said):
        return []
    voiced = [None if foreign(part) else own_voice(part) for part in parts]  # None: the model reads it as said
    fragments = [absolute(part, now)[0] for part, said_as in zip(parts, voiced, strict=True) if said_as is None]
    rewritten = [absolute(resolve_pronouns(third_person(name_introductions(v))), now)[0] for v in voiced if v]
    dated = " ".join(rewritten + [f'The user wrote: "{fragment}"' for fragment in fragments])
    named = [period for part in parts for period in periods(part, now)]
    try:
        found = await ask_for_facts(model, dated, now)
    except Exception as exc:  # learning still keeps what the user said about themselves
        log.warning("fact extraction failed, keeping the statements as said: %s", exc)
        found = []
    clauses = [FILLER.sub("", c).strip().rstrip(".!") for part in rewritten for c in SAID_CLAUSE.split(part)]
    source = f"{said} {dated}"
    candidates: list[tuple[str, dict[str, Any]]] = []
    for item in found:
        text = whose(resolve_pronouns(third_person(str(item.get("text") or "").strip())), clauses)
        if not text or remark(text) or not FINITE.search(text):
            continue  # a remark about the chat, or a fragment ("The user's daughter Emi")
        if not grounded(text, source):
            log.info("dropping ungrounded fact %r", text)
            continue
        if not ABOUT_USER.search(text) and any(from_fragment(text, fragment) for fragment in fragments):
            continue  # "Surf fishing most weekends": the fragment itself is kept, as the user's
        candidates.append((text, item))
    facts: list[Fact] = []
    said_stems = {stem(w) for w in content_words(source)}
    for text, item in candidates:
        if any(content_words(text) <= content_words(f.text) for f in facts):
            continue  # small models repeat a fact in shorter words
        if any(variant(text, other, said_stems) for other, _ in candidates):
            log.info("dropping %r: a variant with fewer words the user never said", text)
            continue
        kind, attribute, subject = (str(item.get(key)) for key in ("kind", "attribute", "subject"))
        facts.append(make_fact(text, kind, attribute, subject, now, rewritten, named))
    for fragment in fragments:  # "Paramedic." kept in the user's words when the model read a fact in it
        if remark(fragment):
            continue  # "Sorry if this is a dumb question, hope you don't mind."
        texts = [str(item.get("text") or "") for item in found]
        if any(from_fragment(text, fragment, foreign(fragment)) for text in texts) and not covered(fragment, facts):
            text = f"The user said: {fragment}"
            facts.append(make_fact(text, "fact", "other", "user", now, rewritten, named))
    name = introduced_name(said)
    if name and not any(f.attribute == "name" and name.lower() in f.text.lower() for f in facts):
        facts.append(make_fact(f"The user's name is {name}", "fact", "name", "user", now, rewritten, named))
    for clause in clauses:
        if not ABOUT_USER.search(clause) or remark(clause) or ASKS.match(clause) or AUXILIARY.match(clause):
            continue  # not about the user, a remark, a question, or a predicate cut from its subject
        if len(content_words(clause)) >= 2 and FINITE.search(clause) and not covered(clause, facts):
            text = clause[:1].upper() + clause[1:] + "."
            facts.append(make_fact(text, "fact", "other", subject_of(text), now, rewritten, named))
    return facts


async def ask_for_facts(model: BaseChatModel, statements_text: str, now: datetime) -> list[dict[str, Any]]:
    prompt = [
        SystemMessage(EXTRACT_PROMPT.format(today=f"{now:%A} {now.date().isoformat()}")),
        HumanMessage(statements_text),
    ]
    result: Any = await model.with_structured_output(FACTS_SCHEMA, method="json_schema").ainvoke(
        prompt, config={"tags": ["nostream"]}
    )
    return list(result.get("facts") or [])


def make_fact(
    text: str, kind: str, attribute: str, subject: str, now: datetime, sources: list[str], named: list[Period]
) -> Fact:
    """A fact with its attribute (the wording's, else the model's), subject key and period.

    `sources` are the statements it came from, `named` the periods they name. Small models drop
    an event's date: a dated fact without one gets it back from its statement."""
    kind = kind if kind in KINDS else "fact"
    attribute = worded_attribute(text) or (attribute if attribute in ATTRIBUTES else "other")
    text, period = absolute(text, now)
    if period is None:  # the date in the statement's absolute words ("on 10 March 2026")
        period = next((p for p in named if p.words.lower() in text.lower()), None)
    if period is None and (kind == "event" or attribute in DATED) and sources:
        source = max(sources, key=lambda part: len(content_words(part) & content_words(text)))
        given = [p for p in named if p.words.lower() in source.lower()]
        if given and len(content_words(source) & content_words(text)) >= 2:
            period = given[0]
            text = f"{text.rstrip('.')} {period.words}"
    metadata: dict[str, Any] = {
        "subject": subject_key(subject),
        "attribute": attribute,
        "said_at": now.isoformat(timespec="minutes"),
    }
    if period is not None:
        metadata.update(period_start=period.start.isoformat(), period_end=period.end.isoformat())
    return Fact(text, kind, subject_key(subject), attribute, metadata)


def variant(fact: str, other: str, said: set[str], share: float = 0.7) -> bool:
    """Whether `fact` is a variant of `other` (most words shared) with more unsaid words: small
    models repeat a fact with one word changed ("... for her birthday dinner", "... for their
    wedding dinner"), and only the one in the user's words is kept."""
    mine, theirs = {stem(w) for w in content_words(fact)}, {stem(w) for w in content_words(other)}
    if fact == other or not mine or not theirs or len(mine & theirs) < share * min(len(mine), len(theirs)):
        return False
    return len(mine - said) > len(theirs - said)  # more content words the user never said


def from_fragment(fact: str, fragment: str, translated: bool = False) -> bool:
    """Whether a fact the model read came from a fragment: most of its words are the fragment's
    or, for one in another language (which the model translates), any name or word is."""
    words = {stem(w) for w in content_words(fact)} - {"user"}
    shared = len(words & {stem(w) for w in content_words(fragment)})
    return bool(words) and (shared >= 0.6 * len(words) or (translated and shared > 0))


def whose(fact: str, clauses: list[str]) -> str:
    """A fact that lost whom it is about, said again as the clause it came from: the model turns
    "The user's dog Bruno has started chewing the sofa" into "Bruno has started chewing the sofa",
    and "the user's brother is pretty down" into "pretty down"."""
    if not fact or ABOUT_USER.search(fact):
        return fact
    words = {stem(w) for w in content_words(fact)}
    source = max(clauses, key=lambda c: len(words & {stem(w) for w in content_words(c)}), default="")
    if not (source and ABOUT_USER.search(source) and FINITE.search(source)):
        return fact
    if len(words & {stem(w) for w in content_words(source)}) < 0.6 * len(words):
        return fact
    return source[:1].upper() + source[1:] + "."


def covered(part: str, facts: list[Fact], share: float = 0.5) -> bool:
    """Whether the facts already say most of what a statement says."""
    words = content_words(part)
    if not words:
        return True
    said = {stem(w) for f in facts for w in content_words(f.text)}
    return sum(stem(w) in said for w in words) / len(words) >= share


def subject_of(text: str) -> str:
    """Whom a statement is about: "The user's sister Lena is..." -> "sister Lena", else "user"."""
    match = re.match(r"(?i:the user's) (\w+)(?:'s)?(?: ([A-Z][\w-]+))?", text)
    if match is None:
        return "user"
    return " ".join(w for w in match.groups() if w)


def subject_key(subject: str) -> str:
    """Who a fact is about, comparable across facts: "The user's sister Lena" -> "sister lena"."""
    words = [w for w in re.findall(r"[\w'-]+", subject.lower()) if w not in {"the", "user's", "users", "my", "a"}]
    if not words or words == ["user"] or words == ["i"] or words == ["me"]:
        return "user"
    return " ".join(words)


def worded_attribute(text: str) -> str | None:
    """The attribute a fact's wording shows ("lives in" -> home), if any."""
    return next((name for name, pattern in ATTRIBUTE_PATTERNS if pattern.search(text)), None)
