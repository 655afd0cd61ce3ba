"""One way to define options: a dataclass field with its help, choices and limits, from which the
command line, its ``--help`` and the validation of values given in code are all generated."""

from __future__ import annotations

import argparse
import math
from dataclasses import Field, field, fields
from typing import Any

from aa_trigger.errors import AATriggerError


def opt(default: Any, help: str, *, choices: list[str] | tuple[str, ...] | None = None, nargs: str | None = None,
        low: float | None = None, high: float | None = None, low_open: bool = False, action: str = "") -> Any:
    """A configuration field: ``low``/``high`` bound numbers (``low_open``: strictly above ``low``);
    ``action="extend"`` makes a repeatable list option."""
    meta = {"help": help, "choices": choices, "nargs": nargs, "low": low, "high": high, "low_open": low_open,
            "action": action}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def flag(f: Field) -> str:
    return "--" + f.name.replace("_", "-")


def _default(f: Field) -> Any:
    return f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]


def kind_of(f: Field) -> type:
    """The scalar type of an option (of its items, for a list option)."""
    hint = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    for name, kind in (("bool", bool), ("int", int), ("float", float)):
        if name in hint:
            return kind
    return str


def add_arguments(parser: argparse.ArgumentParser, cls: type, only: Any = None) -> None:
    """One ``--option`` per field of ``cls`` (or of those named in ``only``): type, default, choices and help
    from the field."""
    for f in fields(cls):
        if only is not None and f.name not in only:
            continue
        m = f.metadata
        default = _default(f)
        limits = _limits_text(m)
        help_text = m["help"] + limits + ("" if default in ("", False, []) else f" (default: {_show(default)})")
        if kind_of(f) is bool:
            parser.add_argument(flag(f), action="store_true", help=help_text)
            continue
        kw: dict[str, Any] = {"type": kind_of(f), "default": default, "help": help_text}
        if m["choices"]:
            kw["choices"] = list(m["choices"])
        if m["nargs"]:
            kw["nargs"] = m["nargs"]
        if m["action"]:
            kw["action"] = m["action"]
        parser.add_argument(flag(f), **kw)


def _show(v: Any) -> str:
    return " ".join(map(str, v)) if isinstance(v, list) else str(v)


def _limits_text(m: Any) -> str:
    low, high = m["low"], m["high"]
    if low is None and high is None:
        return ""
    if high is None:
        return f"; {'>' if m['low_open'] else '>='} {low:g}"
    if low is None:
        return f"; <= {high:g}"
    return f"; > {low:g} and <= {high:g}" if m["low_open"] else f"; {low:g} to {high:g}"


def check_fields(obj: Any) -> None:
    """Every field's value against its kind, choices and limits; one error line naming the option."""
    for f in fields(obj):
        value, m, name = getattr(obj, f.name), f.metadata, flag(f)
        values = value if isinstance(value, list) else [value]
        for v in values:
            _check_value(name, v, kind_of(f), m)


def _check_value(name: str, v: Any, kind: type, m: Any) -> None:
    if kind is float and isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isfinite(v):
        raise AATriggerError(f"{name} must be a finite number, got {v}")
    if kind in (int, float) and not isinstance(v, (int, float)) or kind is int and isinstance(v, float):
        raise AATriggerError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {v!r}")
    if m["choices"] and v not in m["choices"]:
        raise AATriggerError(f"{name} must be one of {', '.join(map(str, m['choices']))}, got {v!r}")
    low, high = m["low"], m["high"]
    if low is not None and (v <= low if m["low_open"] else v < low) or high is not None and v > high:
        raise AATriggerError(f"{name} must be{_limits_text(m)[1:]}, got {v}")


def from_namespace(cls: type, ns: argparse.Namespace) -> Any:
    """The configuration of parsed arguments, validated (fields, then the class's own ``validate``)."""
    cfg = cls(**{f.name: getattr(ns, f.name, _default(f)) for f in fields(cls)})  # fields without option: default
    cfg.validate()
    return cfg
