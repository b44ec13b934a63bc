"""classify_intent's rules and decide_memory's heuristics, as pure functions."""

from __future__ import annotations

import functools

import pytest

from config.settings import load_settings
from graph.state import intent_record
from memory.by_example import ExampleIndex
from nodes.classify_intent import classify_by_rules, told_nothing
from nodes.decide_memory import plan_memory

ROUTING = load_settings().intent_routing


@functools.cache
def example_index() -> ExampleIndex:
    """The shipped examples' classifier, fitted once for this module."""
    return ExampleIndex(load_settings().intent_examples)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hello", "greeting"),
        ("Hey there!", "greeting"),
        ("thanks a lot", "greeting"),
        ("what did I say earlier about cats?", "memory_recall"),
        ("Do you remember my sister's name?", "memory_recall"),
        ("write a python function that reverses a list", "code"),
        ("how much disk space is left", "system_info"),
        ("search the web for llama.cpp releases", "web_search"),
        ("open the browser", "app_launch"),
        ("write me a poem about autumn", "creative"),
    ],
)
def test_rules(text: str, intent: str) -> None:
    record = classify_by_rules(text, ROUTING)
    assert record is not None and record["intent_type"] == intent
    assert record["source"] == "rules"


def test_no_rule_means_unsure() -> None:
    assert classify_by_rules("roses and violets for my aunt", ROUTING) is None


@pytest.mark.parametrize(
    "text",
    ["I live in Lisbon", "What is the capital of France?", "list my reading notes, then tell me about them"],
)
def test_broad_patterns_are_gone_so_the_classifier_decides(text: str) -> None:
    """A question mark or a leading "my" said little about the intent (precision 0.15-0.65 on the examples)."""
    assert classify_by_rules(text, ROUTING) is None


def test_greeting_route_has_no_memory_and_extensions_come_from_config() -> None:
    greeting = classify_by_rules("hi", ROUTING)
    system = classify_by_rules("what's my cpu load", ROUTING)
    assert greeting is not None and greeting["needs_memory"] is False
    assert system is not None and system["required_extensions"] == ["system_info"]


@pytest.mark.parametrize(
    ("text", "intent", "needs", "use", "reason"),
    [
        ("hello", "greeting", False, False, "greeting"),
        ("what did we discuss about trains?", "memory_recall", True, True, "recall phrase"),
        ("I went hiking yesterday", "personal_info", False, True, "temporal reference"),
        ("it broke again", "conversation", False, True, "pronoun without antecedent"),
        ("how much disk space is left", "system_info", False, False, "intent is self-contained"),
        ("Why is the sky blue?", "question", True, True, "intent needs context"),
        ("My sister lives in Porto.", "personal_info", False, False, "intent is self-contained"),
    ],
)
def test_memory_heuristics(text: str, intent: str, needs: bool, use: bool, reason: str) -> None:
    plan = plan_memory(text, intent, needs)
    assert plan is not None
    assert (plan["use_short_term"], plan["reason"]) == (use, reason)


@pytest.mark.parametrize(
    ("text", "intent"),
    [("find a gym near my flat", "web_search"), ("should I back up my photos", "file_operation")],
)
def test_a_request_about_the_user_that_no_rule_covers_is_ambiguous(text: str, intent: str) -> None:
    assert plan_memory(text, intent, False) is None


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("What should you call me?", "personal_info"),
        ("Which language am I trying to pick up?", "question"),
        ("which of my files should I back up?", "file_operation"),
    ],
)
def test_a_question_about_the_user_always_looks_in_memory(text: str, intent: str) -> None:
    plan = plan_memory(text, intent, False)
    assert plan is not None and plan["use_long_term"] and plan["reason"] == "a question about the user"


class Unreachable:
    """A router model that must not be asked."""

    async def ainvoke(self, *args: object, **kwargs: object) -> object:
        raise AssertionError("the router model was asked although the examples decided")


