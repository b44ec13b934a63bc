"""What a sandboxed call can end in, besides a result."""

from __future__ import annotations

from config.errors import ExtensionError


class ExtensionFailed(ExtensionError, RuntimeError):
    """An extension call did not produce a result; the message says why, for the user.

    `failures` is how many times in a row the extension has now failed (set by the host).
    """

    default_hint = ""
    failures: int = 0


class ExtensionTimeout(ExtensionFailed):
    pass


class ExtensionInvalid(ExtensionFailed):
    """The extension's own `validate` refused the input."""
