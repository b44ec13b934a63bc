"""Learning: grounding, ADD / UPDATE / DELETE / NONE decisions, and the background learner."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import pytest

from config.settings import load_settings
from memory.by_example import RemarkFilter
from memory.extraction import Fact, extract_facts, grounded, statement_parts, statements, worth_learning
from memory.learnings import Decision, Learner, decide
from memory.store import MemoryRecord
from tests.fakes import ScriptedChatModel


def facts_reply(*texts: str) -> str:
    return json.dumps({"facts": [{"text": t, "kind": "fact"} for t in texts]})


def decision_reply(action: str, target: int = 0, text: str = "") -> str:
    return json.dumps({"action": action, "target": target, "text": text})


class FakeStore:
    def __init__(self, records: list[MemoryRecord] | None = None) -> None:
        self.records = {r.id: r for r in records or []}
        self.calls: list[tuple[str, ...]] = []

    def search(
        self, query: str, user_id: str, limit: int | None = None, threshold: float | None = None
    ) -> list[MemoryRecord]:
        return list(self.records.values())

    def add(self, text: str, user_id: str, kind: str = "fact", metadata: dict[str, Any] | None = None) -> None:
        self.calls.append(("add", text))
        self.records[f"new{len(self.records)}"] = MemoryRecord(id=f"new{len(self.records)}", text=text)

    def update(self, memory_id: str, text: str, metadata: dict[str, Any] | None = None) -> None:
        self.calls.append(("update", memory_id, text))
        self.records[memory_id] = MemoryRecord(id=memory_id, text=text)

    def delete(self, memory_id: str) -> None:
        self.calls.append(("delete", memory_id))
        del self.records[memory_id]


PORTO = MemoryRecord(id="m1", text="The user's sister Lena lives in Porto", score=0.7)


@pytest.mark.parametrize(
    ("fact", "source", "ok"),
    [
        ("The user's sister Lena lives in Porto", "My sister Lena lives in Porto.", True),
        ("The user's sister Lena lives in Paris", "My sister Lena lives in Porto.", False),
        ("The user owns a yacht", "I like boats", False),
        ("The user prefers green tea", "I really prefer green tea", True),
        ("The user lives in Sapporo", "I live in Sapporo, so keep that in mind.", True),
        ("The user booked a dentist appointment", "Finally booked the dentist", True),
        ("The user lives in Sapporo", "I love Sapporo", False),
        ("The user teaches maths to Year 9.", "I teach maths to Year 9", True),  # short numbers, a final stop
        ("The user moved to Amersfoort in February 2026.", "I moved to Amersfoort in February 2026", True),
        ("The user teaches maths to Year 10.", "I teach maths to Year 9", False),
    ],
)
def test_grounding(fact: str, source: str, ok: bool) -> None:
    assert grounded(fact, source) is ok


def keyed_reply(*facts: tuple[str, str, str]) -> str:
    """Facts as the extractor gives them: (text, subject, attribute)."""
    return json.dumps({"facts": [{"text": t, "subject": s, "attribute": a, "kind": "fact"} for t, s, a in facts]})


def keyed(memory_id: str, text: str, subject: str, attribute: str) -> MemoryRecord:
    return MemoryRecord(id=memory_id, text=text, score=0.7, metadata={"subject": subject, "attribute": attribute})


THURSDAY = datetime(2026, 3, 5, 18, 40)


async def test_a_fact_inside_a_question_is_learned_from_its_statement_only() -> None:
    store = FakeStore()
    model = ScriptedChatModel().enqueue(keyed_reply(("The user is learning Portuguese", "user", "language")))
    text = "Since I'm learning Portuguese at the moment, which podcasts would you recommend for beginners?"
    assert worth_learning(text, "question")
    decisions = await Learner(store, model).learn("u", text, now=THURSDAY)
    # the question is not sent, and the statement is in the third person
    assert model.prompts[0][-1].text == "Since the user is learning Portuguese at the moment."
    assert [d.action for d in decisions] == ["ADD"] and store.calls == [("add", "The user is learning Portuguese")]


async def test_an_introduction_is_learned_even_inside_a_greeting() -> None:
    store = FakeStore()
    model = ScriptedChatModel().enqueue(keyed_reply(("The user's name is Noor", "user", "name")))
    text = "Hi, I'm Noor! Could you help me plan dinners for the week?"
    assert worth_learning(text, "greeting")
    await Learner(store, model).learn("u", text, now=THURSDAY)
    assert model.prompts[0][-1].text == "Hi, the user's name is Noor."
    assert store.calls == [("add", "The user's name is Noor")]


async def test_a_correction_replaces_the_value_without_asking_the_model_and_keeps_the_old_in_history() -> None:
    store = FakeStore([keyed("m1", "The user lives in Paris", "user", "home")])
    model = ScriptedChatModel().enqueue(keyed_reply(("The user lives in Berlin", "user", "home")))
    decisions = await Learner(store, model).learn("u", "I moved: I live in Berlin now, not Paris", now=THURSDAY)
    assert [(d.action, d.reason) for d in decisions] == [("UPDATE", "new home of user")]
    assert store.calls == [("update", "m1", "The user lives in Berlin")]  # mem0 keeps "Paris" in the history
    assert len(model.prompts) == 1  # extraction only: the update needed no second model call


async def test_an_update_never_erases_an_unrelated_detail() -> None:
    exam = keyed("m1", "The user's sister Lena has her driving test on 12 March 2026", "sister lena", "event")
    store = FakeStore([exam])
    model = ScriptedChatModel().enqueue(keyed_reply(("Lena is very nervous", "sister lena", "mood")))
    decisions = await Learner(store, model).learn("u", "Lena is very nervous about it.", now=THURSDAY)
    assert [d.action for d in decisions] == ["ADD"]
    assert store.records["m1"] == exam and store.calls == [("add", "Lena is very nervous")]


async def test_relative_dates_are_made_absolute_from_when_it_was_said() -> None:
    store = FakeStore()
    model = ScriptedChatModel().enqueue(keyed_reply(("The user's sister visits next week", "sister", "plan")))
    [decision] = await Learner(store, model).learn("u", "My sister visits next week!", now=THURSDAY)
    assert decision.fact.text == "The user's sister visits in the week of 9 March 2026"
    assert decision.fact.metadata == {
        "subject": "sister",
        "attribute": "plan",
        "period_start": "2026-03-09",
        "period_end": "2026-03-15",
        "said_at": THURSDAY.isoformat(timespec="minutes"),
    }
    assert "Thursday 2026-03-05" in model.prompts[0][0].text  # the model is told today's date too
    assert model.prompts[0][-1].text == "The user's sister visits in the week of 9 March 2026."  # and sees it resolved


async def test_a_date_the_model_dropped_is_given_back_from_the_sentence_it_came_from() -> None:
    model = ScriptedChatModel().enqueue(keyed_reply(("Lena is taking her driving test", "sister lena", "event")))
    text = "Lena has her driving test next Friday. Pizza tonight!"
    [decision] = await Learner(FakeStore(), model).learn("u", text, now=THURSDAY)
    assert decision.fact.text == "Lena is taking her driving test on 13 March 2026"
    assert decision.fact.metadata["period_start"] == "2026-03-13"


@pytest.mark.parametrize(
    "text",
    [
        "Name a famous painter from Spain?",
        "what's the capital of Peru",
        "How do I get my kid to sleep?",
        "Which language am I trying to pick up?",
        "write me a poem about cats",
        "thanks!",
        "wat shud i pack for a festival",
    ],
)
async def test_a_pure_question_or_request_learns_nothing(text: str) -> None:
    model = ScriptedChatModel().enqueue(keyed_reply(("The user has seen a painting", "user", "other")))
    assert not worth_learning(text, "question")
    assert await Learner(FakeStore(), model).learn("u", text) == []
    assert model.prompts == []  # the model is not even asked


def test_worth_learning_skips_questions_requests_and_greetings() -> None:
    assert worth_learning("My sister Lena lives in Porto.", "personal_info")
    assert not worth_learning("where does Lena live?", "question")
    assert not worth_learning("write me a poem about cats", "creative")
    assert not worth_learning("ok", "conversation")


async def test_extraction_drops_invented_and_repeated_facts() -> None:
    model = ScriptedChatModel().enqueue(
        facts_reply("The user's sister Lena lives in Porto", "The user is a pilot", "Lena lives in Porto")
    )
    facts = await extract_facts(model, "My sister Lena lives in Porto.")
    assert [f.text for f in facts] == ["The user's sister Lena lives in Porto"]


async def test_decisions() -> None:
    fact = Fact("Lena moved to Lyon")
    assert (await decide(ScriptedChatModel(), fact, [])).action == "ADD"
    known = await decide(ScriptedChatModel(), Fact("The user's sister Lena lives in Porto."), [PORTO])
    assert known.action == "NONE"  # same content words: no model call needed
    update = await decide(
        ScriptedChatModel().enqueue(decision_reply("UPDATE", 1, "The user's sister Lena lives in Lyon")), fact, [PORTO]
    )
    assert (update.action, update.target, update.fact.text) == ("UPDATE", PORTO, "The user's sister Lena lives in Lyon")
    invented = await decide(
        ScriptedChatModel().enqueue(decision_reply("UPDATE", 1, "Lena is a pilot in Oslo")), fact, [PORTO]
    )
    assert invented.fact.text == "Lena moved to Lyon"  # an ungrounded merge falls back to the new fact
    echoed = await decide(
        ScriptedChatModel().enqueue(decision_reply("UPDATE", 1, "The user's sister Lena lives in Porto")), fact, [PORTO]
    )
    assert echoed.fact.text == "Lena moved to Lyon"  # an "update" that repeats the old memory changes nothing
    delete = await decide(ScriptedChatModel().enqueue(decision_reply("DELETE", 1)), Fact("Lena left Porto"), [PORTO])
    assert (delete.action, delete.target) == ("DELETE", PORTO)
    stray = await decide(ScriptedChatModel().enqueue(decision_reply("UPDATE", 7)), fact, [PORTO])
    assert stray.action == "ADD"


async def test_learner_runs_in_background_and_applies_in_order() -> None:
    store = FakeStore([PORTO])
    model = ScriptedChatModel().enqueue(
        facts_reply("Lena moved to Lyon"),
        decision_reply("UPDATE", 1, "The user's sister Lena lives in Lyon"),
        facts_reply("The user adopted a cat named Miso"),
        decision_reply("ADD"),
    )
    learner = Learner(store, model)
    assert learner.submit("t", "u", "Lena moved to Lyon.", "conversation")
    assert learner.submit("t", "u", "I adopted a cat named Miso.", "personal_info")
    assert not learner.submit("t", "u", "what time is it?", "question")
    await learner.wait("t")
    await learner.drain()
    assert store.calls == [
        ("update", "m1", "The user's sister Lena lives in Lyon"),
        ("add", "The user adopted a cat named Miso"),
    ]
    assert [d.action for d in learner.results["t"]] == ["ADD"]


async def test_a_failing_model_still_keeps_what_the_user_said_about_themselves() -> None:
    learner = Learner(FakeStore(), ScriptedChatModel().enqueue(ValueError("bad json")))
    learner.submit("t", "u", "I live in Lisbon now", "personal_info")
    await asyncio.wait_for(learner.drain(), 5)
    [decision] = learner.results["t"]
    assert (decision.action, decision.fact.attribute) == ("ADD", "home")
    assert decision.fact.text == "The user lives in Lisbon now."


async def test_learner_failure_is_contained() -> None:
    class BrokenStore(FakeStore):
        def add(self, text: str, user_id: str, kind: str = "fact", metadata: dict[str, Any] | None = None) -> None:
            raise OSError("disk full")

    learner = Learner(BrokenStore(), ScriptedChatModel().enqueue(facts_reply("The user lives in Lisbon")))
    learner.submit("t", "u", "I live in Lisbon now", "personal_info")
    await asyncio.wait_for(learner.drain(), 5)
    assert learner.results["t"] == []
    assert isinstance(Decision("ADD", Fact("x")), Decision)


async def test_a_statement_the_model_missed_is_kept_in_the_users_words_about_the_user() -> None:
    model = ScriptedChatModel().enqueue(keyed_reply(("The user's sister is over the moon", "sister", "mood")))
    text = "My sister just got into medical school and she's over the moon. What's a nice gift?"
    facts = await extract_facts(model, text, THURSDAY)
    assert model.prompts[0][-1].text == (
        "The user's sister just got into medical school and the user's sister is over the moon."
    )
    assert [(f.text, f.subject) for f in facts] == [
        ("The user's sister is over the moon", "sister"),
        ("The user's sister just got into medical school.", "sister"),  # the clause the model left out
    ]


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        (
            "Our elderly cat, Marmaduke, has stopped eating his dry food; what might be wrong?",
            "Our elderly cat Marmaduke has stopped eating his dry food.",  # one subject: the name's commas go
        ),
        (
            "ER nurse, 12-hr shifts at St. Luke's. Good crockpot stuff to leave going all day?",
            "ER nurse, 12-hr shifts at St. Luke's.",  # an abbreviation's stop ends no sentence
        ),
        (
            "The day after tomorrow (overmorgen!) my opa turns 90. Can you help with a speech?",
            "The day after tomorrow (overmorgen) my opa turns 90.",  # nor does an aside's
        ),
        (
            "my bearded dragon nacho hasnt eaten in like 2 days is that bad?? hes 3",
            "my bearded dragon nacho hasnt eaten in like 2 days. hes 3.",  # a run-on question is cut off
        ),
        ("I teach maths to Year 9, so do you have a fun way to explain negatives?", "I teach maths to Year 9."),
        ("My dad, who is 70, has surgery Tuesday, what should he pack?", "My dad, who is 70, has surgery Tuesday."),
        ("Name's Dana. Need a two-line bio.", "Name's Dana. Need a two-line bio."),  # "name" opens no request here
    ],
)
def test_a_question_keeps_its_statement_whole(said: str, kept: str) -> None:
    assert statements(said) == kept


async def test_a_fact_that_lost_whom_it_is_about_is_said_as_the_user_said_it() -> None:
    model = ScriptedChatModel().enqueue(
        keyed_reply(
            ("Bruno has started chewing the sofa cushions", "Bruno", "pet"),
            ("pretty down", "brother", "mood"),
            ("Lena is nervous", "Lena", "mood"),
        )
    )
    text = (
        "Our dog Bruno has started chewing the sofa cushions. My brother got laid off and he's pretty down. "
        "Lena is nervous."
    )
    facts = await extract_facts(model, text, THURSDAY)
    assert [f.text for f in facts] == [
        "The user's dog Bruno has started chewing the sofa cushions.",
        "The user's brother is pretty down.",
        "Lena is nervous",  # not about the user: as the model said it
        "The user's brother got laid off.",
    ]


async def test_facts_of_one_message_never_replace_each_other() -> None:
    store = FakeStore()
    model = ScriptedChatModel().enqueue(  # the small model labels the mood with the event's attribute
        keyed_reply(
            ("The user's sister got into medical school", "sister", "school"),
            ("The user's sister is over the moon", "sister", "school"),
        )
    )
    text = "My sister got into medical school and she's over the moon."
    decisions = await Learner(store, model).learn("u", text, now=THURSDAY)
    assert [d.action for d in decisions] == ["ADD", "ADD"] and len(store.records) == 2


async def test_a_mislabelled_attribute_does_not_replace_an_unrelated_memory() -> None:
    school = keyed("m1", "The user's sister got into medical school", "sister", "school")
    store = FakeStore([school])
    model = ScriptedChatModel().enqueue(keyed_reply(("The user's sister is over the moon", "sister", "school")))
    [decision] = await Learner(store, model).learn("u", "My sister is over the moon.", now=THURSDAY)
    assert decision.action == "ADD" and store.records["m1"] == school


async def test_a_statement_routed_as_a_recall_question_is_still_learned_but_a_fragment_is_not() -> None:
    assert worth_learning("My dad's hip surgery is this coming Tuesday. What should he pack?", "memory_recall")
    model = ScriptedChatModel().enqueue(keyed_reply())
    assert await extract_facts(model, "whats my nephew called again, I told you last week") == []


async def test_an_introduction_the_model_also_gave_is_learned_once() -> None:
    store = FakeStore()
    model = ScriptedChatModel().enqueue(keyed_reply(("The user's name is Noor", "Noor", "name")))
    await Learner(store, model).learn("u", "Hi, I'm Noor! Could you help me plan dinners?", now=THURSDAY)
    assert store.calls == [("add", "The user's name is Noor")]


async def test_an_introduction_gives_the_name_even_when_the_model_says_nothing() -> None:
    facts = await extract_facts(ScriptedChatModel().enqueue(keyed_reply()), "Hey, Kwame here. Quick one: any tips?")
    assert [(f.text, f.attribute, f.subject) for f in facts] == [("The user's name is Kwame", "name", "user")]


async def test_remarks_about_the_conversation_and_fragments_are_not_facts() -> None:
    model = ScriptedChatModel().enqueue(
        keyed_reply(("I told you Vancouver", "user", "other"), ("The user's island Victoria", "user", "home"))
    )
    facts = await extract_facts(model, "Wait, I told you Vancouver, but I actually live in Victoria, on the island.")
    assert [(f.text, f.attribute) for f in facts] == [("The user actually lives in Victoria.", "home")]


async def test_exchanges_are_kept_for_questions_too_but_not_greetings() -> None:
    kept: list[tuple[str, str, str, str]] = []

    class Exchanges:
        def add(self, user_id: str, thread_id: str, user_text: str, answer: str, ts: float | None = None) -> str:
            kept.append((user_id, thread_id, user_text, answer))
            return "x"

    learner = Learner(FakeStore(), ScriptedChatModel(), conversations=Exchanges())
    assert learner.submit("t", "u", "what's a good sourdough hydration?", "question", answer="About 75%.")
    assert not learner.submit("t", "u", "hello", "greeting", answer="Hi!")
    assert not learner.submit("t", "u", "why?", "question", answer="")  # nothing answered, nothing kept
    await learner.drain()
    assert kept == [("u", "t", "what's a good sourdough hydration?", "About 75%.")]
    assert learner.results["t"] == []  # a question states no facts: no extraction ran


async def test_listeners_hear_every_memory_write() -> None:
    store = FakeStore([PORTO])
    model = ScriptedChatModel().enqueue(
        facts_reply("Lena moved to Lyon"), decision_reply("UPDATE", 1, "The user's sister Lena lives in Lyon")
    )
    learner = Learner(store, model)
    heard: list[dict[str, object]] = []
    learner.listeners.append(heard.append)
    learner.submit("t9", "u", "Lena moved to Lyon.", "conversation")
    await learner.drain()
    assert isinstance(heard[0].pop("ms"), float)  # how long the write took (telemetry)
    assert heard == [
        {
            "event": "memory_write",
            "thread_id": "t9",
            "action": "UPDATE",
            "text": "The user's sister Lena lives in Lyon",
            "replaces": "The user's sister Lena lives in Porto",
        }
    ]


async def test_terse_fragments_are_learned_in_the_users_words_when_the_model_reads_a_fact_in_them() -> None:
    model = ScriptedChatModel().enqueue(
        json.dumps({"facts": [{"subject": "user", "attribute": "job", "text": "Paramedic", "kind": "fact"}]})
    )
    facts = await extract_facts(model, "Paramedic. Quick snack ideas. Live in Toowong. Which snacks keep?", THURSDAY)
    assert [f.text for f in facts] == ["The user said: Paramedic.", "The user lives in Toowong."]
    sent = model.prompts[0][-1].text
    assert 'The user wrote: "Paramedic."' in sent and "The user lives in Toowong." in sent
    # "Quick snack ideas." is a fragment the model read nothing in: it is not a memory


async def test_a_question_without_a_question_mark_is_still_cut_off() -> None:
    said = "my flat in salford has no oven just a microwave, any easy meals u can reccomend"
    assert statements(said) == "my flat in salford has no oven just a microwave."
    assert statements("yo its jayden 😅 wats a good caption for a gym selfie pls") == "yo its jayden."
    assert statements("Tengo un gatito, Churro, he's 6 months old — ¿cómo lo paro?").startswith("Tengo un gatito")


async def test_of_a_facts_variants_only_the_one_in_the_users_words_is_kept() -> None:
    said = "My aunt Bea turns sixty and booked the back room at Bellini's for her birthday dinner."
    model = ScriptedChatModel().enqueue(
        facts_reply(
            "The user's aunt Bea booked the back room at Bellini's for her wedding dinner",
            "The user's aunt Bea booked the back room at Bellini's for her birthday dinner",
            "The user's aunt Bea booked the back room at Bellini's for her anniversary dinner",
        )
    )
    facts = await extract_facts(model, said, THURSDAY)
    assert [f.text for f in facts if "Bellini" in f.text] == [
        "The user's aunt Bea booked the back room at Bellini's for her birthday dinner"
    ]


@pytest.mark.parametrize(
    "said",
    [
        "I'm almost embarrassed to ask, but what's the difference between affect and effect?",
        "I can never keep these straight: is it 'lie down' or 'lay down'?",
        "how do u spell rhythm i always get it wrong lol",  # only a pronoun for what is asked
        "What does 'petrichor' mean? I read it yesterday and, sorry to say, was completely stumped.",
        "Is a tomato a fruit or a vegetable? I confess I have always muddled the two.",
    ],
)
async def test_a_remark_about_the_asking_itself_is_not_a_fact(said: str) -> None:
    model = ScriptedChatModel().enqueue(facts_reply())
    assert await extract_facts(model, said, THURSDAY) == []
    invented = ScriptedChatModel().enqueue(facts_reply("The user read it yesterday", "The user always gets it wrong"))
    assert await extract_facts(invented, said, THURSDAY) == []


@pytest.fixture(scope="module")
def remark_filter() -> RemarkFilter:
    settings = load_settings()
    return RemarkFilter(settings.remark_examples, settings.memory.remark_threshold)


@pytest.mark.parametrize(
    "said",
    [  # remarks no regular expression of memory.extraction foresees; the classifier reads them
        "whats 7 times 8? my head is not working this morning",
        "Which is heavier, a kilo of feathers or of steel? I'm trying to win an argument here.",
        "Quick one before my coffee kicks in: how many cups in a litre?",
    ],
)
async def test_a_passing_remark_beside_a_question_is_not_learned(remark_filter: RemarkFilter, said: str) -> None:
    assert statement_parts(said)  # a statement the regular expressions keep: the classifier decides
    invented = ScriptedChatModel().enqueue(facts_reply("The user's head is not working", "The user is arguing"))
    assert await extract_facts(invented, said, THURSDAY, remark_filter) == []
    assert invented.prompts == []  # nothing left to read: the model is not even asked


@pytest.mark.parametrize(
    ("said", "fact", "kept"),
    [
        ("I can't stand coriander, it tastes of soap. Salsa ideas?", "The user can't stand coriander", "coriander"),
        ("Our cat Miso knocked my coffee over again. How do I dry a keyboard?", "The user's cat is named Miso", "miso"),
        ("update: the recital moved to the 12th. what should she wear?", "The recital moved to the 12th", "recital"),
        (
            "ok hii so im tomasz and i need help w my essay lol. how long is a paragraph",
            "The user's name is Tomasz",
            "tomasz",
        ),
        (
            "so i work at a garden centre and my boss wants a sign. wording ideas?",
            "The user works at a garden centre",
            "garden",
        ),
    ],
)
async def test_a_lasting_fact_beside_a_question_is_still_learned(
    remark_filter: RemarkFilter, said: str, fact: str, kept: str
) -> None:
    model = ScriptedChatModel().enqueue(facts_reply(fact))
    facts = await extract_facts(model, said, THURSDAY, remark_filter)
    assert model.prompts and any(kept in f.text.lower() for f in facts), facts


async def test_a_relative_named_between_commas_stays_the_subject_of_the_clause() -> None:
    model = ScriptedChatModel().enqueue(facts_reply("Has been made a partner at the firm"))
    said = "Great news yesterday: our son, Tomasz, has been made a partner at the firm where he works. Card ideas?"
    facts = [f.text for f in await extract_facts(model, said, THURSDAY)]
    assert not any(f.startswith("Has been") for f in facts)
    assert any(f.startswith("The user's son Tomasz has been made a partner") for f in facts), facts


async def test_the_framing_of_a_fragment_never_becomes_a_memory() -> None:
    model = ScriptedChatModel().enqueue(facts_reply("The user wrote: 'Something playful, if you can'"))
    assert await extract_facts(model, "Something playful, if you can. Theme ideas?", THURSDAY) == []


async def test_a_sentence_in_another_language_is_kept_as_said_when_the_model_reads_a_fact_in_it() -> None:
    model = ScriptedChatModel().enqueue(facts_reply("The user is allergic to hazelnuts, so Nutella is out"))
    said = "Ich habe eine Haselnussallergie, so Nutella is out, leider. Kannst du mir ein Rezept geben?"
    facts = await extract_facts(model, said, THURSDAY)
    assert [f.text for f in facts] == ["The user said: Ich habe eine Haselnussallergie, so Nutella is out, leider."]
    assert 'The user wrote: "Ich habe eine Haselnussallergie' in model.prompts[0][-1].text  # not "rewritten"


async def test_a_fragment_the_model_repeats_without_a_subject_is_kept_as_the_users() -> None:
    model = ScriptedChatModel().enqueue(facts_reply("Surf fishing most weekends"))
    facts = await extract_facts(model, "Surf fishing most weekends. Best tide for red drum?", THURSDAY)
    assert [f.text for f in facts] == ["The user said: Surf fishing most weekends."]


async def test_a_remark_to_the_assistant_is_not_a_fact() -> None:
    model = ScriptedChatModel().enqueue(facts_reply("The user hopes you will forgive the long message"))
    said = "I hope you will forgive the long message. What is a good book on bridges?"
    assert await extract_facts(model, said, THURSDAY) == []


async def test_a_fragment_addressed_to_the_assistant_is_not_kept() -> None:
    model = ScriptedChatModel().enqueue(facts_reply("Hope you don't mind"))
    assert await extract_facts(model, "Hope you don't mind. Capital of Peru?", THURSDAY) == []


@pytest.mark.parametrize(
    ("fact", "attribute"),
    [
        ("The user starts at the garden centre on Monday instead", "workplace"),  # a new job replaces the old
        ("The user starts at 9 on Mondays", None),  # a time, not a place
        ("The user's grandmother turns 80 on 7 March 2026", "birthday"),
    ],
)
def test_the_wording_shows_the_attribute(fact: str, attribute: str | None) -> None:
    from memory.extraction import worded_attribute

    assert worded_attribute(fact) == attribute


async def test_we_stays_one_subject_when_the_statement_is_kept_as_said() -> None:
    model = ScriptedChatModel().enqueue(facts_reply("The user lives in Utrecht, Netherlands"))  # "Netherlands": unsaid
    facts = await extract_facts(model, "We live in Utrecht, near the canal. Fun things to show visitors?", THURSDAY)
    assert [f.text for f in facts] == ["The user and their family live in Utrecht."]
