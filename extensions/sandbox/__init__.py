"""Run extension code in separate, confined worker processes, in three layers.

- Python (`restricted.py`): RestrictedPython with curated module views and one attribute
  guard that never hands out modules, frames, tracebacks, code or globals, nor an unguarded
  formatter;
- process (`client.py`, `confine.py`): a fresh interpreter per trust group (core together, each
  user or generated extension alone) with an empty environment, a scratch folder, no inherited
  descriptors, resource limits, and `nobody` instead of root;
- OS (`confine.py`, `landlock.py`): its own network namespace, Landlock (read-only standard
  library, no TCP) and seccomp (no sockets, processes or ptrace).

Side effects happen only through the `sena` capability module, whose calls the host answers
after checking the permissions of the extension it dispatched (extensions/capabilities.py).
"""

from extensions.sandbox.client import CapabilityHandler, Sandbox, Worker
from extensions.sandbox.confine import Limits
from extensions.sandbox.errors import ExtensionFailed, ExtensionInvalid, ExtensionTimeout

__all__ = [
    "CapabilityHandler",
    "ExtensionFailed",
    "ExtensionInvalid",
    "ExtensionTimeout",
    "Limits",
    "Sandbox",
    "Worker",
]
