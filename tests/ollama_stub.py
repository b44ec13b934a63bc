"""A small server that speaks Ollama's wire format over an embedded llama.cpp model.

It lets the `ollama` provider be tested for real (ChatOllama, its HTTP client, NDJSON
streaming, `format` as constrained output) on a loopback port, with no Ollama installed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api.background import BackgroundServer
from providers.llamacpp import LlamaRuntime


def _now() -> str:
    return datetime.now(UTC).isoformat()


def create_app(runtime: LlamaRuntime, model_name: str) -> FastAPI:
    app = FastAPI()
    details = {"format": "gguf", "family": "llama", "parameter_size": "135M", "quantization_level": "Q4_1"}

    @app.get("/api/version")
    def version() -> dict[str, str]:
        return {"version": "0.12.0"}

    @app.get("/api/tags")
    def tags() -> dict[str, Any]:
        return {
            "models": [
                {
                    "name": model_name,
                    "model": model_name,
                    "modified_at": _now(),
                    "size": 0,
                    "digest": "0" * 64,
                    "details": details,
                }
            ]
        }

    @app.post("/api/show")
    async def show(request: Request) -> Any:
        body = await request.json()
        if body.get("model", body.get("name")) != model_name:
            return JSONResponse({"error": f"model '{body.get('model')}' not found"}, status_code=404)
        return {
            "modelfile": "",
            "parameters": "",
            "template": "",
            "details": details,
            "model_info": {},
            "capabilities": ["completion"],
        }

    @app.post("/api/chat")
    async def chat(request: Request) -> Any:
        body = await request.json()
        if body.get("model") != model_name:
            return JSONResponse(
                {"error": f"model '{body.get('model')}' not found, try pulling it first"}, status_code=404
            )
        options = body.get("options") or {}
        kwargs: dict[str, Any] = {
            "messages": [{"role": m["role"], "content": m.get("content", "")} for m in body["messages"]],
            "temperature": options.get("temperature", 0.7),
            "max_tokens": options.get("num_predict") or 128,
        }
        fmt = body.get("format")
        if isinstance(fmt, dict):
            kwargs["response_format"] = {"type": "json_object", "schema": fmt}
        elif fmt == "json":
            kwargs["response_format"] = {"type": "json_object"}

        def lines() -> Iterator[str]:
            started = time.perf_counter_ns()
            with runtime.call_lock:
                for part in runtime.llama().create_chat_completion(stream=True, **kwargs):
                    delta = part["choices"][0].get("delta", {}).get("content")  # type: ignore[index,union-attr]
                    if delta:
                        yield (
                            json.dumps(
                                {
                                    "model": model_name,
                                    "created_at": _now(),
                                    "done": False,
                                    "message": {"role": "assistant", "content": delta},
                                }
                            )
                            + "\n"
                        )
            yield (
                json.dumps(
                    {
                        "model": model_name,
                        "created_at": _now(),
                        "done": True,
                        "done_reason": "stop",
                        "message": {"role": "assistant", "content": ""},
                        "total_duration": time.perf_counter_ns() - started,
                        "prompt_eval_count": 1,
                        "eval_count": 1,
                    }
                )
                + "\n"
            )

        if body.get("stream", True):
            return StreamingResponse(lines(), media_type="application/x-ndjson")
        content = "".join(json.loads(line)["message"]["content"] for line in lines())
        return {
            "model": model_name,
            "created_at": _now(),
            "done": True,
            "done_reason": "stop",
            "message": {"role": "assistant", "content": content},
        }

    return app


class OllamaStub(BackgroundServer):
    """The stub on a free loopback port, in a background thread."""

    def __init__(self, runtime: LlamaRuntime, model_name: str) -> None:
        super().__init__(create_app(runtime, model_name), startup_timeout_s=20)

    def __enter__(self) -> OllamaStub:  # type: ignore[override]
        super().__enter__()
        return self
