"""One module per graph node; each node returns only the state keys it changes."""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from graph.state import SenaState


def last_user_message(state: SenaState) -> HumanMessage | None:
    """The newest human message (the one this turn answers), if any."""
    return next((m for m in reversed(state.get("messages") or []) if isinstance(m, HumanMessage)), None)


def last_user_text(state: SenaState) -> str:
    """Return the text of the newest human message (the one this turn answers)."""
    for message in reversed(state.get("messages") or []):
        if isinstance(message, HumanMessage):
            return message.text
    return ""
