"""Request parameters shared by the routers: ids are short and plain, so they stay safe everywhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import Field

ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,100}$"

ThreadIdField = Annotated[str, Field(pattern=ID_PATTERN, description="Thread (session) id.")]
ThreadIdQuery = Annotated[str, Query(pattern=ID_PATTERN, description="Thread (session) id.")]
UserIdQuery = Annotated[str | None, Query(pattern=ID_PATTERN, description="User id; default: app.user_id.")]
