"""`sena extensions ...`: list, inspect, toggle, reload, run and generate extensions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import console, load_or_exit, setup_logging
from extensions.host import SandboxHost
from extensions.sandbox import ExtensionFailed

app = typer.Typer(help="Extensions: list, show, enable, disable, reload, run, generate.", no_args_is_help=True)


@contextmanager
def opened() -> Iterator[SandboxHost]:
    """Load the extensions (no folder watching) for one command."""
    from extensions.registry import ExtensionRegistry

    settings = load_or_exit()
    setup_logging(settings)
    host = SandboxHost(settings, ExtensionRegistry.from_path(settings.database_path))
    host.load_all()
    try:
        yield host
    except KeyError as exc:
        console().print(f"[red]{exc.args[0]}[/red]")
        raise typer.Exit(1) from exc
    finally:
        host.close()


@app.command("list")
def list_() -> None:
    """List extensions with their status and record."""
    with opened() as host:
        table = Table("name", "status", "version", "origin", "runs", "errors", "description / last error")
        for r in host.records():
            note = f"[red]{r.last_error}[/red]" if r.status == "error" or r.last_error else r.description
            status = {"active": "[green]active[/green]", "inactive": "[yellow]inactive[/yellow]"}.get(
                r.status, "[red]error[/red]"
            )
            table.add_row(r.name, status, r.version or "-", r.origin, str(r.executions), str(r.errors), note)
        console().print(table)


@app.command()
def show(name: str) -> None:
    """Show one extension's metadata, permissions and file."""
    with opened() as host:
        spec, record = host.spec(name), host.registry.get(name)
        if spec is None and record is None:
            raise KeyError(f"no extension named {name!r}; `sena extensions list` shows them")
        if record is not None:
            console().print(f"[bold]{name}[/bold] {record.version or ''} ({record.origin}, {record.status})")
            console().print(f"file: {record.file_path}")
            if record.last_error:
                console().print(f"[red]last error: {record.last_error}[/red]")
        if spec is not None:
            console().print(spec.description)
            console().print(f"permissions: {', '.join(spec.permissions) or 'none'}; granted: "
                            f"{', '.join(sorted(host.granted(name))) or 'none'}")  # fmt: skip
            console().print(f"requires: {', '.join(spec.requires) or 'nothing'}")
            for p in spec.parameters:
                console().print(f"  {p.name} ({p.type}{', required' if p.required else ''}): {p.description}")


@app.command()
def enable(name: str) -> None:
    """Enable an extension (also after it was disabled for failing)."""
    with opened() as host:
        host.set_enabled(name, True)
        console().print(f"{name} enabled.")


@app.command()
def disable(name: str) -> None:
    """Disable an extension; it stays disabled across restarts."""
    with opened() as host:
        host.set_enabled(name, False)
        console().print(f"{name} disabled.")


@app.command()
def reload(name: Annotated[str | None, typer.Argument(help="Extension name; all when omitted.")] = None) -> None:
    """Re-read extensions from their files (a running chat also reloads changed files by itself)."""
    with opened() as host:
        if name:
            console().print(host.reload(name))
        else:
            console().print(f"loaded: {', '.join(host.names()) or 'none'}")
            for rejected, why in host.load_all().rejected.items():
                console().print(f"[red]{rejected}: {why}[/red]")


@app.command()
def run(
    name: str,
    user_input: Annotated[str, typer.Argument(help="The message the extension receives.")] = "",
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value (JSON values allowed).")] = None,
) -> None:
    """Run one extension in the sandbox with explicit parameters (no model involved)."""
    kwargs: dict[str, Any] = {}
    for item in param or []:
        key, _, value = item.partition("=")
        try:
            kwargs[key] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value
    with opened() as host:
        try:
            output = asyncio.run(host.run(name, user_input, {"thread_id": "cli", "user_id": "local"}, **kwargs))
        except ExtensionFailed as exc:
            console().print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
        print(output)  # noqa: T201 - the extension's output is the command's output
        for pending in host.confirmations.pending():  # asked here, of the person at the terminal
            if typer.confirm(f"{pending.question}. Allow it?", default=False):
                console().print(host.confirmations.approve(pending.id))
            else:
                host.confirmations.deny(pending.id)
                console().print("Cancelled.")


@app.command()
def generate(
    description: str,
    attempts: Annotated[int, typer.Option(help="Tries, with the errors fed back.")] = 3,
) -> None:
    """Have the code model write an extension, test it in the sandbox, and register it."""
    from extensions.generate import generate_extension
    from memory.embedder import MiniLMEmbedder
    from providers.registry import ModelRegistry

    with opened() as host:
        models = ModelRegistry(host.settings.llm, host.settings.models_dir)
        model = models.get(models.choose("code"))
        try:
            result = asyncio.run(generate_extension(description, model, host, attempts, MiniLMEmbedder().embed_array))
        finally:
            models.close()
    colour = "green" if result.status == "success" else "red"
    console().print(f"[{colour}]{result.status}[/{colour}] after {result.attempts} attempt(s)")
    if result.path:
        console().print(f"{result.name}: {result.path}")
    for output in result.outputs:
        console().print(f"  sample output: {output[:200]}")
    for repair in result.repairs:
        console().print(f"  [dim]repaired: {repair}[/dim]")
    for error in result.errors:
        console().print(f"  [yellow]{error}[/yellow]")
    if result.status != "success":
        raise typer.Exit(1)
