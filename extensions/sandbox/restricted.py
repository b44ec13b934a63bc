"""The Python layer: what extension code can name, reach and import, under RestrictedPython.

- **Curated modules.** `import json` gives a read-only view holding only the names listed in
  `SURFACE`, never the module: no submodules, no helpers whose methods do unguarded attribute
  lookups (`collections.UserString.format` calls the real `str.format`, which walks
  `{0.__init__.__globals__}`; it is not in the view).
- **One attribute guard.** RestrictedPython's `safer_getattr`, plus: a value that is a module,
  frame, traceback, code object or a namespace of globals is refused however it was reached
  (attribute, item or format field); `format`/`format_map` of anything but a string are refused,
  and a string's own are replaced by a formatter whose fields go through the same guards.
- **Read-only context**, guarded item access, iteration and unpacking, no `print`.
"""

from __future__ import annotations

import _string  # type: ignore[import-not-found]
import builtins
import operator
import string
import sys
from collections.abc import Callable, Iterable, Mapping
from types import CodeType, FrameType, MappingProxyType, ModuleType, TracebackType
from typing import Any

SURFACE: dict[str, tuple[str, ...]] = {
    "json": ("dumps", "loads", "JSONDecodeError", "JSONEncoder", "JSONDecoder"),
    "math": tuple(n for n in dir(__import__("math")) if not n.startswith("_")),
    "datetime": ("date", "datetime", "time", "timedelta", "timezone", "MINYEAR", "MAXYEAR", "UTC"),
    "re": ("compile", "search", "match", "fullmatch", "findall", "finditer", "sub", "subn", "split", "escape",
           "error", "IGNORECASE", "I", "MULTILINE", "M", "DOTALL", "S", "VERBOSE", "X", "ASCII", "A"),
    "random": ("random", "randint", "randrange", "choice", "choices", "shuffle", "sample", "uniform", "gauss",
               "seed", "Random"),
    "statistics": ("mean", "fmean", "geometric_mean", "harmonic_mean", "median", "median_low", "median_high",
                   "median_grouped", "mode", "multimode", "quantiles", "stdev", "pstdev", "variance", "pvariance",
                   "NormalDist", "StatisticsError"),
    "collections": ("Counter", "OrderedDict", "defaultdict", "deque", "namedtuple", "ChainMap"),
    "itertools": tuple(n for n in dir(__import__("itertools")) if not n.startswith("_")),
    "functools": ("reduce", "partial", "lru_cache", "cache", "cmp_to_key", "total_ordering"),
    "textwrap": ("wrap", "fill", "shorten", "dedent", "indent"),  # not TextWrapper: its class table is shared
    "decimal": ("Decimal", "Context", "localcontext", "InvalidOperation", "DivisionByZero", "ROUND_HALF_UP",
                "ROUND_HALF_EVEN", "ROUND_HALF_DOWN", "ROUND_UP", "ROUND_DOWN", "ROUND_CEILING", "ROUND_FLOOR"),
    "fractions": ("Fraction",),
    "unicodedata": ("name", "lookup", "category", "normalize", "numeric", "digit", "decimal", "east_asian_width",
                    "combining", "bidirectional", "mirrored", "decomposition", "is_normalized", "unidata_version"),
    "difflib": ("SequenceMatcher", "get_close_matches", "unified_diff", "context_diff", "ndiff", "Differ"),
    "calendar": ("isleap", "leapdays", "monthrange", "weekday", "monthcalendar", "month_name", "month_abbr",
                 "day_name", "day_abbr", "month", "calendar", "TextCalendar", "MONDAY", "TUESDAY", "WEDNESDAY",
                 "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"),
}  # fmt: skip
"""The names each allowed module offers extensions. A module allowed by configuration but not
listed here is offered with its public, non-module names (a warning says so)."""

C_LAZY_IMPORTS = frozenset({"_strptime", "time"})
"""Modules C code imports on first use through the caller's `__import__` (`datetime.strptime`)."""
PRELOAD = (*C_LAZY_IMPORTS, "heapq", "copy", "time", "warnings", "unicodedata", "weakref", "types")
"""Modules the curated names import lazily (`Counter.most_common` imports heapq), loaded before
the worker gives up the right to read the standard library's files."""

FORMAT_METHODS = frozenset({"format", "format_map"})
REFUSED_TYPES = (ModuleType, FrameType, TracebackType, CodeType)
EXTRA_BUILTINS = ("dict", "list", "set", "frozenset", "sorted", "min", "max", "sum", "enumerate", "zip", "map",
                  "filter", "any", "all", "reversed", "iter", "next", "format", "bytes")  # fmt: skip


class ModuleView:
    """A read-only namespace standing in for an allowed module inside the sandbox."""

    def __init__(self, name: str, names: Mapping[str, Any], exists: Iterable[str] = ()) -> None:
        object.__setattr__(self, "_view_name", name)
        object.__setattr__(self, "_view_names", dict(names))
        object.__setattr__(self, "_view_exists", frozenset(exists))

    def __getattr__(self, attr: str) -> Any:
        try:
            return self._view_names[attr]
        except KeyError:
            if attr not in self._view_exists:  # a mistake, said as Python says it, so a fix can follow
                raise AttributeError(f"module {self._view_name!r} has no attribute {attr!r}") from None
            raise AttributeError(f"{self._view_name}.{attr} is not available to extensions") from None

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError(f"{self._view_name} is read-only")

    def __repr__(self) -> str:
        return f"<module {self._view_name!r} (extension view)>"


