"""The seam between the graph and extensions: what run_extensions may ask of a host.

The sandboxed loader, hot reload and the core extensions plug in behind this protocol;
until then `NoExtensions` is the host and every requested extension is reported missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class ExtensionHost(Protocol):
    def names(self) -> list[str]:
        """Return the names of the active extensions."""
        ...

    async def run(self, name: str, user_input: str, context: Mapping[str, Any]) -> str:
        """Run one extension and return its text output; raise on failure."""
        ...


class NoExtensions:
    """A host with nothing registered."""

    def names(self) -> list[str]:
        return []

    async def run(self, name: str, user_input: str, context: Mapping[str, Any]) -> str:
        raise KeyError(f"extension {name!r} is not installed")
