"""The training data set: built-in samples (generated once, cached) or a folder of ADC2021 files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from aa_trigger.data import generator
from aa_trigger.data.adc2021 import read_adc2021
from aa_trigger.config import TrainConfig, default_cache_dir
from aa_trigger.errors import AATriggerError
from aa_trigger.data.preprocess import FloatScaler, HardwareScaler, saturation_counts, to_hardware

Progress = Callable[[str], None]
BUILTIN_VERSION = 1  # bump when the generator's output changes


@dataclass
class Dataset:
    """Scaled network inputs, split for training and evaluation."""

    kind: str  # "trigger" | "tabular" | "image"
    scaler: HardwareScaler | FloatScaler
    x_train: np.ndarray  # background for training
    x_test: np.ndarray  # background for evaluation
    x_finetune: np.ndarray  # labelled anomalies used in AA fine-tuning
    signals_test: dict[str, np.ndarray]  # per signal, events never used in training
    finetune_signals: list[str]  # test signals that are fine-tuning labels
    int_test: np.ndarray  # x_test as the firmware input integers (units of 2**-frac_bits)
    int_signals_test: dict[str, np.ndarray]
    fingerprint: dict[str, str] = field(default_factory=dict)
    report: list[str] = field(default_factory=list)
    #: per split ("train", "test", "finetune", each signal): input values saturated, per feature name
    saturated: dict[str, dict[str, int]] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)  # the resolved columns of a table (empty otherwise)
    #: with ``keep_raw`` and a hardware scaler: the test events as the raw integers before the scaling
    raw_test: np.ndarray | None = None
    raw_signals_test: dict[str, np.ndarray] | None = None


MIN_SIGNAL_ROWS = 10  # fewer test rows than this: the report says the signal's metrics rest on a handful
IMAGE_SCALER = dict(offset_shift=8, width=9, int_bits=1)  # pixel / 256 in ap_fixed<9,1>, exact


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def builtin_folder(cfg: TrainConfig, progress: Progress | None = None) -> Path:
    """The cached built-in data set for this configuration, generated on first use."""
    n_bg = cfg.n_background_train + cfg.n_background_test
    root = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    folder = root / f"builtin-v{BUILTIN_VERSION}-seed{cfg.seed}-bg{n_bg}-sig{cfg.n_signal}"
    manifest = folder / "manifest.json"
    if manifest.is_file():
        have = json.loads(manifest.read_text())["samples"]
        if all(s in have for s in cfg.signals):
            return folder
    if progress:
        progress(f"generating the built-in data set into {folder} ({n_bg} background, {cfg.n_signal} per signal)")
    try:
        paths = generator.write_builtin(folder, n_bg, cfg.n_signal, cfg.seed, tuple(generator.SIGNALS))
    except OSError as exc:
        raise AATriggerError(f"cannot write the built-in data set to {folder}: {exc}") from None
    manifest.write_text(json.dumps({"generator_version": BUILTIN_VERSION, "seed": cfg.seed,
                                     "samples": {k: p.name for k, p in paths.items()}}, indent=1))
    return folder


def sample_paths(cfg: TrainConfig, progress: Progress | None = None) -> dict[str, Path]:
    folder = Path(cfg.data_dir) if cfg.data_dir else builtin_folder(cfg, progress)
    if not folder.is_dir():
        raise AATriggerError(f"--data-dir {folder}: no such folder")
    paths = {}
    for sample in ("background", *cfg.signals):
        name = generator.SAMPLE_FILES.get(sample, f"{sample}.h5")
        path = folder / name
        if not path.is_file():
            raise AATriggerError(f"{folder}: missing {name} for sample {sample!r}")
        paths[sample] = path
    return paths


def _split(rng: np.random.Generator, n: int, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    return order[n_test:], order[:n_test]


def _raw_builtin_or_adc(cfg: TrainConfig, progress: Progress | None):
    """Raw events of the built-in data or an ADC2021 folder, split by event counts."""
    paths = sample_paths(cfg, progress)
    n_bg = cfg.n_background_train + cfg.n_background_test
    bg = read_adc2021(paths["background"], n_bg)
    if len(bg) < n_bg:
        raise AATriggerError(f"{paths['background']}: {len(bg)} events, need {n_bg} "
                             f"(--n-background-train + --n-background-test)")
    bg = bg[np.random.default_rng([cfg.seed, 11]).permutation(len(bg))]
    signals = {}
    for s in cfg.signals:
        ev = read_adc2021(paths[s], cfg.n_signal)
        if s == cfg.finetune_signal and len(ev) <= cfg.n_finetune:
            raise AATriggerError(f"{paths[s]}: {len(ev)} events, need more than --n-finetune {cfg.n_finetune}")
        signals[s] = ev[np.random.default_rng([cfg.seed, 12]).permutation(len(ev))]
    ft = cfg.finetune_signal
    raw = {"train": bg[: cfg.n_background_train], "test": bg[cfg.n_background_train:],
           "finetune": signals[ft][: cfg.n_finetune],
           "signals": {k: (v[cfg.n_finetune:] if k == ft else v) for k, v in signals.items()}}
    return "trigger", raw, [ft], {k: sha256_file(p) for k, p in paths.items()}, []


def _parse_map(items: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in items)


@dataclass
class _Rows:
    """Every row of the user's sources: its source, its label, and the label qualified by source."""

    src: np.ndarray
    lab: np.ndarray
    qual: np.ndarray
    dropped: dict[str, int]  # labels whose every row was dropped for NaN/Inf

    def select(self, token: str) -> np.ndarray:
        """Rows of a token: SOURCE:LABEL, LABEL (in every source), SOURCE or SOURCE:* (a whole source)."""
        if token.endswith(":*") and (self.src == token[:-2]).any():
            return self.src == token[:-2]
        as_label, as_source = (self.qual == token) | (self.lab == token), self.src == token
        if as_label.any() and as_source.any() and not np.array_equal(as_label, as_source):
            raise AATriggerError(f"{token!r} names both a --data source and a label; write '{token}:*' for the "
                                 f"whole source or 'SOURCE:{token}' for the label")
        m = as_label | as_source
        if not m.any():
            if token in self.dropped:
                raise AATriggerError(f"label {token!r}: all {self.dropped[token]} rows were dropped for NaN/Inf "
                                     "(--nonfinite drop); use --nonfinite zero to keep them")
            raise AATriggerError(f"unknown label {token!r}; labels: {', '.join(sorted(set(self.qual))[:30])}")
        return m

    def union(self, tokens: list[str]) -> np.ndarray:
        m = np.zeros(len(self.qual), bool)
        for t in tokens:
            m |= self.select(t)
        return m

    def short(self, qual: str) -> str:
        """A label alone when no other source has it, else SOURCE:LABEL."""
        label = qual.split(":", 1)[-1]
        return label if len(set(self.src[self.lab == label])) == 1 else qual


