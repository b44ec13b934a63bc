"""classify_intent's rules and decide_memory's heuristics, as pure functions."""

from __future__ import annotations

import pytest

from config.settings import load_settings
from nodes.classify_intent import classify_by_rules
from nodes.decide_memory import plan_memory

ROUTING = load_settings().intent_routing


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
        ("list the files in my documents folder", "file_operation"),
        ("search the web for llama.cpp releases", "web_search"),
        ("open the browser", "app_launch"),
        ("write me a poem about autumn", "creative"),
        ("I live in Lisbon", "personal_info"),
        ("What is the capital of France?", "question"),
        ("the capital of France is Paris?", "question"),
    ],
)
def test_rules(text: str, intent: str) -> None:
    record = classify_by_rules(text, ROUTING)
    assert record is not None and record["intent_type"] == intent
    assert record["source"] == "rules"


def test_no_rule_means_unsure() -> None:
    assert classify_by_rules("roses and violets for my aunt", ROUTING) is None


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
    [("find a gym near my flat", "web_search"), ("which of my files should I back up?", "file_operation")],
)
def test_a_question_about_the_user_that_no_rule_covers_is_ambiguous(text: str, intent: str) -> None:
    assert plan_memory(text, intent, False) is None


class Unreachable:
    """A router model that must not be asked."""

    async def ainvoke(self, *args: object, **kwargs: object) -> object:
        raise AssertionError("the router model was asked although the examples decided")


async def test_a_message_like_an_example_is_decided_without_the_router_model() -> None:
    from nodes.classify_intent import decide
    from nodes.intent_examples import ExampleIndex

    settings = load_settings()
    examples = ExampleIndex(settings.intent_examples)
    record = await decide("please fire up the music app", settings.intent_routing, lambda: Unreachable(), examples)  # type: ignore[arg-type,return-value]
    assert (record["intent_type"], record["source"]) == ("app_launch", "examples")
    assert record["confidence"] >= settings.intent_routing.examples_threshold


def test_examples_decide_only_when_clearly_ahead() -> None:
    from nodes.intent_examples import ExampleIndex

    index = ExampleIndex({"pets": ["my dog barks at night"], "weather": ["will it rain tomorrow"]})
    intent, score = index.decide("the dog keeps barking all night", threshold=0.3, margin=0.05) or ("", 0.0)
    assert intent == "pets" and score > 0.3
    assert index.decide("the dog keeps barking all night", threshold=0.99, margin=0.0) is None  # not similar enough
    assert index.decide("the dog keeps barking all night", threshold=0.0, margin=0.99) is None  # not clearly ahead
    ranked = index.scores("is it going to rain later")
    assert ranked[0][0] == "weather" and ranked[0][1] > ranked[1][1]
