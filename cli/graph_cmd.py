"""`sena graph`: print the compiled graph as a Mermaid diagram."""

from __future__ import annotations

from cli.common import load_or_exit
from graph.builder import build_graph
from graph.services import Services
from providers.registry import ModelRegistry


def mermaid() -> str:
    settings = load_or_exit()
    services = Services(settings=settings, models=ModelRegistry(settings.llm, settings.models_dir))
    return build_graph(services).get_graph().draw_mermaid()


def graph() -> None:
    """Print the Mermaid source of the compiled Sena graph (nothing is loaded or opened)."""
    print(mermaid())  # noqa: T201 - this command's output is the diagram itself
