"""Typed training configuration: every default and help text is defined once, here."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from aa_trigger.errors import AATriggerError
from aa_trigger.generator import SIGNALS

BX_RATES_MHZ = {"40": 40.0, "28.61": 28.61}


def _opt(default: Any, help: str, **kw: Any) -> Any:
    meta = {"help": help, **kw}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """Everything that defines a training run (written resolved into the run folder)."""

    data_dir: str = _opt("", "folder of ADC2021 HDF5 files (background_for_training.h5 and the signal files); "
                             "default: generate (once, then cached) the built-in synthetic L1 data set")
    cache_dir: str = _opt("", "where the built-in data set is cached (default $AA_TRIGGER_CACHE or ~/.cache/aa_trigger)")
    signals: list[str] = _opt(list(SIGNALS), "ADC2021/built-in: signal samples to evaluate", nargs="+")
    finetune_signal: str = _opt("leptoquark", "ADC2021/built-in: signal whose labelled events are used in "
                                              "AA fine-tuning")
    data: list[str] = _opt([], "your own data, [NAME=]PATH, repeatable: CSV/Parquet/HDF5/NPY tables, LHCO "
                               "features HDF, CICIDS2017 CSVs, IDX/Kaggle-CSV/sprite-PNG images, ADC2021 files. "
                               "With several sources, NAME:LABEL selects a label of one source, NAME a whole source and LABEL "
                               "that label in every source",
                           nargs="+", action="extend")
    background: list[str] = _opt([], "with --data: labels that are background", nargs="+")
    finetune: list[str] = _opt([], "with --data: labels of the known anomalies used in AA fine-tuning", nargs="+")
    test: list[str] = _opt([], "with --data: unseen anomaly labels, each evaluated as its own signal "
                               "(default: every other label)", nargs="+")
    label_column: str = _opt("", "with --data: label column name or index (default: label, Label, Attack Type, ...)")
    features: list[str] = _opt([], "with --data: feature columns to use (default: every numeric column)", nargs="+")
    column_map: list[str] = _opt([], "with --data: rename columns, OLD=NEW (for re-released CSVs)", nargs="+")
    label_map: list[str] = _opt([], "with --data: rename or group labels, OLD=NEW", nargs="+")
    nonfinite: str = _opt("drop", "rows with NaN/Inf: drop them, set them to zero, or error (always reported)",
                          choices=["drop", "zero", "error"])
    hdf_key: str = _opt("", "with --data: pandas key or dataset name in an HDF5 table")
    tiles_per_label: int = _opt(90, "sprite PNG: consecutive 28x28 tiles per label (Fashion-MNIST sprite: 90)")
    test_fraction: float = _opt(0.3, "with --data: fraction of background and fine-tuning events kept for testing")
    n_background_train: int = _opt(400_000, "background events for training")
    n_background_test: int = _opt(2_000_000, "background events for evaluation (TPR at FPR 1e-5 needs >= 1e6)")
    n_signal: int = _opt(100_000, "events per signal sample")
    n_finetune: int = _opt(20_000, "events of the fine-tuning signal used in training (the rest are test events)")
    preprocessing: str = _opt("hardware", "input scaling: 'hardware' ((x - offset) >> shift on L1 integers, "
                                          "bit-exact in firmware) or 'float' (the paper's log1p + standardisation)",
                              choices=["hardware", "float"])
    quantize: int = _opt(8, "bits of weights, biases and activations (QKeras); 0 = float model")
    latent: int = _opt(0, "latent dimension (default per data kind: trigger 8 as AXOL1TL v2-v4, tabular 2, "
                          "images 20 as in the paper)")
    widths: list[int] = _opt([], "encoder hidden widths, mirrored by the decoder (default per data kind: trigger "
                                 "32 16, tabular 16, images 400)", nargs="+")
    surrogate_width: int = _opt(16, "hidden width of the latent-score surrogate head")
    epochs_pretrain: int = _opt(20, "stage 1 epochs (unsupervised VAE on background)")
    epochs_finetune: int = _opt(10, "stage 2 epochs (Anomaly-Awareness fine-tuning)")
    epochs_surrogate: int = _opt(10, "epochs of the surrogate-head regression")
    batch_size: int = _opt(1024, "batch size (AA batches include the anomaly fraction)")
    learning_rate: float = _opt(1e-3, "Adam learning rate")
    kl_weight: float = _opt(1.0, "weight of the KL term in the VAE loss")
    lambda_max: float = _opt(1.0, "AA penalty weight reached at the last fine-tuning epoch (linear ramp from 0)")
    anomaly_fraction: float = _opt(0.1, "fraction of each AA batch drawn from the fine-tuning signal")
    clip: float = _opt(200.0, "per-event clip of the anomaly error in the AA term")
    aa_target: str = _opt("recon", "what the AA term pushes up on anomalies: 'recon' (reconstruction error, "
                                    "the paper) or 'latent' (the deployable sum mu^2)", choices=["recon", "latent"])
    rate_khz: list[float] = _opt([1.0, 5.0, 10.0], "trigger rates (kHz) at which to report the signal efficiency",
                                 nargs="+")
    bx_mhz: str = _opt("40", "bunch-crossing rate for rate -> FPR conversion", choices=list(BX_RATES_MHZ))
    seed: int = _opt(0, "random seed (data splits, initialisation, batches, sampling noise)")
    output: str = _opt("models", "folder that receives the run folder")
    run_name: str = _opt("", "run folder name (default: derived from the main options)")
    force: bool = _opt(False, "replace an existing run folder of the same name")

    def validate(self) -> None:
        positive = ("n_background_train", "n_background_test", "n_signal", "n_finetune", "batch_size",
                    "epochs_pretrain", "surrogate_width")
        for name in positive:
            if getattr(self, name) < 1:
                raise AATriggerError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        for name in ("epochs_finetune", "epochs_surrogate"):
            if getattr(self, name) < 0:
                raise AATriggerError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.data:
            if not self.background or not self.finetune:
                raise AATriggerError("--data needs --background and --finetune labels")
            if not 0.0 < self.test_fraction < 1.0:
                raise AATriggerError(f"--test-fraction must be in (0, 1), got {self.test_fraction}")
            for opt in ("column_map", "label_map"):
                bad = [v for v in getattr(self, opt) if "=" not in v]
                if bad:
                    raise AATriggerError(f"--{opt.replace('_', '-')} takes OLD=NEW, got {bad[0]!r}")
        elif self.finetune_signal not in self.signals:
            raise AATriggerError(f"--finetune-signal {self.finetune_signal!r} is not among --signals {self.signals}")
        if len(set(self.signals)) != len(self.signals):
            raise AATriggerError(f"--signals lists a sample twice: {self.signals}")
        if not self.data_dir and not self.data:
            unknown = [s for s in self.signals if s not in SIGNALS]
            if unknown:
                raise AATriggerError(f"unknown signal {unknown[0]!r}; built-in signals: {', '.join(SIGNALS)}")
        if self.n_finetune >= self.n_signal:
            raise AATriggerError(f"--n-finetune ({self.n_finetune}) must be smaller than --n-signal ({self.n_signal})")
        if not 0.0 < self.anomaly_fraction < 1.0:
            raise AATriggerError(f"--anomaly-fraction must be in (0, 1), got {self.anomaly_fraction}")
        if self.lambda_max < 0 or self.clip <= 0 or self.learning_rate <= 0 or self.kl_weight < 0:
            raise AATriggerError("--lambda-max and --kl-weight must be >= 0, --clip and --learning-rate > 0")
        from aa_trigger.model import ModelConfig

        ModelConfig(widths=list(self.widths) or [1], latent=self.latent or 1, quantize=self.quantize,
                    surrogate_width=self.surrogate_width).validate()
        if any(r <= 0 for r in self.rate_khz):
            raise AATriggerError(f"--rate-khz values must be positive, got {self.rate_khz}")

    @property
    def bx_rate_khz(self) -> float:
        return BX_RATES_MHZ[self.bx_mhz] * 1000.0

    def default_run_name(self) -> str:
        q = f"q{self.quantize}" if self.quantize else "float"
        ft = "+".join(self.finetune) if self.data else self.finetune_signal
        ft = "".join(c if c.isalnum() or c in "+-_" else "_" for c in ft)[:40]
        return f"vae-{q}-l{self.latent}-aa-{ft}-{self.aa_target}-s{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--option`` per :class:`TrainConfig` field, help and default from the field."""
    for f in fields(TrainConfig):
        meta = dict(f.metadata)
        flag = "--" + f.name.replace("_", "-")
        default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
        help_text = meta.pop("help") + ("" if default in ("", False) else f" (default: {default})")
        if isinstance(default, bool):
            parser.add_argument(flag, action="store_true", help=help_text)
            continue
        hint = f.type if isinstance(f.type, str) else ""
        kind = (int if "int" in hint else str) if isinstance(default, list) and not default else \
            type(default[0]) if isinstance(default, list) else type(default)
        parser.add_argument(flag, type=kind, default=default, help=help_text, **meta)


def from_namespace(ns: argparse.Namespace) -> TrainConfig:
    cfg = TrainConfig(**{f.name: getattr(ns, f.name) for f in fields(TrainConfig)})
    cfg.validate()
    return cfg


def default_cache_dir() -> Path:
    import os

    return Path(os.environ.get("AA_TRIGGER_CACHE", Path.home() / ".cache" / "aa_trigger"))
