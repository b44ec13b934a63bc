"""Learning and memory use on the real embedded model and the real memory store (mem0 over Qdrant).

The same cases as tests/test_learnings.py, where a scripted model stands in; here the 1.5B
model extracts, so the assertions ask only what a user would check: what is remembered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from config.settings import Settings
from graph.services import remarks
from memory.learnings import Learner
from memory.store import MemoryStore
from nodes.generate import build_prompt
from providers.registry import ModelRegistry

pytestmark = pytest.mark.slow

THURSDAY = datetime(2026, 3, 5, 18, 40)


@pytest.fixture
async def learner(settings: Settings) -> AsyncIterator[tuple[Learner, MemoryStore, ModelRegistry]]:
    registry = ModelRegistry(settings.llm, settings.models_dir)
    model = registry.get(registry.choose("router"))
    store = MemoryStore.open(settings.memory, settings.data_dir, model)
    yield Learner(store, model, remarks=remarks(settings, store)), store, registry
    store.close()
    registry.close()


def remembered(store: MemoryStore, user: str) -> list[str]:
    return [m.text.lower() for m in store.list(user)]


async def test_what_a_user_says_in_passing_is_learned_and_questions_teach_nothing(
    learner: tuple[Learner, MemoryStore, ModelRegistry],
) -> None:
    learn, store, _ = learner
    text = "Since I'm learning Portuguese at the moment, which podcasts would you recommend?"
    await learn.learn("q", text, now=THURSDAY)
    assert any("portuguese" in m for m in remembered(store, "q"))

    await learn.learn("i", "Hi, I'm Noor! Could you help me plan dinners for the week?", now=THURSDAY)
    assert any("noor" in m for m in remembered(store, "i"))

    for question in (
        "Name a famous painter from Spain?",
        "What's the capital of Peru?",
        "How do I get my kid to bed?",
        "whats 7 times 8? my head is not working this morning",  # passing remarks beside a question
        "Quick one before my coffee kicks in: how many cups in a litre?",
        "Who wrote Middlemarch? I'm trying to win an argument here.",
    ):
        await learn.learn("p", question, now=THURSDAY)
    assert remembered(store, "p") == []


async def test_terse_lowercase_and_mixed_language_messages_are_learned_on_the_real_model(
    learner: tuple[Learner, MemoryStore, ModelRegistry],
) -> None:
    learn, store, _ = learner
    await learn.learn("t", "Live in Toowong, Brisbane. Cheap weekend trips under 2 hrs drive?", now=THURSDAY)
    assert any("toowong" in m for m in remembered(store, "t"))
    await learn.learn("l", "yo its jayden 😅 wats a good caption for a gym selfie, nothin too cringe pls", now=THURSDAY)
    assert any("jayden" in m for m in remembered(store, "l"))
    await learn.learn("g", "Hallo! Ich bin Annika. Kannst du mir helfen, eine E-Mail zu schreiben?", now=THURSDAY)
    assert any("annika" in m for m in remembered(store, "g"))
    await learn.learn("q", "I'm almost embarrassed to ask, but what's the difference between a simile and a metaphor?")
    assert remembered(store, "q") == []


async def test_corrections_updates_and_dates_on_the_real_model(
    learner: tuple[Learner, MemoryStore, ModelRegistry],
) -> None:
    learn, store, _ = learner
    await learn.learn("c", "I live in Paris.", now=THURSDAY)
    decisions = await learn.learn("c", "I moved: I live in Berlin now, not Paris.", now=THURSDAY)
    memories = remembered(store, "c")
    assert any("berlin" in m for m in memories), memories
    assert "UPDATE" in [d.action for d in decisions], decisions  # Paris was replaced, and is kept in the history
    assert not any("paris" in m and "berlin" not in m and "not" not in m for m in memories), memories

    await learn.learn("u", "My sister Lena has her driving test next Friday.", now=THURSDAY)
    await learn.learn("u", "Lena is super nervous about it.", now=THURSDAY)
    memories = remembered(store, "u")
    assert any("driving test" in m and "13 march 2026" in m for m in memories), memories  # next Friday, absolute
    assert any("nervous" in m for m in memories), memories  # the feeling did not replace the event


async def test_the_model_answers_from_the_memories_it_is_given(
    learner: tuple[Learner, MemoryStore, ModelRegistry],
) -> None:
    _, _, registry = learner
    model = registry.get(registry.choose("fast"))
    state: Any = {
        "messages": [HumanMessage("What should you call me, and which language am I learning?")],
        "snippets": [
            {"id": "1", "source": "long_term", "text": "The user's name is Noor", "score": 0.5, "date": "2026-03-05"},
            {"id": "2", "source": "long_term", "text": "The user is learning Portuguese", "score": 0.4, "date": ""},
        ],
    }
    answer = (await model.ainvoke(build_prompt(state, "You are Sena, a helpful personal assistant."))).text.lower()
    assert "noor" in answer and "portuguese" in answer, answer
