"""`sena doctor`: check that this machine can run Sena, and say exactly how to fix what cannot.

Each check returns pass, warn or fail with a one-line detail and, unless it passed, the fix.
`sena chat` runs the quick subset at start (no model or store is opened for it); the full
run also loads the embedder, opens the memory store and loads the extensions.
"""

from __future__ import annotations

import socket
import sqlite3
import tempfile
import uuid
from dataclasses import dataclass
from typing import Literal

from config.settings import ROLES, Settings

Status = Literal["pass", "warn", "fail"]
EXPECTED_SCHEMAS = {"conversations": 3, "topics": 1, "extensions": 1, "recordings": 2, "logs": 1, "telemetry": 2}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def data_dir_writable(settings: Settings) -> Check:
    folder = settings.data_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-") as probe:
            probe.write(b"ok")
            probe.flush()
    except OSError as exc:
        return Check(
            "data folder",
            "fail",
            f"{folder} is not writable: {exc.strerror or exc}",
            f"Make {folder} writable, or point SENA_APP__DATA_DIR at a folder that is.",
        )
    return Check("data folder", "pass", f"{folder} is writable")


LOW_DISK_MB, FULL_DISK_MB = 500, 50


def disk_space(settings: Settings) -> Check:
    """Free space where the data folder is: SQLite, the memory store and logs all write there."""
    import shutil

    folder = settings.data_dir
    probe = next((p for p in (folder, *folder.parents) if p.exists()), folder)
    free_mb = shutil.disk_usage(probe).free / 2**20
    fix = f"Free disk space on the drive holding {folder}, or point SENA_APP__DATA_DIR at a roomier one."
    if free_mb < FULL_DISK_MB:
        return Check("disk space", "fail", f"{free_mb:,.0f} MB free at {probe}: writes will fail", fix)
    if free_mb < LOW_DISK_MB:
        return Check("disk space", "warn", f"{free_mb:,.0f} MB free at {probe}: running low", fix)
    return Check("disk space", "pass", f"{free_mb:,.0f} MB free at {probe}")


def database(settings: Settings, quick: bool = True) -> Check:
    path = settings.database_path
    if not path.exists():
        return Check("database", "pass", f"{path} will be created on first use")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            verdict = conn.execute("PRAGMA quick_check" if quick else "PRAGMA integrity_check").fetchone()[0]
            has_table = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            ).fetchone()
            versions = (
                dict(conn.execute("SELECT component, MAX(version) FROM schema_migrations GROUP BY component"))
                if has_table
                else {}
            )
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return Check(
            "database",
            "fail",
            f"{path} cannot be read: {exc}",
            f"Move {path} aside (your threads are in it; keep the copy) and start Sena to create a new one.",
        )
    if verdict != "ok":
        return Check(
            "database",
            "fail",
            f"{path} is damaged: {verdict}",
            f"Back up {path}, then recover it with `sqlite3 {path} .recover | sqlite3 fixed.db`.",
        )
    behind = [f"{c} {versions.get(c, 0)}/{v}" for c, v in EXPECTED_SCHEMAS.items() if versions.get(c, 0) < v]
    if behind:  # each part migrates itself when first opened: nothing for the user to do
        return Check("database", "pass", f"{path}: integrity ok; migrations pending: {', '.join(behind)}")
    return Check("database", "pass", f"{path}: integrity ok, schema up to date")


