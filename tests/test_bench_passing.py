"""`sena bench passing`: keyword scoring, where a miss is placed, and the harness on a scripted model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from bench.passing import (
    NOT_LEARNED,
    NOT_RETRIEVED,
    NOT_USED,
    RECALLED,
    mentions,
    question_kind,
    replaced_values,
    run,
    score,
)
from config.settings import Settings
from tests.fakes import ScriptedChatModel, ScriptedModels


@pytest.mark.parametrize(
    ("text", "keyword", "expected"),
    [
        ("You're Noor's assistant", "noor", True),
        ("You teach maths", "math", True),
        ("He was made redundant", "redundan", True),
        ("It is on the 10th of March", "10 march", True),
        ("Tuesday, March 10th, 2026", "march 10", True),
        ("On 2026-03-10", "2026-03-10", True),
        ("A plant-based diet", "plant based", True),
        ("You don\u2019t like cooking", "don't like", True),
        ("You do not like cooking", "don't like", True),
        ("You like cooking", "don't like", False),
        ("Your ceramics class began on Oct 30", "oct 3", False),
        ("You work in syntax", "tax", False),
        ("Your pet is a parrot", "parrots", True),
    ],
)
def test_mentions_accepts_simple_variants_only(text: str, keyword: str, expected: bool) -> None:
    assert mentions(text, keyword) is expected


def test_a_correction_is_found_by_the_name_it_repeats() -> None:
    said = [
        "Can you help me write a polite email to my landlord here in Utrecht about the broken heater?",
        "What's the capital of Australia?",
        "Actually, correction: I don't live in Utrecht anymore, I moved to Amersfoort last month. Can you fix it?",
    ]
    replaced = replaced_values(said, [0])
    assert replaced == {2: {"Utrecht"}}
    assert question_kind({"fact_index": 2, "expect_any": ["amersfoort"]}, [0], replaced) == "update"
    assert question_kind({"fact_index": 0, "expect_any": ["utrecht"]}, [0], replaced) == "superseded"
    assert question_kind({"fact_index": 1, "expect_any": ["2026-03-10"]}, [0], replaced) == "dated"


def test_each_miss_is_placed_where_the_fact_was_lost() -> None:
    question = {"question": "Which town is my home now?", "expect_any": ["amersfoort"], "fact_index": 2}
    fact = [{"source": "long_term", "text": "The user moved to Amersfoort"}]
    stale = score(question, "You live in Utrecht.", [], ["The user lives in Amersfoort"], "update", {"Utrecht"})
    assert stale["category"] == NOT_RETRIEVED and stale["stale"] and not stale["correct"]
    assert score(question, "Amersfoort!", fact, ["The user moved to Amersfoort"])["category"] == RECALLED
    refused = score(question, "I don't have access to your personal information.", fact, [])
    assert refused["category"] == NOT_USED and refused["refusal"] and refused["retrieved_from"] == ["long_term"]
    assert score(question, "No idea.", [], ["The user likes tea"])["category"] == NOT_LEARNED


FACTS = {"The user's dog Rex chews the sofa cushions": "The user's dog is called Rex"}  # "any tips" is a question


class Assistant(ScriptedChatModel):
    """Extracts the scripted facts, and answers from the memories in its prompt, or refuses."""

    def _next(self, messages: list[BaseMessage]) -> str:
        self.prompts.append(messages)
        system = [m.text for m in messages if m.type == "system"]
        if "lasting facts" in " ".join(system):
            fact = FACTS.get(messages[-1].text.rstrip("?.!"))
            return json.dumps({"facts": [{"text": fact, "kind": "fact"}] if fact else []})
        context, asked, _ = messages[-1].text.rpartition("My message: ")
        if asked:  # generate puts memories and exchanges in the user's message, before the question
            return "From what I remember: " + context
        return "I don't have access to your personal information."


@pytest.mark.slow  # the real memory store: MiniLM on onnxruntime, mem0 and Qdrant Edge (a few seconds)
async def test_the_harness_counts_memories_and_scores_answers(settings: Settings, tmp_path: Path) -> None:
    data = tmp_path / "sets.json"
    data.write_text(
        json.dumps(
            {
                "format": "sena-facts-in-passing/1",
                "sets": [
                    {
                        "id": "t1",
                        "user": "test",
                        "said_at": "2026-03-05T18:40",
                        "said": ["My dog Rex chews the sofa cushions, any tips.", "What is the capital of Peru?"],
                        "asked": [
                            {"question": "What is my dog called?", "expect_any": ["rex"], "fact_index": 0},
                            {"question": "Which city do I live in?", "expect_any": ["lima"], "fact_index": 1},
                        ],
                        "pure_questions": [1],
                        "superseded": [],
                    }
                ],
            }
        )
    )
    settings.intent_routing.use_router_model = False
    settings.intent_routing.use_examples = False
    settings.memory.ask_model_when_unsure = False
    settings.extensions.enabled = False
    models = ScriptedModels()
    models.models["main"] = Assistant(name="main")

    report = await run(settings, path=data, models=models)

    found: dict[str, Any] = report["sets"]["t1"]
    # the model's fact, and the clause it left out, kept as said
    learned = ["The user's dog Rex chews the sofa cushions.", "The user's dog is called Rex"]
    assert found["memories"] == learned
    assert sorted(found["said"][0]["created"]) == learned and found["said"][1]["created"] == []
    assert found["memories_from_pure_questions"] == 0 and found["memories_total"] == 2
    assert found["said"][0]["learning_started"]
    assert found["questions"][0]["searched"] and found["questions"][0]["snippets"] >= 1
    rex, lima = found["questions"]
    assert rex["correct"] and rex["category"] == RECALLED and "long_term" in rex["retrieved_from"]
    assert not lima["correct"] and lima["category"] == NOT_LEARNED and lima["refusal"]
    overall = report["overall"]
    assert (overall["facts_recalled"], overall["facts_missing"], overall["recall"]) == (1, 1, 0.5)
    assert overall["turn_ms_p50"] is not None and report["said_at_applied"] is True
