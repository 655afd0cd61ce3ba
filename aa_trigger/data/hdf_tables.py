"""pandas HDF5 tables read with h5py alone, so that reading a data file never runs code from it.

pandas reads HDF5 through PyTables, which unpickles attributes (every pandas HDF file carries
some, e.g. ``name = b'N.'``) and, in pandas' "fixed" format, whole columns of strings or other
objects. A crafted file can make either run arbitrary code. This reader never calls pickle on
data: it reads the numeric and fixed-width string datasets of both pandas layouts directly and
decodes the few column-name lists of the "table" layout with an unpickler that cannot import or
call anything. Object columns (pickled) are refused with a way to re-save the table.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from aa_trigger.errors import AATriggerError

RESAVE = ("re-save it without pickled columns, e.g. df.to_hdf(path, key=..., format='table') "
          "(strings become fixed-width), or as CSV/Parquet")


class _DataOnly(pickle.Unpickler):
    """Unpickles lists, tuples, strings and numbers only: no import, so no call."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"the file asks to load {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent references are not data")


def _names(raw: Any, path: Path, what: str) -> list[str]:
    """A pickled list of column names (pandas' table layout), decoded without running code."""
    try:
        value = _DataOnly(io.BytesIO(bytes(raw))).load()
    except Exception as exc:  # any unpickling problem: the attribute is not a plain list
        raise AATriggerError(f"{path}: attribute {what} is not a plain list of names ({exc}); {RESAVE}") from None
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise AATriggerError(f"{path}: attribute {what} is not a plain list of names; {RESAVE}")
    return [str(v) for v in value]


def _strings(arr: np.ndarray) -> np.ndarray:
    return np.char.decode(arr, "utf-8", "replace") if arr.dtype.kind == "S" else arr


def _check_plain(ds: Any, path: Path) -> None:
    if ds.attrs.get("PSEUDOATOM") == b"object" or ds.attrs.get("CLASS") == b"VLARRAY" or ds.dtype.kind == "O":
        raise AATriggerError(f"{path}: {ds.name} holds pickled Python objects, which aa_trigger never loads "
                             f"(they can run code); {RESAVE}")


def _fixed(group: Any, path: Path) -> dict[str, np.ndarray]:
    columns: dict[str, np.ndarray] = {}
    for i in range(int(group.attrs.get("nblocks", 0))):
        items = [str(v) for v in _strings(np.asarray(group[f"block{i}_items"]))]
        ds = group[f"block{i}_values"]
        _check_plain(ds, path)
        values = np.asarray(ds)
        if values.ndim != 2 or len(items) not in values.shape:
            raise AATriggerError(f"{path}: {ds.name} has shape {values.shape} for {len(items)} columns")
        if values.shape[1] != len(items):
            values = values.T
        for j, name in enumerate(items):
            columns[name] = _strings(values[:, j])
    order = [str(v) for v in _strings(np.asarray(group["axis0"]))] if "axis0" in group else list(columns)
    return {name: columns[name] for name in order if name in columns}


def _table(group: Any, path: Path) -> dict[str, np.ndarray]:
    ds = group["table"]
    _check_plain(ds, path)
    data = np.asarray(ds)
    columns: dict[str, np.ndarray] = {}
    for field in data.dtype.names or ():
        if field == "index":
            continue
        values = data[field]
        if field.startswith("values_block_"):
            names = _names(ds.attrs.get(f"{field}_kind", b""), path, f"{field}_kind")
            values = values.reshape(len(data), -1)
            for j, name in enumerate(names):
                columns[name] = _strings(values[:, j])
        else:  # a data column stored under its own name
            columns[field] = _strings(values.reshape(len(data)))
    return columns


def read_pandas_hdf(path: Path, key: str = "") -> Any:
    """A pandas HDF5 table (fixed or table layout) as a DataFrame, without unpickling anything."""
    import h5py
    import pandas as pd

    with h5py.File(path, "r") as f:
        groups = [k for k in f if isinstance(f[k], h5py.Group) and "pandas_type" in f[k].attrs]
        name = key.strip("/") or (groups[0] if len(groups) == 1 else "")
        if name not in groups:
            raise AATriggerError(f"{path}: name the pandas table with --hdf-key (tables: {', '.join(groups)})")
        group = f[name]
        kind = group.attrs["pandas_type"]
        if kind == b"frame":
            columns = _fixed(group, path)
        elif kind == b"frame_table":
            columns = _table(group, path)
        else:
            raise AATriggerError(f"{path}: pandas HDF object {name!r} of type {kind!r} is not a table")
    return pd.DataFrame(columns)
