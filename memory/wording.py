"""The user's words, rewritten as facts about the user.

People say "my cat Miso knocked my coffee over" and "she's over the moon"; a memory read weeks
later, in another thread, must say whose cat and who is over the moon. A 1.5B model asked to
do that rewrite often copies the first person or keeps a bare "she", so it is done here, by a
small table of English forms: `third_person` turns "I"/"my"/"we" into "the user", and
`resolve_pronouns` gives a "she"/"he" the relative named just before it ("my sister ... she's").
`introduced_name` reads a self-introduction ("Hey, Kwame here", "I'm Noor").
"""

from __future__ import annotations

import re

MODALS = frozenset(
    "can can't cannot could couldn't will won't would wouldn't shall should shouldn't may might must mustn't "
    "was wasn't did didn't had hadn't used".split()
)
IRREGULAR = {"am": "is", "have": "has", "do": "does", "go": "goes", "don't": "doesn't", "haven't": "hasn't"}
IRREGULAR_PAST = frozenset(
    "got went made took came saw said told left lost bought began found felt knew met ran sold sent spent taught "
    "thought won wrote broke became brought caught chose drove fell flew forgot gave grew heard hurt kept led "
    "paid quit rode sat slept spoke stood swam threw understood woke wore".split()
)
ADVERBS = frozenset(
    "actually really just also still usually always never often sometimes only even already recently currently "
    "honestly finally mostly generally totally absolutely definitely basically literally seriously now".split()
)
CONTRACTIONS = {"i'm": "the user is", "im": "the user is", "i've": "the user has", "i'll": "the user will",
                "i'd": "the user would", "we're": "the user and their family are",
                "we've": "the user and their family have", "we'll": "the user and their family will",
                "we'd": "the user and their family would"}  # fmt: skip
WORDS = {"my": "the user's", "mine": "the user's", "me": "the user", "myself": "themselves",
         "our": "the user's", "ours": "the user's", "us": "the user and their family",
         "we": "the user and their family"}  # fmt: skip
""""We" includes the user: "We live up in Duluth" is where the user lives too."""

FEMALE = "sister|mum|mom|mother|mam|daughter|wife|girlfriend|gf|aunt|auntie|grandma|granny|grandmother|niece|fiancee|stepmother|stepmom"  # noqa: E501
MALE = "brother|dad|father|son|husband|boyfriend|bf|uncle|grandpa|grandad|grandfather|nephew|fiance|stepfather|stepdad"
RELATIVES = frozenset(f"{FEMALE}|{MALE}".split("|"))
RELATIVE = re.compile(rf"\b(?i:the user's (?:{FEMALE}|{MALE}))\b(?: [A-Z][\w-]+)?")
FEMALE_WORD = re.compile(rf"\b(?:{FEMALE})\b", re.IGNORECASE)
SUBJECT_PRONOUN = re.compile(r"\b(she|he)\b(?:('s|\u2019s)(?= (\w+)))?", re.IGNORECASE)
PARTICIPLES = frozenset("been got gotten had done gone seen taken made become".split())

