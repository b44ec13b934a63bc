"""Sena's errors: one hierarchy, each with a message for the user and a hint saying what to do.

    SenaError
    ├── ModelError            (llm)         recoverable: fallback model, smaller context
    │   └── ContextOverflow                 recoverable: the same model with a smaller prompt
    ├── MemoryStoreError      (memory)      recoverable: the turn goes on without long-term memory
    ├── ExtensionError        (extension)   recoverable: the turn goes on; repeated failures disable it
    ├── DatabaseError         (database)    not recoverable within the turn
    │   └── StorageFull                     not recoverable: free disk space, then resume
    ├── UserInputError        (user_input)  recoverable by the user (fix the request, send it again)
    └── ConfigError           (config)      not recoverable: fix the file or variable named

`recoverable` says whether Sena can carry the turn on by itself (the strategies are in
`graph/recovery.py`); a non-recoverable error stops the operation, and the checkpoint keeps what
the user said so the turn can be resumed once the cause is fixed.

`classify` turns any exception from a library (httpx, sqlite3, OSError, llama.cpp, Qdrant) into
one of these, so every surface (chat, API, doctor, telemetry) explains failures the same way.
"""

from __future__ import annotations

import errno
import sqlite3
from typing import Any, ClassVar, Literal

Kind = Literal["llm", "memory", "extension", "database", "user_input", "config", "internal"]


class SenaError(Exception):
    """Base of Sena's errors: `message` says what went wrong, `hint` what to do about it."""

    kind: ClassVar[Kind] = "internal"
    recoverable: ClassVar[bool] = False
    default_hint: ClassVar[str] = "See data/logs/sena.log for details, and run `sena doctor`."

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint

    def __str__(self) -> str:
        separator = "\n" if "\n" in self.message else " "
        return f"{self.message}{separator}{self.hint}".strip()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "error": type(self).__name__,
            "message": self.message,
            "hint": self.hint,
            "recoverable": self.recoverable,
        }


class ModelError(SenaError):
    kind = "llm"
    recoverable = True
    default_hint = "Run `sena doctor` to check the models."


class ContextOverflow(ModelError):
    default_hint = "Sena retries with a shorter prompt; raise llm.embedded.n_ctx for long conversations."


class MemoryStoreError(SenaError):
    kind = "memory"
    recoverable = True
    default_hint = "Run `sena doctor` to check the memory store."


class ExtensionError(SenaError):
    kind = "extension"
    recoverable = True
    default_hint = "See `sena extensions show NAME` for its last error."


class DatabaseError(SenaError):
    kind = "database"
    default_hint = "Run `sena doctor` to check the database."


class StorageFull(DatabaseError):
    default_hint = "Free some disk space on the drive that holds Sena's data folder (app.data_dir), then try again."


class UserInputError(SenaError):
    kind = "user_input"
    recoverable = True
    default_hint = "Fix the request and send it again."


class ConfigError(SenaError, ValueError):
    kind = "config"
    default_hint = "Fix the value in config/*.yaml or the SENA_* variable named, then start again."


KIND_ERRORS: dict[str, type[SenaError]] = {
    "llm": ModelError,
    "memory": MemoryStoreError,
    "extension": ExtensionError,
    "database": DatabaseError,
    "user_input": UserInputError,
}

CONTEXT_OVERFLOW_MARKERS = ("exceed context window", "context length", "context window", "too many tokens")


def turn_failure(exc: BaseException, saved: bool) -> SenaError:
    """Explain a turn that stopped: the error, and whether the user's message is kept.

    `saved` says whether the message reached the checkpoint (a full disk can stop even that)."""
    error = classify(exc)
    if saved:
        keep = "Your message is saved; it is answered before your next one, or when the thread is reopened."
    else:
        keep = "Your message could not be saved; send it again once this is fixed. Earlier messages are intact."
    return type(error)(f"The turn stopped: {error.message}", f"{error.hint} {keep}".strip())


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, sqlite3.Error) and ("disk is full" in str(exc) or "database or disk is full" in str(exc))


def classify(exc: BaseException, where: Kind = "internal") -> SenaError:
    """Return `exc` as a SenaError: itself if it is one, else the matching class for `where`.

    A few failures mean the same whatever the component: a full disk, an unwritable folder,
    a locked or corrupt database, a prompt longer than the model's context.
    """
    if isinstance(exc, SenaError):
        return exc
    text = str(exc) or type(exc).__name__
    if is_disk_full(exc):
        return StorageFull(f"The disk is full ({text}).")
    if isinstance(exc, PermissionError):
        return DatabaseError(
            f"Sena cannot write where it keeps its data: {text}.",
            "Make the data folder writable (app.data_dir, SENA_APP__DATA_DIR) or point it somewhere that is.",
        )
    if isinstance(exc, sqlite3.DatabaseError):
        if "locked" in text or "busy" in text:
            return DatabaseError(f"The database is busy: {text}.", "Send the message again in a moment.")
        if "malformed" in text or "not a database" in text:
            return DatabaseError(
                f"The database file is damaged: {text}.",
                "Run `sena doctor`; it says how to restore it from a backup or start a fresh one.",
            )
        return DatabaseError(f"The database failed: {text}.")
    if type(exc).__module__.split(".")[0] in ("psycopg", "psycopg_pool"):
        return DatabaseError(
            f"PostgreSQL failed: {text}.",
            "Check database.postgres_url and that PostgreSQL is running (`pg_isready`); `sena doctor` checks it.",
        )
    if where in ("llm", "internal") and any(m in text.lower() for m in CONTEXT_OVERFLOW_MARKERS):
        return ContextOverflow(f"The prompt is longer than the model's context: {text}.")
    error = KIND_ERRORS.get(where, SenaError)
    return error(text)
