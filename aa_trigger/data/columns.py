"""Which columns of a user's table become features: explicit lists, exclusions, and a warning about
columns that identify rows rather than describe them (ids, ports, addresses, times), which leak
the class into an anomaly score."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import numpy as np

from aa_trigger.errors import AATriggerError

#: names that usually identify a row or an endpoint rather than describe its content
ID_NAMES = re.compile(r"(^|[ _.-])(id|index|port|ip|addr(ess)?|src|dst|source|destination|time(stamp)?|date|"
                      r"seq(uence)?|protocol|category)($|[ _.-])", re.I)
MIN_ROWS_FOR_UNIQUE = 20


def read_features_file(path: str) -> list[str]:
    """Column names, one per line; blank lines and ``#`` comments ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AATriggerError(f"--features-file {path}: cannot read it ({exc})") from None
    names = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    names = [n for n in names if n]
    if not names:
        raise AATriggerError(f"--features-file {path}: names no column")
    return names


def choose(frame: Any, features: list[str], features_file: str, exclude: list[str], path: Path) -> Any:
    """The feature columns of ``frame`` (label column already removed) after the user's choices."""
    wanted = list(features) + (read_features_file(features_file) if features_file else [])
    if wanted:
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise AATriggerError(f"{path}: no feature column {missing[0]!r}")
        frame = frame[list(dict.fromkeys(wanted))]
    if exclude:
        gone = [c for c in frame.columns if any(fnmatch.fnmatchcase(str(c), pat) for pat in exclude)]
        unmatched = [pat for pat in exclude if not any(fnmatch.fnmatchcase(str(c), pat) for c in frame.columns)]
        if unmatched:
            raise AATriggerError(f"{path}: --exclude-features {unmatched[0]!r} matches no column")
        frame = frame.drop(columns=gone)
    return frame


def likely_identifiers(x: np.ndarray, names: list[str]) -> list[str]:
    """Columns that look like row identifiers: an id/port/address/time-like name, integers unique per row,
    or monotonic over the file (a counter or a clock)."""
    out = []
    n = len(x)
    for j, name in enumerate(names):
        col = x[:, j]
        finite = col[np.isfinite(col)]
        why = []
        if ID_NAMES.search(name):
            why.append("name")
        integers = len(finite) > 0 and bool(np.all(finite == np.round(finite)))
        if n >= MIN_ROWS_FOR_UNIQUE and integers and len(np.unique(finite)) == n:
            why.append("unique per row")
        if n >= MIN_ROWS_FOR_UNIQUE and len(finite) == n and len(np.unique(finite)) > n // 2 and (
                np.all(np.diff(finite) >= 0) or np.all(np.diff(finite) <= 0)):
            why.append("monotonic")
        if why:
            out.append(f"{name} ({', '.join(why)})")
    return out


def identifier_note(x: np.ndarray, names: list[str]) -> str | None:
    found = likely_identifiers(x, names)
    if not found:
        return None
    return ("likely identifier columns used as features (they can leak the class into the score): "
            + ", ".join(found[:12]) + (", ..." if len(found) > 12 else "")
            + "; leave them out with --exclude-features NAME ... (glob patterns work)")
