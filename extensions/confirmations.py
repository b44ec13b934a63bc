"""Actions an extension asked for that only the user can allow (deleting a file).

The extension's request is parked here with a short id; nothing happens until the user says
yes through their own surface (`/confirm ID` in `sena chat`, `POST
/api/v1/extensions/confirmations/{id}`, the prompt of `sena extensions run`). No capability
lets extension code approve anything, so an extension, or the model filling its parameters,
cannot confirm on the user's behalf. Unanswered requests expire.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PendingAction:
    id: str
    extension: str
    action: str
    target: str
    created: float = field(default_factory=time.time)

    @property
    def question(self) -> str:
        return f"{self.extension} wants to {self.action.replace('_', ' ')} {self.target!r}"


class Confirmations:
    """Pending actions by id; `approve` performs one, `deny` drops it. Safe to share between threads."""

    def __init__(self, ttl_s: float = 600.0) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[PendingAction, Callable[[], str]]] = {}
        self.listeners: list[Callable[[PendingAction], None]] = []

    def request(self, extension: str, action: str, target: str, perform: Callable[[], str]) -> PendingAction:
        pending = PendingAction(secrets.token_hex(4), extension, action, target)
        with self._lock:
            self._expire()
            self._pending[pending.id] = (pending, perform)
        for listener in list(self.listeners):
            listener(pending)
        return pending

    def _expire(self) -> None:
        cutoff = time.time() - self.ttl_s
        for key in [k for k, (p, _) in self._pending.items() if p.created < cutoff]:
            del self._pending[key]

    def pending(self) -> list[PendingAction]:
        with self._lock:
            self._expire()
            return [p for p, _ in self._pending.values()]

    def _take(self, action_id: str) -> tuple[PendingAction, Callable[[], str]]:
        with self._lock:
            self._expire()
            taken = self._pending.pop(action_id, None)
        if taken is None:
            raise KeyError(f"no pending action {action_id!r} (it may have expired); ask again")
        return taken

    def approve(self, action_id: str) -> str:
        """Perform the action the user allowed; return what was done."""
        _, perform = self._take(action_id)
        return perform()

    def deny(self, action_id: str) -> PendingAction:
        return self._take(action_id)[0]