NOT_NAMES = frozenset(
    "american canadian mexican brazilian argentinian colombian chilean peruvian british english scottish welsh "
    "irish french german dutch belgian swiss austrian italian spanish portuguese greek turkish polish czech "
    "russian ukrainian swedish norwegian danish finnish indian pakistani bangladeshi chinese japanese korean "
    "vietnamese thai filipino indonesian malaysian australian nigerian kenyan ghanaian egyptian moroccan "
    "ethiopian israeli iranian iraqi lebanese syrian saudi catholic muslim jewish christian hindu buddhist "
    "atheist vegan vegetarian monday tuesday wednesday thursday friday saturday sunday january february march "
    "april may june july august september october november december new back here home sorry fine good okay ok "
    "sure so not just really still also januar februar märz juni juli oktober dezember frühling sommer herbst "
    "winter moment büro urlaub garten".split()
)
"""Words a capital does not make a name: nationalities, days, months, and German nouns after "im"
("im Herbst" is "in the autumn", not "I'm Herbst")."""
NAME = r"([A-Z][a-z'-]+(?: [A-Z][a-z'-]+)?)"
FILLERS = r"ok|okay|so|um+|well"
GREETING = r"hi|hey|hello|yo|hiya|heya|sup|hola|ola|olá|oi|bonjour|salut|hallo|hoi|hej|moin|servus|ciao|namaste"
NOT_LOWER_NAMES = frozenset(
    "me you him her us them it here there back home done ready late early tired bored sick busy stuck lost sad "
    "happy stressed free awake up fine good great well ok okay sorry new again raining cold hot".split()
)
INTRODUCTIONS = (
    re.compile(rf"\b(?i:my name is|my name's|name's|call me|i'm called|i am called)\s+{NAME}"),
    re.compile(rf"\b(?i:i'm|i am|im|it's|its|this is)\s+{NAME}"),
    re.compile(rf"(?:^|[,.!]\s*|\b(?i:{GREETING})\W+){NAME},? (?i:here)\b"),
    re.compile(
        rf"\b(?i:soy|me llamo|mi nombre es|je m'appelle|ich heiße|ich heisse|mein name ist|"
        rf"eu sou|me chamo|meu nome é|mi chiamo|sono|mera naam|mera naam hai|ik heet|mijn naam is)\s+{NAME}"
    ),
    re.compile(rf"\b(?i:ich bin|je suis|ik ben)\s+{NAME}(?=\s*(?:[,.!;]|$|(?i:und|and|et|en|hier|here)\b))"),
    re.compile(
        rf"^\W*(?:(?i:{FILLERS})\W+)*(?i:(?:{GREETING})\w*)\W+(?:(?i:{FILLERS}|lol)\W+)*"
        r"(?i:it's|its|it is|this is|i'm|im)\s+([a-z][a-z'-]+)(?=\s*(?:$|(?i:here|and|btw|lol)\b|[^\w\s']))"
    ),
)
"""Self-introductions: English, a few other languages' ("Soy Camila", "Ich bin Jonas." but not
"Ich bin Bauingenieurin bei...": German nouns take a capital too), and a lowercase name right
after a greeting and a filler or two ("yo its jayden 😅", "hiii ok so im maddie and..."), where a
capital is not expected."""


def _third_person_verb(verb: str) -> str:
    """The verb after "I", as it reads after "the user": "live" -> "lives", "am" -> "is"."""
    low = verb.lower()
    if low in {"are", "were"}:  # only ever plural: "Dorothy and I are"
        return verb
    if low in IRREGULAR:
        return IRREGULAR[low]
    if low in MODALS or low in IRREGULAR_PAST or low.endswith("ed") or not low.isalpha():
        return verb
    if re.search(r"[^aeiou]y$", low):
        return verb[:-1] + "ies"
    if re.search(r"(s|sh|ch|x|z|o)$", low):
        return verb + "es"
    return verb + "s"


def third_person(text: str) -> str:
    """Rewrite the user's first person as "the user": "I actually live in Victoria" -> "The user
    actually lives in Victoria", "my cat Miso" -> "the user's cat Miso"."""
    tokens = re.split(r"(\s+)", text)
    out: list[str] = []
    conjugate = False
    for token in tokens:
        if not token or token.isspace():
            out.append(token)
            continue
        core = re.match(r"^(\W*)([\w'\u2019]+)(\W*)$", token)
        if core is None:
            out.append(token)
            continue
        lead, word, trail = core.groups()
        low = word.lower().replace("\u2019", "'")
        if conjugate and not lead:
            if low in ADVERBS:
                out.append(token)
                continue
            word = _third_person_verb(word)
            conjugate = False
        elif low == "i":
            word, conjugate = "the user", not trail
        elif low in CONTRACTIONS:
            word = CONTRACTIONS[low]
        elif low in WORDS:
            word = WORDS[low]
        else:
            conjugate = False
        out.append(f"{lead}{word}{trail}")
    rewritten = "".join(out)
    return rewritten[:1].upper() + rewritten[1:] if rewritten.startswith("the user") else rewritten