def models(settings: Settings) -> list[Check]:
    from providers.model_files import ModelFileError, needs_assembly, package_file

    llm = settings.llm
    checks: list[Check] = []
    if llm.provider == "ollama":
        from providers.registry import check_ollama

        problem = check_ollama(llm.ollama.base_url)
        fallback = " Until then Sena answers with the embedded fallback." if llm.fallback.enabled else ""
        checks.append(
            Check("ollama", "warn" if llm.fallback.enabled else "fail", problem, problem.split(". ", 1)[-1] + fallback)
            if problem
            else Check("ollama", "pass", f"answering at {llm.ollama.base_url}")
        )
    names = {llm.roles[role].embedded_model for role in ROLES}
    if llm.provider == "ollama" and llm.fallback.enabled:
        names = {llm.roles[llm.fallback.role].embedded_model}
    elif llm.provider == "ollama":
        names = set()
    for name in sorted(names):
        spec = llm.embedded.models.get(name)
        if spec is None:
            checks.append(
                Check(
                    f"model {name}",
                    "fail",
                    "not described in config/models.yaml",
                    f"Add {name} under llm.embedded.models, or choose another model for its role.",
                )
            )
            continue
        try:
            if spec.package and spec.package_path:
                package_file(spec.package, spec.package_path)
                checks.append(Check(f"model {name}", "pass", f"in package {spec.package}"))
            elif needs_assembly(spec, settings.models_dir):
                part = package_file(str(spec.parts_package).format(n=1), str(spec.parts_path).format(n=1))
                checks.append(
                    Check(
                        f"model {name}",
                        "warn",
                        f"not assembled yet (parts found, e.g. {part.name})",
                        "Nothing to do: the first chat joins the parts and checks them (a few seconds).",
                    )
                )
            else:
                checks.append(Check(f"model {name}", "pass", f"assembled and verified in {settings.models_dir}"))
        except ModelFileError as exc:
            checks.append(Check(f"model {name}", "fail", str(exc), "Install the model packages with `make setup`."))
    return checks


def memory_lock(settings: Settings) -> Check:
    if not settings.memory.long_term:
        return Check("memory store", "pass", "long-term memory is off (memory.long_term: false)")
    if settings.memory.qdrant.url:
        return Check("memory store", "pass", f"Qdrant server at {settings.memory.qdrant.url}")
    from memory.store import memory_locked

    if memory_locked(settings):
        return Check(
            "memory store",
            "warn",
            "the embedded store is held by another Sena process",
            "Use that process (`sena chat --server URL` when it is `sena serve`), or close it.",
        )
    return Check("memory store", "pass", "the embedded store is free")


def api_port(settings: Settings) -> Check:
    host, port = settings.api.host, settings.api.port
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            return Check(
                "api port",
                "warn",
                f"{host}:{port} is in use ({exc.strerror})",
                "If that is not `sena serve`, set SENA_API__PORT or `sena serve --port`.",
            )
    return Check("api port", "pass", f"{host}:{port} is free")


def embedder() -> Check:
    try:
        from memory.embedder import MiniLMEmbedder

        vector = MiniLMEmbedder().embed_query("doctor check")
    except Exception as exc:
        return Check("embedder", "fail", f"MiniLM could not embed: {exc}", "Reinstall with `make setup`.")
    return Check("embedder", "pass", f"MiniLM ONNX embeds ({len(vector)} dimensions)")


def memory_store(settings: Settings) -> Check:
    if not settings.memory.long_term:
        return Check("memory search", "pass", "long-term memory is off")
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from memory.store import MemoryLocked, MemoryStore

    try:
        store = MemoryStore.open(settings.memory, settings.data_dir, FakeListChatModel(responses=[""]))
        try:
            store.search("doctor check", f"doctor-{uuid.uuid4().hex[:8]}")
        finally:
            store.close()
    except MemoryLocked as exc:
        return Check("memory search", "warn", "not checked: the store is in use", str(exc))
    except Exception as exc:
        problem = f"the memory store does not work: {type(exc).__name__}: {exc}"[:300]
        return Check(
            "memory search", "fail", problem, "Check data/memory/ (move it aside to start empty) or memory.qdrant.url."
        )
    return Check("memory search", "pass", "opens and searches")


