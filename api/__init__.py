"""The FastAPI SSE/REST API (arrives with the API capability)."""