def _rows(tables: dict) -> tuple[str, np.ndarray, _Rows]:
    """Data kind, features and row labels of all sources (which must agree in kind and shape)."""
    kinds = {t.kind for t in tables.values()}
    if len(kinds) > 1:
        raise AATriggerError(f"--data sources mix data kinds ({', '.join(sorted(kinds))})")
    shapes = {t.features.shape[1:] for t in tables.values()}
    if len(shapes) > 1:
        raise AATriggerError(f"--data sources have different feature counts: {sorted(shapes)}")
    kind = kinds.pop()
    src = np.concatenate([np.full(len(t.labels), n) for n, t in tables.items()])
    lab = np.concatenate([t.labels if t.kind != "trigger" else np.full(len(t.labels), n) for n, t in tables.items()])
    qual = lab if len(tables) == 1 or kind == "trigger" else np.char.add(np.char.add(src.astype(str), ":"), lab)
    dropped = {k: v for t in tables.values() for k, v in t.dropped.items()}
    return kind, np.concatenate([t.features for t in tables.values()]), _Rows(src, lab, np.asarray(qual), dropped)


def _roles(rows: _Rows, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Background and fine-tuning masks, and one mask per unseen test signal (short names)."""
    bg_mask, ft_mask = rows.union(cfg.background), rows.union(cfg.finetune)
    if (bg_mask & ft_mask).any():
        raise AATriggerError("a label is both --background and --finetune")
    if cfg.test:
        signal_masks = {t: rows.select(t) for t in cfg.test}
    else:
        rest = sorted(set(rows.qual[~(bg_mask | ft_mask)]))
        signal_masks = {rows.short(q): rows.qual == q for q in rest}
    for t, m in signal_masks.items():
        if (m & (bg_mask | ft_mask)).any():
            raise AATriggerError(f"--test label {t!r} is also background or fine-tuning data")
    return bg_mask, ft_mask, signal_masks


def _raw_user(cfg: TrainConfig, progress: Progress | None):
    """Raw rows of the user's sources, assigned to roles by label and split by fraction; one test signal
    per fine-tuning label and per unseen label."""
    tables, report, fingerprint = _read_sources(cfg)
    kind, feats, rows = _rows(tables)
    bg_mask, ft_mask, signal_masks = _roles(rows, cfg)
    rng = np.random.default_rng([cfg.seed, 13])
    bg, ft = feats[bg_mask], feats[ft_mask]
    for what, arr in (("background", bg), ("fine-tuning", ft)):
        if len(arr) < 2:
            raise AATriggerError(f"the {what} class has {len(arr)} rows; it needs at least 2")
    tr, te = _split(rng, len(bg), max(1, int(round(cfg.test_fraction * len(bg)))))
    ftr, fte = _split(rng, len(ft), max(1, int(round(cfg.test_fraction * len(ft)))))
    ft_rows = {t: rows.select(t)[ft_mask] for t in cfg.finetune}
    signals = {t: ft[fte][m[fte]] for t, m in ft_rows.items()}
    signals.update({t: feats[m] for t, m in signal_masks.items()})
    report.append(f"background {len(tr)} train / {len(te)} test; fine-tuning {'+'.join(cfg.finetune)} {len(ftr)} "
                  "train; test signals " + ", ".join(f"{t} {len(v)}" for t, v in signals.items()))
    tiny = [f"{t} ({len(v)})" for t, v in signals.items() if len(v) < MIN_SIGNAL_ROWS]
    if tiny:
        report.append(f"test signals with fewer than {MIN_SIGNAL_ROWS} rows (their AUC and efficiency rest on a "
                      f"handful of events): {', '.join(tiny)}")
    raw = {"train": bg[tr], "test": bg[te], "finetune": ft[ftr], "signals": signals,
           "names": next(iter(tables.values())).names}
    return kind, raw, list(cfg.finetune), fingerprint, report


def _read_sources(cfg: TrainConfig) -> tuple[dict, list[str], dict[str, str]]:
    from aa_trigger.data.loaders import ReadOptions, read_source

    opts = ReadOptions(cfg.label_column, list(cfg.features), _parse_map(cfg.column_map),
                       _parse_map(cfg.label_map), cfg.nonfinite, cfg.hdf_key, cfg.tiles_per_label,
                       exclude=list(cfg.exclude_features), features_file=cfg.features_file)
    tables, report, fingerprint = {}, [], {}
    for i, item in enumerate(cfg.data):
        name, path = item.split("=", 1) if "=" in item else (Path(item).stem.split(".")[0] or f"data{i}", item)
        if name in tables:
            raise AATriggerError(f"--data names source {name!r} twice")
        t = read_source(name, Path(path), opts)
        tables[name] = t
        fingerprint[name] = sha256_file(Path(path))
        report.append(f"{name} ({path}): {t.kind}, {len(t.labels)} rows, {t.features.shape[-1]} "
                      f"{'objects' if t.kind == 'trigger' else 'features'}; rows per label "
                      + ", ".join(f"{k} {v}" for k, v in t.counts().items())
                      + "".join(f"; {n}" for n in t.notes))
    return tables, report, fingerprint


def _pixels(x: np.ndarray) -> np.ndarray:
    if np.any(x < 0) or np.any(x > 255) or np.any(x != np.round(x)):
        raise AATriggerError("image pixels must be integers from 0 to 255")
    return x.astype(np.int64)


def load_dataset(cfg: TrainConfig, progress: Progress | None = None, keep_raw: bool = False) -> Dataset:
    """Read the samples, split them, fit the scaler on training background only, scale. ``keep_raw``:
    also keep the test events' raw integers (hardware scaling only: trigger data and images)."""
    if cfg.data:
        kind, raw, ft_names, fingerprint, report = _raw_user(cfg, progress)
    else:
        kind, raw, ft_names, fingerprint, report = _raw_builtin_or_adc(cfg, progress)
    scaler: HardwareScaler | FloatScaler
    names = raw.get("names") or []
    if kind == "trigger" and cfg.preprocessing == "hardware":
        to_in = to_hardware
        scaler = HardwareScaler.fit(to_in(raw["train"]))
        names = TRIGGER_FEATURES
    elif kind == "image":
        to_in = _pixels
        d = raw["train"].shape[1]
        scaler = HardwareScaler([0] * d, [IMAGE_SCALER["offset_shift"]] * d, IMAGE_SCALER["width"],
                                IMAGE_SCALER["int_bits"])
    else:
        def to_in(a: np.ndarray) -> np.ndarray:
            return a[..., :3].reshape(len(a), -1) if a.ndim == 3 else a
        names = names if kind != "trigger" else TRIGGER_FEATURES
        scaler = FloatScaler.fit(to_in(raw["train"]), report, names)
    inputs = {**{k: to_in(raw[k]) for k in ("train", "test", "finetune")},
              **{k: to_in(v) for k, v in raw["signals"].items()}}
    saturated = _saturation({k: scaler.unsaturated(v) for k, v in inputs.items()}, scaler.width, names, report)
    ints = {k: scaler.transform_int(inputs[k]) for k in ("train", "test", "finetune")}
    sig_ints = {k: scaler.transform_int(inputs[k]) for k in raw["signals"]}
    f = 2.0 ** -scaler.frac_bits

    def flt(a: np.ndarray) -> np.ndarray:
        return (a * f).astype(np.float32)

    raw_ok = keep_raw and isinstance(scaler, HardwareScaler)
    return Dataset(kind, scaler, flt(ints["train"]), flt(ints["test"]), flt(ints["finetune"]),
                   {k: flt(v) for k, v in sig_ints.items()}, ft_names, ints["test"], sig_ints, fingerprint, report,
                   saturated, list(names) if kind == "tabular" else [],
                   inputs["test"].astype(np.int32) if raw_ok else None,
                   {k: inputs[k].astype(np.int32) for k in raw["signals"]} if raw_ok else None)


#: the 57 trigger inputs in network order: (pT, eta, phi) of MET, 4 e/gamma, 4 muons, 10 jets
TRIGGER_FEATURES = [f"{o}_{q}" for o in ["MET"] + [f"egamma{i}" for i in range(4)] + [f"muon{i}" for i in range(4)]
                    + [f"jet{i}" for i in range(10)] for q in ("pt", "eta", "phi")]


def _saturation(splits: dict[str, np.ndarray], width: int, names: list[str], report: list[str]
                ) -> dict[str, dict[str, int]]:
    """Values at the limits of the input type, per split and feature, reported when there are any."""
    out = {}
    for split, x in splits.items():
        counts = saturation_counts(x, width)
        cols = names if len(names) == len(counts) else [str(j) for j in range(len(counts))]
        out[split] = {cols[j]: int(counts[j]) for j in np.flatnonzero(counts)}
    total = {k: sum(v.values()) for k, v in out.items() if v}
    if total:
        report.append("input type saturates (values clipped at its limits): " + ", ".join(
            f"{k} {n} of {splits[k].size}" for k, n in total.items()))
    return out
