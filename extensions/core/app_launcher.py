"""Start an application from the configured allow-list (no shell, nothing else)."""

import sena

VERSION = "1.0.0"
METADATA = {
    "name": "app_launcher",
    "description": "open an application from the allow-list",
    "author": "Sena",
    "parameters": {
        "app": {"type": "string", "description": "the application's name, e.g. calculator", "required": True},
    },
    "requires": [],
    "permissions": ["apps"],
}


def validate(user_input, **kwargs):
    allowed = sena.setting("allowed", {})
    app = (kwargs.get("app") or "").strip().lower()
    if not allowed:
        return False, "no applications are allowed yet: add them under extensions.settings.app_launcher.allowed"
    if app not in allowed:
        return False, f"{app or 'that'} is not on the allow-list ({', '.join(sorted(allowed))})"
    return True, ""


def execute(user_input, context, **kwargs):
    started = sena.launch_app(kwargs["app"].strip().lower())
    return f"Started {started['app']} (process {started['pid']})."
