"""The graph factory `langgraph.json` points at, for `langgraph dev` and LangGraph Studio.

The dev server brings its own persistence, so this graph carries no checkpointer. The
services are built on the first call and reused, since the server may call the factory
for every run and the embedded model should load only once.
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from config.settings import load_settings
from graph.builder import build_graph
from graph.services import Services, build_services
from graph.state import SenaContext, SenaState


@cache
def studio_services() -> Services:
    return build_services(load_settings())


async def make_graph() -> CompiledStateGraph[SenaState, SenaContext, Any, Any]:
    """Return the Sena graph compiled without a checkpointer.

    Services are built in a worker thread: opening the database blocks, and the dev server
    rejects blocking calls on its event loop.
    """
    return build_graph(await asyncio.to_thread(studio_services))