def module_view(name: str) -> ModuleView:
    module = __import__(name)
    listed = SURFACE.get(name)
    if listed is None:
        listed = tuple(n for n in dir(module) if not n.startswith("_"))
    names = {n: getattr(module, n) for n in listed if hasattr(module, n)}
    return ModuleView(name, {n: v for n, v in names.items() if not isinstance(v, ModuleType)}, dir(module))


def refuse_reach(value: Any, what: str) -> Any:
    """Return `value` unless it is interpreter machinery no extension may hold."""
    if isinstance(value, REFUSED_TYPES):
        kind = "a module" if isinstance(value, ModuleType) else f"a {type(value).__name__} object"
        raise AttributeError(f"{what} is {kind}; extensions may not use it")
    if isinstance(value, dict) and "__builtins__" in value:
        raise AttributeError(f"{what} is a namespace of globals; extensions may not use it")
    return value


class GuardedFormatter(string.Formatter):
    """`str.format` whose fields (`{0.attr}`, `{0[key]}`) go through the sandbox's guards."""

    def __init__(self, getattr_: Callable[..., Any], getitem_: Callable[[Any, Any], Any]) -> None:
        self.getattr_ = getattr_
        self.getitem_ = getitem_

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, Any]:
        first, rest = _string.formatter_field_name_split(field_name)
        value = self.get_value(first, args, kwargs)
        for is_attr, key in rest:
            value = self.getattr_(value, key) if is_attr else self.getitem_(value, key)
        return value, first


def make_guards(extension_module: str) -> tuple[Callable[..., Any], Callable[[Any, Any], Any]]:
    """The attribute and item guards for one extension (its functions may have a `format`)."""
    from RestrictedPython.Guards import safer_getattr_raise

    def guarded_getitem(obj: Any, key: Any) -> Any:
        return refuse_reach(obj[key], f"item {key!r}")

    def guarded_getattr(obj: Any, attr: str, *default: Any) -> Any:
        if attr in FORMAT_METHODS:
            return format_method(obj, attr)
        return refuse_reach(safer_getattr_raise(obj, attr, *default), repr(attr))

    formatter = GuardedFormatter(guarded_getattr, guarded_getitem)

    def format_method(obj: Any, attr: str) -> Any:
        if isinstance(obj, str):
            if attr == "format":
                return lambda *args, **kwargs: formatter.vformat(obj, args, kwargs)
            return lambda mapping: formatter.vformat(obj, (), mapping)
        if isinstance(obj, type) and issubclass(obj, str):
            if attr == "format":
                return lambda text, *args, **kwargs: formatter.vformat(str(text), args, kwargs)
            return lambda text, mapping: formatter.vformat(str(text), (), mapping)
        value = getattr(obj, attr)
        if getattr(value, "__module__", None) == extension_module:  # the extension's own method
            return value
        raise AttributeError(f"{type(obj).__name__}.{attr} is not available to extensions; use an f-string")

    return guarded_getattr, guarded_getitem


def guarded_iter(obj: Any) -> Any:
    return iter(obj)


def inplace(op: str, left: Any, right: Any) -> Any:
    ops = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
           "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "|=": operator.ior,
           "&=": operator.iand}  # fmt: skip
    if op not in ops:
        raise SyntaxError(f"operator {op} is not allowed")
    return ops[op](left, right)


def restricted_globals(name: str, views: Mapping[str, ModuleView], capabilities: Any) -> dict[str, Any]:
    """The globals one extension module runs in."""
    from RestrictedPython import limited_builtins, safe_builtins
    from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence

    def guarded_import(
        module: str, globals_: Any = None, locals_: Any = None, fromlist: Iterable[str] | None = (), level: int = 0
    ) -> Any:
        if level:
            raise ImportError("relative imports are not allowed")
        if module == "sena":
            return capabilities
        if module in C_LAZY_IMPORTS and module in sys.modules:  # C code's own lazy import
            return sys.modules[module]
        if module not in views:
            raise ImportError(f"import of {module!r} is not allowed")
        view = views[module]
        for item in fromlist or ():
            if item.startswith("_") or not hasattr(view, item):
                raise ImportError(f"cannot import {item!r} from {module!r} (not available to extensions)")
        return view

    module_name = f"sena_extension_{name}"
    getattr_, getitem_ = make_guards(module_name)
    allowed_builtins = {**safe_builtins, **limited_builtins, **{n: getattr(builtins, n) for n in EXTRA_BUILTINS}}
    allowed_builtins["__import__"] = guarded_import
    return {
        "__builtins__": allowed_builtins,
        "__name__": module_name,
        "__metaclass__": type,
        "_getattr_": getattr_,
        "_getitem_": getitem_,
        "_getiter_": guarded_iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": inplace,
        "_apply_": lambda f, *a, **k: f(*a, **k),
    }


def freeze(value: Any) -> Any:
    """A read-only deep copy of the context handed to `execute`."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set):
        return frozenset(freeze(v) for v in value)
    return value
