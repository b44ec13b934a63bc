"""generate: stream the answer from the intent's model with the turn's context."""

from __future__ import annotations

import time
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from config.settings import Role
from graph.events import emit
from graph.services import Services
from graph.state import SenaContext, SenaState, last_user_message, last_user_text
from providers.registry import ModelChoice


def build_prompt(state: SenaState, system_prompt: str) -> list[BaseMessage]:
    """Assemble the model input: stable system prompt first (llama.cpp reuses its KV cache
    for a shared prefix), then the recent history, then the question with the turn's context.

    The context (memories, past exchanges, extension results) goes in the user's own message,
    in their voice, right before what they ask. A second system message after the history was
    weaker: the 1.5B model answered "I do not have access to your personal details" beside the
    very memory (2 of 12 layout trials refused that way; 0 of 12 with the context in the message).
    """
    recent = set(state.get("recent_ids") or [])
    history: list[BaseMessage] = [
        (HumanMessage if isinstance(m, HumanMessage) else AIMessage)(content=m.text)
        for m in state.get("messages") or []
        if m.id in recent and isinstance(m, (HumanMessage, AIMessage))
    ]
    sections = []
    snippets = state.get("snippets") or []
    remembered = sorted((s for s in snippets if s["source"] == "long_term"), key=lambda s: s.get("date", ""))
    if memories := [_dated(s["text"], s.get("date", "")) for s in remembered]:  # oldest first: the last is current
        sections.append(
            "What you know about me (the user) from earlier conversations; when two facts disagree, the later "
            "date is current:\n" + "\n".join(memories)
        )
    if exchanges := [_dated(s["text"], s.get("date", "")) for s in snippets if s["source"] == "conversation"]:
        sections.append("Earlier exchanges between us that may be relevant:\n" + "\n".join(exchanges))
    if results := [f"- [{r['name']}] {r['output']}" for r in state.get("extension_results") or []]:
        sections.append("Results from Sena's extensions for this message:\n" + "\n".join(results))
    asked = last_user_message(state)
    if client := (asked.additional_kwargs.get("context") if asked is not None else None):
        sections.append(
            "About this message, from the app I use:\n" + "\n".join(f"- {k}: {v}" for k, v in client.items())
        )
    question = last_user_text(state)
    if sections:
        question = "\n\n".join([*sections, f"My message: {question}"])
    return [SystemMessage(system_prompt), *history, HumanMessage(question)]


def _dated(text: str, date: str) -> str:
    return f"- ({date}) {text}" if date else f"- {text}"


def choose_model(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> ModelChoice:
    """The intent's role, unless the client asked for one (`mode`: fast, critical or code)."""
    intent, asked = state.get("intent"), last_user_message(state)
    mode = asked.additional_kwargs.get("mode") if asked is not None else None
    role: Role = mode or (intent["recommended_model"] if intent else "fast")  # type: ignore[assignment]
    return services.models.choose(role, runtime.context.model_overrides.get(role))


async def stream_answer(model: BaseChatModel, prompt: list[BaseMessage], runtime: Runtime[SenaContext]) -> str:
    """Stream the model's answer as `token` events and return the full text."""
    parts: list[str] = []
    async for chunk in model.astream(prompt):
        if text := chunk.text:
            parts.append(text)
            emit(runtime, "token", text=text)
    return "".join(parts).strip()


def answer_update(answer: str, model_label: str) -> dict[str, Any]:
    message = AIMessage(content=answer, additional_kwargs={"ts": time.time()}, response_metadata={"model": model_label})
    return {"messages": [message], "answer": answer, "model_used": model_label}


async def generate(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> dict[str, Any]:
    """Answer the user with the role's model; failures go to the recovery handler."""
    choice = choose_model(state, runtime, services)
    emit(runtime, "model_call", node="generate", model=choice.label, role=choice.role)
    prompt = build_prompt(state, services.settings.app.system_prompt)
    answer = await stream_answer(services.chat_model(choice), prompt, runtime)
    return answer_update(answer, choice.label)