async def test_a_message_like_an_example_is_decided_without_the_router_model() -> None:
    from nodes.classify_intent import decide

    settings = load_settings()
    examples = example_index()
    router = lambda intents: Unreachable()  # noqa: E731
    record = await decide("please fire up the music app", settings.intent_routing, router, examples)  # type: ignore[arg-type]
    assert (record["intent_type"], record["source"]) == ("app_launch", "examples")
    assert record["confidence"] >= settings.intent_routing.examples_threshold


def test_the_classifier_decides_only_when_likely_enough() -> None:
    index = ExampleIndex(
        {
            "pets": ["my dog barks at night", "the cat scratched the sofa", "my hamster escaped"],
            "weather": ["will it rain tomorrow", "is it sunny outside", "how cold is it today"],
        }
    )
    intent, probability = index.decide("the dog keeps barking all night", threshold=0.5) or ("", 0.0)
    assert intent == "pets" and probability >= 0.5
    assert index.decide("the dog keeps barking all night", threshold=0.999) is None
    ranked = index.scores("is it going to rain later")
    assert ranked[0][0] == "weather" and abs(sum(p for _, p in ranked) - 1) < 1e-6


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("honestly no clue how much room is left on this laptop", "system_info"),
        ("pls jot 'buy milk' into my shopping list file", "file_operation"),
        ("Hi, I'm Sam and I teach chemistry", "personal_info"),
        ("how do you get candle wax off a tablecloth", "question"),
        ("whats my nephew called again, I told you last week", "memory_recall"),
    ],
)
async def test_the_classifier_routes_messages_no_rule_covers(text: str, intent: str) -> None:
    from nodes.classify_intent import decide

    settings = load_settings()
    record = await decide(text, settings.intent_routing, None, example_index())
    assert (record["intent_type"], record["source"]) == (intent, "examples")


class Chooser:
    """A scripted router: records the intents it may choose from, and picks one."""

    def __init__(self, pick: str) -> None:
        self.pick = pick
        self.offered: list[str] = []

    def make(self, intents: list[str]) -> Chooser:
        self.offered = intents
        return self

    async def ainvoke(self, *args: object, **kwargs: object) -> dict[str, object]:
        return {"intent": self.pick, "confidence": 0.3}


async def test_an_unsure_classifier_lets_the_router_choose_among_its_top_candidates() -> None:
    from nodes.classify_intent import decide

    routing = load_settings().intent_routing.model_copy(update={"examples_threshold": 1.0})  # always unsure
    examples = example_index()
    text = "my laptop fan is loud, what's eating the processor"
    top = [i for i, _ in examples.scores(text)[: routing.router_candidates]]
    chooser = Chooser(top[1])
    record = await decide(text, routing, chooser.make, examples)  # type: ignore[arg-type]
    assert chooser.offered == top and len(top) == routing.router_candidates
    assert (record["intent_type"], record["source"]) == (top[1], "router")
    outside = Chooser(next(i for i in routing.intents if i not in top))
    record = await decide(text, routing, outside.make, examples)  # type: ignore[arg-type]
    assert (record["intent_type"], record["source"]) == (top[0], "examples")  # an answer outside the list is ignored


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("whats my lizard called again", "memory_recall"),  # asks about the user, tells nothing
        ("And which town do we live in, just so I know you've got it?", "memory_recall"),
        ("I live in Leeds now. Any good pubs?", "personal_info"),  # tells something: still telling
        ("My dog is called Rex.", "personal_info"),
    ],
)
def test_a_question_that_tells_nothing_about_the_user_is_recall_not_telling(text: str, intent: str) -> None:
    telling = intent_record(ROUTING, "personal_info", 0.8, "examples")
    assert told_nothing(telling, text, ROUTING)["intent_type"] == intent
    question = intent_record(ROUTING, "question", 0.8, "examples")
    assert told_nothing(question, text, ROUTING) == question  # only "telling" is checked