def resolve_pronouns(text: str) -> str:
    """Name whom a "she"/"he" means when the relative was just named: "The user's sister got into
    medical school and she's over the moon" -> "... and the user's sister is over the moon"."""
    out, last, female = [], "", None
    position = 0
    for match in SUBJECT_PRONOUN.finditer(text):
        before = text[position : match.start()]
        for relative in RELATIVE.finditer(before):
            last, female = relative.group(), bool(FEMALE_WORD.search(relative.group()))
        out.append(before)
        pronoun = match.group(1).lower()
        if last and (pronoun == "she") == female:
            verb = ""
            if match.group(2):  # "she's been" is "she has been", "she's happy" is "she is happy"
                verb = " has" if match.group(3) in PARTICIPLES or match.group(3).endswith("ed") else " is"
            named = last[:1].lower() + last[1:] + verb
            starts = not out[-1].strip() or out[-1].rstrip()[-1] in ".!?"
            out.append(named[:1].upper() + named[1:] if starts else named)
        else:
            out.append(match.group())
        position = match.end()
    out.append(text[position:])
    return "".join(out)


BASE_VERBS = frozenset(
    "live work run love hate like prefer study teach play train ride drive cook bake walk swim own have do go "
    "volunteer coach manage lead write paint sing dance climb cycle hike commute rent share speak read collect "
    "grow keep use eat drink miss enjoy started finished quit retired moved joined left lost got had went came "
    "just still also usually always never often".split()
)
"""First words of a clause said without its "I" ("Live in Toowong", "Moved to Paddington in
March"); not "need" or "want", which open requests ("Need a two-line bio")."""
STATES = frozenset(
    "nervous anxious excited allergic intolerant vegetarian vegan pescatarian pregnant single married engaged "
    "divorced widowed retired unemployed tired exhausted worried scared stressed obsessed terrified new "
    "left-handed diabetic celiac coeliac colorblind deaf".split()
)
"""First words of a clause said without its "I'm" ("Nervous about the hills", "Vegetarian"); a
verb in -ing opens one too ("Training for a half marathon"), unless it is one of `ING_NOUNS`."""
ING_NOUNS = frozenset(
    "wedding morning evening ceiling spring string thing nothing something anything everything king ring sibling "
    "meeting building feeling painting clothing pudding darling housing parking ending beginning during "
    "evening's morning's wedding's offspring earring stuffing icing filling bedding".split()
)
OWNED = frozenset(
    f"{FEMALE}|{MALE}|sis|bro|cousin|kids|kid|twins|family|partner|fiance|wife's|husband's|flatmate|roommate|"
    "dog|cat|puppy|kitten|pup|rabbit|bunny|hamster|parrot|budgie|horse|pony|tortoise|turtle|fish|"
    "flat|house|apartment|car|bike|job|boss|team|shift|commute|garden".split("|")
)
"""First words of a clause said without its "my" ("Brother Luke's wife had twins")."""
FIRST_PERSON = "i|i'm|im|i've|ive|i'd|i'll|my|mine|we|we're|we've|our|myself"
"""The user speaking of themselves in English (`memory/extraction.py` adds other languages')."""
HAS_SUBJECT = re.compile(rf"\b(?:{FIRST_PERSON}|the user|the user's)\b", re.IGNORECASE)