def extensions(settings: Settings) -> Check:
    if not settings.extensions.enabled:
        return Check("extensions", "pass", "extensions are off")
    from extensions.host import SandboxHost
    from extensions.registry import ExtensionRegistry

    try:
        host = SandboxHost(settings, ExtensionRegistry.from_path(settings.database_path))
        try:
            report = host.load_all()
            facts = host.sandbox.worker_facts
        finally:
            host.close()
    except Exception as exc:
        return Check(
            "extensions", "fail", f"the extension sandbox does not start: {exc}", "Reinstall with `make setup`."
        )
    if report.rejected:
        names = "; ".join(f"{n}: {why}" for n, why in report.rejected.items())
        return Check(
            "extensions",
            "warn",
            f"{len(report.loaded)} loaded, not loaded: {names}",
            "Fix or remove those files; `sena extensions list` shows the details.",
        )
    missing = sandbox_gaps(facts)
    if missing:
        return Check(
            "extensions",
            "warn",
            f"{len(report.loaded)} loaded; the sandbox lacks {'; '.join(missing)}",
            "The other layers still hold. A newer kernel (Landlock ABI 6+), libseccomp2, and user or network "
            "namespaces close the gap.",
        )
    layers = f"{facts.get('network', '')}; Landlock {facts.get('landlock', '')}; seccomp {facts.get('seccomp', '')}"
    return Check("extensions", "pass", f"{len(report.loaded)} loaded in the sandbox ({layers})")


def sandbox_gaps(facts: dict[str, object]) -> list[str]:
    """The OS layers the extension worker could not put in place, from its own report."""
    gaps = []
    if not str(facts.get("network", "")).startswith("own network namespace"):
        gaps.append(f"a network namespace ({facts.get('network')})")
    landlock = str(facts.get("landlock", ""))
    if not landlock.startswith("ABI") or "not handled" in landlock:
        gaps.append(f"Landlock ({landlock})")
    if "denied" not in str(facts.get("seccomp", "")):
        gaps.append(f"seccomp ({facts.get('seccomp')})")
    return gaps


def checkpointer(settings: Settings) -> list[Check]:
    """With `database.checkpointer: postgres`, the server answers and LangGraph's tables are there."""
    config = settings.database
    if config.checkpointer != "postgres":
        return []
    from storage.checkpointer import POSTGRES_HINT, redact

    if not config.postgres_url:
        return [Check("checkpointer", "fail", "postgres is chosen but no URL is set", POSTGRES_HINT)]
    import psycopg

    where = redact(config.postgres_url)
    try:
        with psycopg.connect(config.postgres_url, connect_timeout=max(1, int(config.connect_timeout_s))) as conn:
            found = conn.execute("SELECT to_regclass('checkpoint_migrations') IS NOT NULL").fetchone()
    except psycopg.Error as exc:
        return [Check("checkpointer", "fail", f"PostgreSQL at {where}: {str(exc).strip()}", POSTGRES_HINT)]
    if not (found and found[0]):
        return [Check("checkpointer", "pass", f"PostgreSQL at {where} answers; tables are created on first use")]
    return [Check("checkpointer", "pass", f"PostgreSQL at {where} answers, checkpoint tables present")]


def quick_checks(settings: Settings) -> list[Check]:
    """What `sena chat` checks before starting: cheap, no model or store opened."""
    base = [data_dir_writable(settings), disk_space(settings), database(settings), *checkpointer(settings)]
    return [*base, *models(settings), memory_lock(settings)]


def all_checks(settings: Settings) -> list[Check]:
    """Every check, the database's full integrity check first (the later checks may write to it)."""
    base = [data_dir_writable(settings), disk_space(settings), database(settings, quick=False), *checkpointer(settings)]
    checks = [*base, *models(settings), memory_lock(settings)]
    for run in (embedder, lambda: memory_store(settings), lambda: extensions(settings), lambda: api_port(settings)):
        checks.append(run())
    return checks


def worst(checks: list[Check]) -> Status:
    statuses = {c.status for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
