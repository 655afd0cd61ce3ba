"""The training data set: built-in samples (generated once, cached) or a folder of ADC2021 files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from aa_trigger import generator
from aa_trigger.adc2021 import read_adc2021
from aa_trigger.config import TrainConfig, default_cache_dir
from aa_trigger.errors import AATriggerError
from aa_trigger.preprocess import FloatScaler, HardwareScaler, to_hardware

Progress = Callable[[str], None]
BUILTIN_VERSION = 1  # bump when the generator's output changes


@dataclass
class Dataset:
    """Scaled network inputs, split for training and evaluation."""

    scaler: HardwareScaler | FloatScaler
    x_train: np.ndarray  # background for training
    x_test: np.ndarray  # background for evaluation
    x_finetune: np.ndarray  # labelled anomalies used in AA fine-tuning
    signals_test: dict[str, np.ndarray]  # per signal, events never used in training
    hw_test: np.ndarray | None = None  # hardware integers of x_test (trigger data only)
    hw_signals_test: dict[str, np.ndarray] = field(default_factory=dict)
    fingerprint: dict[str, str] = field(default_factory=dict)


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


def load_dataset(cfg: TrainConfig, progress: Progress | None = None) -> Dataset:
    """Read the samples through the ADC2021 reader, split, fit the scaler on training background."""
    paths = sample_paths(cfg, progress)
    n_bg = cfg.n_background_train + cfg.n_background_test
    bg = read_adc2021(paths["background"], n_bg)
    if len(bg) < n_bg:
        raise AATriggerError(f"{paths['background']}: {len(bg)} events, need {n_bg} "
                             f"(--n-background-train + --n-background-test)")
    rng = np.random.default_rng([cfg.seed, 11])
    bg = bg[rng.permutation(len(bg))]
    signals = {}
    for s in cfg.signals:
        ev = read_adc2021(paths[s], cfg.n_signal)
        if s == cfg.finetune_signal and len(ev) <= cfg.n_finetune:
            raise AATriggerError(f"{paths[s]}: {len(ev)} events, need more than --n-finetune {cfg.n_finetune}")
        signals[s] = ev[np.random.default_rng([cfg.seed, 12]).permutation(len(ev))]

    fingerprint = {k: sha256_file(p) for k, p in paths.items()}
    if cfg.preprocessing == "hardware":
        hw_bg = to_hardware(bg)
        hw_sig = {k: to_hardware(v) for k, v in signals.items()}
        scaler: HardwareScaler | FloatScaler = HardwareScaler.fit(hw_bg[: cfg.n_background_train])
        x_bg, x_sig = scaler.transform(hw_bg), {k: scaler.transform(v) for k, v in hw_sig.items()}
    else:
        flat_bg = bg[..., :3].reshape(len(bg), -1)
        flat_sig = {k: v[..., :3].reshape(len(v), -1) for k, v in signals.items()}
        scaler = FloatScaler.fit(flat_bg[: cfg.n_background_train])
        x_bg, x_sig = scaler.transform(flat_bg), {k: scaler.transform(v) for k, v in flat_sig.items()}
        hw_bg, hw_sig = None, {}

    ntr, nft = cfg.n_background_train, cfg.n_finetune
    ft = cfg.finetune_signal
    signals_test = {k: (v[nft:] if k == ft else v) for k, v in x_sig.items()}
    hw_signals_test = {k: (v[nft:] if k == ft else v) for k, v in hw_sig.items()}
    return Dataset(scaler, x_bg[:ntr], x_bg[ntr:], x_sig[ft][:nft], signals_test,
                   None if hw_bg is None else hw_bg[ntr:], hw_signals_test, fingerprint)