ENGLISH = frozenset(
    "the a an and or but of to in on at for with from by is are was were be been am has have had do does did "
    "i i'm im my me we our you your it its it's this that these those he she they his her their not no so "
    "just very really can will would should could what when where which who how there here about".split()
)
FOREIGN = frozenset(
    "ich du wir und der die das ein eine einen ist sind habe hat mit für nicht auf im zu von mein meine meinen "
    "unser unsere unseren sehr auch noch schon aber oder wie ganz "
    "yo tú el los las un una y es son en con por para mi mis tengo soy que pero muy también "
    "je nous le les une et est sont du des avec pour mon ma mes j'ai suis mais très aussi "
    "eu os um uma é com meu minha não também muito "
    "io il gli è per mio sono ho anche molto "
    "ik mijn mij wij onze het een niet ook maar heel echt toch eigenlijk heb heeft".split()
)
FOREIGN_SELF = frozenset(
    "ich mein meine meinen unser unsere mi mis yo mon j'ai je eu meu minha mio mia ik mijn onze".split()
)
"""A sentence opening with one of these ("Mijn zus Lotte is zwanger!") is in another language's
first person, which the English rewriting would get wrong, however few other words it has."""
"""Function words of a few languages people mix into English (German, Spanish, French,
Portuguese, Italian, Dutch); words they share with English ("a", "in", "die") are left out or rare."""


def foreign(sentence: str) -> bool:
    """Whether a sentence is mostly in another language ("Ich habe eine Haselnussallergie, so
    Nutella is out"): its first person and grammar are not English, so it is not rewritten here."""
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", sentence.lower())
    if len(words) < 3:
        return False
    english = sum(w in ENGLISH for w in words)
    other = sum(w in FOREIGN for w in words)
    if words[0] in FOREIGN_SELF:
        return english <= other + 1
    return other >= 2 and other > english


def own_voice(clause: str) -> str | None:
    """A clause with its dropped subject put back, for people who write in fragments: "Live in
    Toowong" -> "I live in Toowong", "Nervous about the hills" -> "I'm nervous about the hills",
    "Brother Luke's wife had twins" -> "my brother Luke's wife had twins". A clause that has a
    subject is returned as it is; a bare fragment ("Paramedic", "Twelve-hour shifts") gives None,
    since its words alone do not say what it states."""
    if HAS_SUBJECT.search(clause) or _introduction(clause):
        return clause
    words = clause.split()
    first = re.sub(r"\W+$", "", words[0]).lower() if words else ""
    if first in BASE_VERBS or first in IRREGULAR_PAST or (re.search(r"[^e]ed$", first) and len(words) > 1):
        return f"I {clause[:1].lower()}{clause[1:]}"
    if first in STATES or (first.endswith("ing") and len(words) > 1 and first not in ING_NOUNS):
        return f"I'm {clause[:1].lower()}{clause[1:]}"
    if first.removesuffix("'s") in OWNED:
        return f"my {clause[:1].lower()}{clause[1:]}"
    if re.match(r"(?i)(?:the|a|an|this|that|these|those|it|it's|its|there|he|she|they|his|her|their)\b", clause):
        return clause
    second = words[1].lower() if len(words) > 1 else ""
    if second in MODALS | IRREGULAR_PAST | {"is", "are", "has", "have", "does"} or re.fullmatch(r"\w+[^e]ed", second):
        return clause  # "Luke moved to Oslo": someone else is the subject
    return None


def _introduction(text: str) -> tuple[re.Match[str], str] | None:
    for pattern in INTRODUCTIONS:
        for match in pattern.finditer(text):
            words = [w[:1].upper() + w[1:] for w in match.group(1).split()]
            if words[0].lower() not in NOT_NAMES | NOT_LOWER_NAMES:
                return match, words[0] if words[-1].lower() in NOT_NAMES else " ".join(words)
    return None


def introduced_name(text: str) -> str | None:
    """The name a self-introduction gives ("Hey, Kwame here", "Hi, I'm Noor!"), or None."""
    found = _introduction(text)
    return found[1] if found else None


def name_introductions(text: str) -> str:
    """Say a self-introduction as the fact it gives: "Hi, I'm Noor" -> "Hi, the user's name is Noor"."""
    found = _introduction(text)
    if found is None:
        return text
    match, name = found
    start = match.start(1) if match.group().lower().endswith("here") else match.start()
    return f"{text[:start]}the user's name is {name}{text[match.start(1) + len(name) :].removeprefix(' here')}"
