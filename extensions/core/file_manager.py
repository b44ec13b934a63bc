"""List, read, write and delete files inside Sena's workspace folder (and nowhere else)."""

import sena

VERSION = "1.1.0"
METADATA = {
    "name": "file_manager",
    "description": "list, read, write or delete files in the workspace folder",
    "author": "Sena",
    "parameters": {
        "action": {"type": "string", "description": "one of: list, read, write, delete", "required": True},
        "path": {"type": "string", "description": "a path relative to the workspace, e.g. notes/todo.txt"},
        "content": {"type": "string", "description": "the text to write (write only)"},
    },
    "requires": [],
    "permissions": ["workspace"],
}
ACTIONS = ("list", "read", "write", "delete")


def validate(user_input, **kwargs):
    action = kwargs.get("action")
    if action not in ACTIONS:
        return False, "say whether to list, read, write or delete a file"
    if action != "list" and not kwargs.get("path"):
        return False, f"which file should I {action}?"
    return True, ""


def execute(user_input, context, **kwargs):
    action = kwargs["action"]
    path = kwargs.get("path") or "."
    if action == "list":
        entries = sena.list_dir(path)
        if not entries:
            return f"The folder {path} is empty."
        lines = [(e["name"] + "/") if e["dir"] else f"{e['name']} ({e['bytes']} bytes)" for e in entries]
        return "\n".join(lines)
    if action == "read":
        return sena.read_file(path)
    if action == "write":
        written = sena.write_file(path, kwargs.get("content") or "")
        return f"Wrote {written} characters to {path}."
    asked = sena.delete_file(path)  # only asks: the user confirms it themselves
    return f"Deleting {path} needs your confirmation: type {asked['confirm']} to delete it."
