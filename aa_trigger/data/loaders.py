"""Readers of the users' data: every format becomes one labelled table.

Formats (chosen by :func:`read_source` from the file's name and content):

* ADC2021 HDF5 (``Particles`` (N, 19, 4)) -> trigger events; every event is labelled with the
  source's name (one file per sample);
* image sets: IDX (MNIST / Fashion-MNIST ``*-images-idx3-ubyte[.gz]`` beside its
  ``*-labels-idx1-ubyte[.gz]``), the Kaggle CSV layout (``label,pixel1..pixel784``), a sprite
  PNG of 28x28 tiles (``tiles_per_label`` consecutive tiles share a label);
* tables: CSV (UTF-8, falling back to cp1252 as in the CICIDS2017 files), Parquet, HDF5 (a
  pandas key or a plain dataset), NPY. The CICIDS2017 traps are handled here: column names
  are stripped of spaces, a duplicated column is dropped (reported), labels are stripped and
  the cp1252 en dash becomes '-'; ``column_map``/``label_map`` adapt re-releases.

Non-finite values follow an explicit policy (``drop`` rows, set to ``zero`` or ``error``),
always reported. Every problem is one :class:`AATriggerError` line.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aa_trigger.data import columns
from aa_trigger.errors import AATriggerError

LABEL_COLUMNS = ("label", "Label", "Attack Type", "class", "Class", "y")
NONFINITE_POLICIES = ("drop", "zero", "error")


@dataclass
class Table:
    """Features (N, d) or trigger events (N, 19, 4), one string label per row."""

    kind: str  # "trigger" | "image" | "tabular"
    features: np.ndarray
    labels: np.ndarray
    names: list[str]
    notes: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # labels whose every row was dropped (NaN/Inf)

    def counts(self) -> dict[str, int]:
        values, n = np.unique(self.labels, return_counts=True)
        return {str(v): int(c) for v, c in zip(values, n)}


@dataclass
class ReadOptions:
    label_column: str = ""
    features: list[str] = field(default_factory=list)
    column_map: dict[str, str] = field(default_factory=dict)
    label_map: dict[str, str] = field(default_factory=dict)
    nonfinite: str = "drop"
    hdf_key: str = ""
    tiles_per_label: int = 90
    exclude: list[str] = field(default_factory=list)
    features_file: str = ""
    tile: int = 28


def _normalise_label(v: object) -> str:
    s = str(v).strip().replace("\u2013", "-").replace("\ufffd", "-")
    if s.endswith(".0") and s[:-2].lstrip("-").isdigit():  # labels read as floats
        s = s[:-2]
    return s


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST layout): uint8 images (magic 2051) or labels (magic 2049)."""
    try:
        with _open(path) as f:
            head = f.read(8)
            if len(head) < 8:
                raise AATriggerError(f"{path}: too short for an IDX file")
            magic, n = struct.unpack(">II", head)
            if magic == 2051:
                rows, cols = struct.unpack(">II", f.read(8))
                shape: tuple[int, ...] = (n, rows * cols)
            elif magic == 2049:
                shape = (n,)
            else:
                raise AATriggerError(f"{path}: not an IDX file (magic number {magic}, expected 2051 or 2049)")
            data = np.frombuffer(f.read(), dtype=np.uint8)
    except (OSError, EOFError, struct.error) as exc:
        raise AATriggerError(f"{path}: cannot read IDX data ({exc})") from None
    if data.size != int(np.prod(shape)):
        raise AATriggerError(f"{path}: IDX header announces {shape} values, the file holds {data.size}")
    return data.reshape(shape)


def _idx_labels_path(images: Path) -> Path:
    name = images.name.replace("images-idx3", "labels-idx1")
    return images.with_name(name)


