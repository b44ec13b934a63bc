"""`sena config show`: the effective configuration after files and environment are merged."""

from __future__ import annotations

import typer
import yaml

from cli.common import console, load_or_exit

app = typer.Typer(help="Inspect configuration.", no_args_is_help=True)


@app.command("show")
def show() -> None:
    """Print the effective settings as YAML (secrets masked)."""
    settings = load_or_exit()
    data = settings.model_dump(mode="json")
    if data["api"].get("auth_token"):
        data["api"]["auth_token"] = "***"
    console().print(yaml.safe_dump(data, sort_keys=False), end="")
