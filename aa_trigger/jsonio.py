"""Strict JSON in and out: no ``NaN`` tokens (``null`` stands for n/a), and readers that check every
field they use and fail with one line naming the file and the field."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from aa_trigger.errors import AATriggerError


def jsonable(obj: Any) -> Any:
    """Plain JSON values of dataclasses, numpy values and containers; NaN and infinities become None."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: Path, obj: Any) -> None:
    """Write strict JSON (``allow_nan=False`` after :func:`jsonable`)."""
    Path(path).write_text(json.dumps(jsonable(obj), indent=1, allow_nan=False) + "\n")


def read_json(path: Path) -> Any:
    """Parse a JSON file; one error line naming the file when it is missing or broken."""
    path = Path(path)
    try:
        return json.loads(path.read_text(), parse_constant=_reject_constant)
    except FileNotFoundError:
        raise AATriggerError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AATriggerError(f"{path}: not valid JSON ({str(exc).splitlines()[0]})") from None


def _reject_constant(name: str) -> Any:
    if name == "NaN":  # written by aa_trigger before strict JSON; read as n/a
        return float("nan")
    raise ValueError(f"non-standard JSON constant {name}")


_KINDS: dict[type, tuple[type, ...]] = {int: (int,), float: (int, float), str: (str,), bool: (bool,),
                                        list: (list,), dict: (dict,)}


def field(obj: Any, name: str, kind: type, path: Path, optional: bool = False) -> Any:
    """``obj[name]`` checked to be of ``kind`` (``bool`` is not an ``int`` here); ``None`` passes when
    ``optional``. One error line names the file and the field."""
    if not isinstance(obj, dict):
        raise AATriggerError(f"{path}: expected a JSON object, found {type(obj).__name__}")
    if name not in obj:
        raise AATriggerError(f"{path}: missing field {name!r}")
    value = obj[name]
    if value is None and optional:
        return None
    ok = isinstance(value, _KINDS[kind]) and not (kind in (int, float) and isinstance(value, bool))
    if not ok:
        raise AATriggerError(f"{path}: field {name!r} should be {kind.__name__}, found {value!r}"[:300])
    return float(value) if kind is float else value