def read_sprite(path: Path, opts: ReadOptions) -> Table:
    import matplotlib.image as mpimg

    try:
        img = mpimg.imread(str(path))
    except (OSError, ValueError, SyntaxError) as exc:
        raise AATriggerError(f"{path}: not a readable PNG ({exc})") from None
    grey = img[..., 0] if img.ndim == 3 else img
    if grey.dtype != np.uint8:
        grey = np.round(grey * 255.0).astype(np.uint8)
    t = opts.tile
    if grey.shape[0] % t or grey.shape[1] % t:
        raise AATriggerError(f"{path}: {grey.shape[1]}x{grey.shape[0]} pixels is not a grid of {t}x{t} tiles")
    r, c = grey.shape[0] // t, grey.shape[1] // t
    tiles = grey.reshape(r, t, c, t).transpose(0, 2, 1, 3).reshape(r * c, t * t)
    labels = np.array([str(i // opts.tiles_per_label) for i in range(r * c)])
    return Table("image", tiles.astype(np.float64), labels, [f"pixel{i + 1}" for i in range(t * t)],
                 [f"{r * c} tiles of {t}x{t}, label = tile index // {opts.tiles_per_label}"])


def _read_frame(path: Path, opts: ReadOptions):
    import pandas as pd

    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    try:
        if suffix.startswith(".csv"):
            try:
                return pd.read_csv(path, low_memory=False, encoding="utf-8"), None
            except UnicodeDecodeError:
                return pd.read_csv(path, low_memory=False, encoding="cp1252"), "decoded as cp1252"
        if suffix == ".parquet":
            return pd.read_parquet(path), None
        if suffix in (".h5", ".hdf5", ".hdf"):
            return _read_hdf(path, opts), None
    except (ValueError, OSError, KeyError, pd.errors.ParserError, ImportError) as exc:
        raise AATriggerError(f"{path}: cannot read as {suffix[1:]} ({str(exc).splitlines()[0]})") from None
    raise AATriggerError(f"{path}: unknown file type {suffix!r} (expected .csv, .parquet, .h5, .npy, .png or IDX)")


def _read_hdf(path: Path, opts: ReadOptions):
    import h5py
    import pandas as pd

    from aa_trigger.data.hdf_tables import read_pandas_hdf

    with h5py.File(path, "r") as f:
        keys = list(f.keys())
        is_pandas = any("pandas_type" in f[k].attrs for k in keys)
        if not is_pandas:
            key = opts.hdf_key or (keys[0] if len(keys) == 1 else "")
            if not key or key not in f:
                raise AATriggerError(f"{path}: name the dataset with --hdf-key (datasets: {', '.join(keys)})")
            arr = np.asarray(f[key])
            if arr.ndim != 2:
                raise AATriggerError(f"{path}: dataset {key!r} has shape {arr.shape}, expected (rows, columns)")
            return pd.DataFrame(arr, columns=[str(i) for i in range(arr.shape[1])])
    return read_pandas_hdf(path, opts.hdf_key)


def _frame_to_table(frame, path: Path, opts: ReadOptions, notes: list[str]) -> Table:
    frame.columns = [str(c).strip() for c in frame.columns]
    dup = [c for c in frame.columns if c.endswith(".1") and c[:-2] in frame.columns]
    dup += list(frame.columns[frame.columns.duplicated()])
    if dup:
        frame = frame.loc[:, ~frame.columns.duplicated()].drop(columns=[c for c in dup if c in frame.columns],
                                                                  errors="ignore")
        notes.append(f"dropped duplicated column(s): {', '.join(sorted(set(dup)))}")
    if opts.column_map:
        missing = [c for c in opts.column_map if c not in frame.columns]
        if missing:
            raise AATriggerError(f"{path}: --column-map names unknown column {missing[0]!r}")
        frame = frame.rename(columns=opts.column_map)
    label_col = opts.label_column
    if label_col.lstrip("-").isdigit() and label_col not in frame.columns:
        idx = int(label_col)
        if not -len(frame.columns) <= idx < len(frame.columns):
            raise AATriggerError(f"{path}: label column index {idx} out of range ({len(frame.columns)} columns)")
        label_col = frame.columns[idx]
    if not label_col:
        found = [c for c in LABEL_COLUMNS if c in frame.columns]
        if not found:
            raise AATriggerError(f"{path}: no label column found; pass --label-column (columns: "
                                 f"{', '.join(list(frame.columns)[:12])}{', ...' if frame.shape[1] > 12 else ''})")
        label_col = found[0]
    if label_col not in frame.columns:
        raise AATriggerError(f"{path}: no column {label_col!r} (columns: {', '.join(list(frame.columns)[:12])}...)")
    labels = np.array([_normalise_label(v) for v in frame[label_col].to_numpy()])
    if opts.label_map:
        labels = np.array([opts.label_map.get(v, v) for v in labels])
    explicit = bool(opts.features or opts.features_file)
    rest = columns.choose(frame.drop(columns=[label_col]), opts.features, opts.features_file, opts.exclude, path)
    numeric = rest.select_dtypes(include=[np.number, "bool"])
    dropped = [c for c in rest.columns if c not in numeric.columns]
    if dropped:
        if explicit:
            raise AATriggerError(f"{path}: feature column {dropped[0]!r} is not numeric")
        notes.append(f"dropped {len(dropped)} non-numeric column(s): {', '.join(dropped[:5])}")
    if numeric.shape[1] == 0:
        raise AATriggerError(f"{path}: no numeric feature columns")
    names = [str(c) for c in numeric.columns]
    kind = "image" if names[:2] == ["pixel1", "pixel2"] and len(names) in (784, 1024) else "tabular"
    x = numeric.to_numpy(dtype=np.float64)
    note = columns.identifier_note(x, names) if kind == "tabular" and not explicit else None
    return Table(kind, x, labels, names, notes + ([note] if note else []))


def apply_nonfinite(table: Table, policy: str, source: str) -> Table:
    if policy not in NONFINITE_POLICIES:
        raise AATriggerError(f"unknown non-finite policy {policy!r}; choose one of {', '.join(NONFINITE_POLICIES)}")
    x = table.features.reshape(len(table.features), -1)
    bad = ~np.isfinite(x)
    rows = bad.any(axis=1)
    if not rows.any():
        return table
    cols = [table.names[j] for j in np.flatnonzero(bad.any(axis=0))][:5] if table.kind != "trigger" else []
    what = f"{int(rows.sum())} rows with NaN/Inf" + (f" (in {', '.join(cols)})" if cols else "")
    if policy == "error":
        raise AATriggerError(f"{source}: {what}; choose --nonfinite drop or zero to go on")
    if policy == "drop":
        gone = {lab: int(n) for lab, n in zip(*np.unique(table.labels[rows], return_counts=True))
                if not (table.labels[~rows] == lab).any()}
        table = Table(table.kind, table.features[~rows], table.labels[~rows], table.names, table.notes, gone)
        table.notes.append(f"dropped {what}" + (f"; no row left of label(s) {', '.join(gone)}" if gone else ""))
    else:
        feats = table.features.copy()
        feats[~np.isfinite(feats)] = 0.0
        table = Table(table.kind, feats, table.labels, table.names, table.notes)
        table.notes.append(f"set NaN/Inf to 0 in {what}")
    return table


def read_source(name: str, path: Path, opts: ReadOptions) -> Table:
    """Read one data source; ``name`` labels ADC2021 events."""
    path = Path(path)
    if not path.is_file():
        raise AATriggerError(f"{path}: no such file")
    lower = path.name.lower()
    notes: list[str] = []
    if "idx3-ubyte" in lower:
        images = read_idx(path).astype(np.float64)
        lab_path = _idx_labels_path(path)
        if not lab_path.is_file():
            raise AATriggerError(f"{path}: labels file {lab_path.name} not found beside it")
        labels = read_idx(lab_path)
        if labels.ndim != 1 or len(labels) != len(images):
            raise AATriggerError(f"{lab_path}: {len(labels)} labels for {len(images)} images")
        table = Table("image", images, np.array([str(v) for v in labels]), [f"pixel{i + 1}" for i in range(784)])
        if opts.label_map:
            table.labels = np.array([opts.label_map.get(v, v) for v in table.labels])
    elif lower.endswith(".png"):
        table = read_sprite(path, opts)
        if opts.label_map:
            table.labels = np.array([opts.label_map.get(v, v) for v in table.labels])
    elif lower.endswith(".npy"):
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise AATriggerError(f"{path}: not a readable NPY file ({str(exc).splitlines()[0]})") from None
        if arr.ndim != 2:
            raise AATriggerError(f"{path}: array of shape {arr.shape}, expected (rows, columns)")
        import pandas as pd

        frame = pd.DataFrame(arr, columns=[str(i) for i in range(arr.shape[1])])
        if not opts.label_column:
            raise AATriggerError(f"{path}: an NPY table needs --label-column (a column index)")
        table = _frame_to_table(frame, path, opts, notes)
    elif lower.endswith((".h5", ".hdf5")) and _is_adc2021(path):
        from aa_trigger.data.adc2021 import read_adc2021

        ev = read_adc2021(path, allow_nonfinite=True)
        table = Table("trigger", ev, np.full(len(ev), name), [])
    else:
        frame, note = _read_frame(path, opts)
        if note:
            notes.append(note)
        table = _frame_to_table(frame, path, opts, notes)
    if len(table.labels) == 0:
        raise AATriggerError(f"{path}: no rows")
    return apply_nonfinite(table, opts.nonfinite, str(path))


def _is_adc2021(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "Particles" in f
    except OSError:
        raise AATriggerError(f"{path}: not a readable HDF5 file") from None
