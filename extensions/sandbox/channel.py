"""JSON messages over a connection, both ways: neither side ever unpickles what the other sent."""

from __future__ import annotations

import json
from multiprocessing.connection import Connection
from typing import Any


class Channel:
    def __init__(self, conn: Connection, max_bytes: int = 4 * 1024 * 1024) -> None:
        self.conn = conn
        self.max_bytes = max_bytes

    def send(self, message: Any) -> None:
        self.conn.send_bytes(json.dumps(message, default=str).encode())

    def recv(self) -> Any:
        """The next message; ValueError for one that is not JSON or is nested beyond reason."""
        data = self.conn.recv_bytes(self.max_bytes)
        try:
            return json.loads(data)
        except RecursionError:
            raise ValueError("a message nested too deeply") from None

    def poll(self, timeout: float) -> bool:
        return self.conn.poll(timeout)

    def close(self) -> None:
        self.conn.close()
