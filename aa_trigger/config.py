"""The configuration of every verb: each option and default is defined once, here, and generates the
command line (:mod:`aa_trigger.options`); run folders and firmware projects record it resolved."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from aa_trigger.data.generator import SIGNALS
from aa_trigger.errors import AATriggerError
from aa_trigger.evaluation.metrics import WorkingPoint, working_points
from aa_trigger.firmware.parts import PARTS
from aa_trigger.model.quant import QuantMode
from aa_trigger.model.vae import AA_TARGET_BY_KIND, KIND_DEFAULTS
from aa_trigger.options import check_fields, opt
from aa_trigger.outputs import check_name

BX_RATES_MHZ = {"40": 40.0, "28.61": 28.61}
BACKENDS = {"vitis": "Vitis", "vivado": "Vivado", "rtl": "RTL", "cmssw": "CMSSW"}
STRATEGIES = ("Latency", "Resource", "distributed_arithmetic")
IO_TYPES = ("io_parallel", "io_stream")
SCORE_CHOICES = ("auto", "mu2", "surrogate", "wmu2", "rz")


def _kind_defaults(what: str) -> str:
    i = {"widths": 0, "latent": 1}[what]
    return ", ".join(f"{kind} {' '.join(map(str, d[i])) if isinstance(d[i], list) else d[i]}"
                     for kind, d in KIND_DEFAULTS.items())


def rate_khz_option(default: list[float], help: str) -> Any:
    return opt(default, help, nargs="+", low=0.0, low_open=True)


def fpr_option(default: list[float], help: str) -> Any:
    return opt(default, help, nargs="+", low=0.0, low_open=True, high=1.0)


def bx_mhz_option() -> Any:
    return opt("40", "bunch-crossing rate (MHz) for rate -> FPR conversion", choices=list(BX_RATES_MHZ))


def check_rates(rates_khz: list[float], bx_mhz: str) -> None:
    bx = BX_RATES_MHZ[bx_mhz] * 1000.0
    if any(r >= bx for r in rates_khz):
        raise AATriggerError(f"--rate-khz values must be below the bunch-crossing rate ({bx:g} kHz), got {rates_khz}")


@dataclass
class TrainConfig:
    """Everything that defines a training run (written resolved into the run folder)."""

    data_dir: str = opt("", "folder of ADC2021 HDF5 files (background_for_training.h5 and the signal files); "
                             "default: generate (once, then cached) the built-in synthetic L1 data set")
    cache_dir: str = opt("", "where the built-in data set is cached (default $AA_TRIGGER_CACHE or ~/.cache/aa_trigger)")
    signals: list[str] = opt(list(SIGNALS), "ADC2021/built-in: signal samples to evaluate", nargs="+")
    finetune_signal: str = opt("leptoquark", "ADC2021/built-in: signal whose labelled events are used in "
                                              "AA fine-tuning")
    data: list[str] = opt([], "your own data, [NAME=]PATH, repeatable: CSV/Parquet/HDF5/NPY tables, LHCO "
                               "features HDF, CICIDS2017 CSVs, IDX/Kaggle-CSV/sprite-PNG images, ADC2021 files. "
                               "With several sources, NAME:LABEL selects a label of one source, NAME a whole source and LABEL "
                               "that label in every source",
                          nargs="+", action="extend")
    background: list[str] = opt([], "with --data: labels that are background", nargs="+")
    finetune: list[str] = opt([], "with --data: labels of the known anomalies used in AA fine-tuning", nargs="+")
    test: list[str] = opt([], "with --data: unseen anomaly labels, each evaluated as its own signal "
                               "(default: every other label)", nargs="+")
    label_column: str = opt("", "with --data: label column name or index (default: label, Label, Attack Type, ...)")
    features: list[str] = opt([], "with --data: feature columns to use (default: every numeric column)", nargs="+")
    exclude_features: list[str] = opt([], "with --data: columns to leave out, names or glob patterns (e.g. 'id' "
                                          "'*Port' 'Timestamp')", nargs="+", action="extend")
    features_file: str = opt("", "with --data: a text file naming the feature columns to use, one per line "
                                 "(# comments)")
    column_map: list[str] = opt([], "with --data: rename columns, OLD=NEW (for re-released CSVs)", nargs="+")
    label_map: list[str] = opt([], "with --data: rename or group labels, OLD=NEW", nargs="+")
    nonfinite: str = opt("drop", "rows with NaN/Inf: drop them, set them to zero, or error (always reported)",
                          choices=["drop", "zero", "error"])
    hdf_key: str = opt("", "with --data: pandas key or dataset name in an HDF5 table")
    tiles_per_label: int = opt(90, "sprite PNG: consecutive 28x28 tiles per label (Fashion-MNIST sprite: 90)", low=1)
    test_fraction: float = opt(0.3, "with --data: fraction of background and fine-tuning events kept for testing")
    n_background_train: int = opt(400_000, "built-in/ADC2021 data: background events for training", low=1)
    n_background_test: int = opt(2_000_000, "built-in/ADC2021 data: background events for evaluation (TPR at "
                                            "FPR 1e-5 needs >= 1e5, better 1e6)", low=1)
    n_signal: int = opt(100_000, "built-in/ADC2021 data: events per signal sample", low=1)
    n_finetune: int = opt(20_000, "built-in/ADC2021 data: events of the fine-tuning signal used in training (the "
                                  "rest are test events)", low=1)
    preprocessing: str = opt("hardware", "input scaling: 'hardware' ((x - offset) >> shift on L1 integers, "
                                          "bit-exact in firmware) or 'float' (the paper's log1p + standardisation)",
                              choices=["hardware", "float"])
    quantize: str = opt("8", "quantisation-aware training: N bits of weights, biases and activations (QKeras); "
                             "N,N,... one width per encoder dense layer, the latent mean last (e.g. 8,6,4); 'hgq': "
                             "HGQ's per-weight and per-neuron widths trained with a resource regulariser "
                             "(--hgq-beta); 0 = float model")
    hgq_beta: float = opt(1e-5, "with --quantize hgq: resource regularisation strength, the weight of the layers' "
                                "bit operations (BOPs) in the loss", low=0.0)
    latent: int = opt(0, "latent dimension (0: the data kind's default: " + _kind_defaults("latent") + ")", low=0)
    widths: list[int] = opt([], "encoder hidden widths, mirrored by the decoder (default per data kind: "
                                + _kind_defaults("widths") + ")", nargs="+", low=1)
    surrogate_width: int = opt(16, "hidden width of the latent-score surrogate head", low=1)
    epochs_pretrain: int = opt(20, "stage 1 epochs (unsupervised VAE on background)", low=1)
    epochs_finetune: int = opt(10, "stage 2 epochs (Anomaly-Awareness fine-tuning)", low=0)
    epochs_surrogate: int = opt(10, "epochs of the surrogate-head regression", low=0)
    batch_size: int = opt(1024, "batch size (AA batches include the anomaly fraction)", low=1)
    learning_rate: float = opt(1e-3, "Adam learning rate")
    kl_weight: float = opt(1.0, "weight of the KL term in the VAE loss")
    lambda_max: float = opt(1.0, "AA penalty weight reached at the last fine-tuning epoch (linear ramp from 0)")
    anomaly_fraction: float = opt(0.1, "fraction of each AA batch drawn from the fine-tuning signal")
    clip: float = opt(200.0, "per-event clip of the anomaly error in the AA term")
    aa_target: str = opt("auto", "what the AA term pushes up on anomalies: 'recon' (reconstruction error, "
                                   "the paper), 'latent' (the deployable sum mu^2) or 'surrogate' (the deployable "
                                   "surrogate head, trained jointly inside the AA loop); 'auto': per data kind, the "
                                   "one measured best (" + ", ".join(f"{k} {v}" for k, v in AA_TARGET_BY_KIND.items())
                                   + ")", choices=["auto", "recon", "latent", "surrogate"])
    aa_loss: str = opt("clip", "AA term: 'clip' (the paper: minus lambda times the mean clipped anomaly error) or "
                               "'margin' (a hinge: anomalies are pushed above the background score's quantile at "
                               "the first trigger rate, re-measured each epoch, times exp(--margin); the penalty "
                               "stops once an anomaly would fire the trigger)", choices=["clip", "margin"])
    margin: float = opt(0.0, "with --aa-loss margin: how far above the background quantile, in log of the score",
                        low=0.0)
    bg_anchor: float = opt(0.0, "keep the background VAE loss during AA within this factor of its pretrained value "
                                "(a penalty of --anchor-weight times the relative excess; 0: off)", low=0.0)
    anchor_weight: float = opt(10.0, "with --bg-anchor: weight of the anchor penalty, in units of the pretrained "
                                     "background loss", low=0.0)
    rate_khz: list[float] = rate_khz_option([1.0, 5.0, 10.0], "trigger rates (kHz) at which to report the signal "
                                                               "efficiency")
    fpr: list[float] = fpr_option([1e-5], "background false-positive rates at which to report the signal efficiency")
    bx_mhz: str = bx_mhz_option()
    seed: int = opt(0, "random seed (data splits, initialisation, batches, sampling noise)", low=0, high=2**32 - 1)
    output: str = opt("models", "folder that receives the run folder")
    run_name: str = opt("", "run folder name (default: derived from the main options)")
    force: bool = opt(False, "replace an existing run folder of that name (never any other folder)")

    def validate(self) -> None:
        check_fields(self)
        if self.run_name:
            check_name(self.run_name, "--run-name")
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
        mode = QuantMode.parse(self.quantize)
        if mode.kind == "qkeras" and len(mode.bits) > 1 and self.widths:
            mode.layer_bits(len(self.widths) + 1)
        if 0 < self.bg_anchor <= 1:
            raise AATriggerError(f"--bg-anchor is a factor above the pretrained loss: 0 (off) or > 1, got "
                                 f"{self.bg_anchor}")
        if self.latent > 64:
            raise AATriggerError(f"--latent must be between 1 and 64, got {self.latent}")
        check_rates(self.rate_khz, self.bx_mhz)

    @property
    def quantised(self) -> bool:
        """Quantisation-aware (QKeras or HGQ), so deployable."""
        return QuantMode.parse(self.quantize).kind != "float"

    def target_fpr(self) -> float:
        """The working point the margin loss aims at: the first trigger rate, else the first FPR."""
        points = self.working_points()
        return next((p.fpr for p in points if p.rate_khz is not None), points[0].fpr)

    @property
    def bx_rate_khz(self) -> float:
        return BX_RATES_MHZ[self.bx_mhz] * 1000.0

    def working_points(self) -> list[WorkingPoint]:
        return working_points(self.fpr, self.rate_khz, self.bx_rate_khz)

    def default_run_name(self) -> str:
        mode = QuantMode.parse(self.quantize)
        q = mode.label + (f"{self.hgq_beta:g}" if mode.kind == "hgq" else "")
        ft = "+".join(self.finetune) if self.data else self.finetune_signal
        ft = "".join(c if c.isalnum() or c in "+-_" else "_" for c in ft)[:40]
        variant = ("" if self.aa_loss == "clip" else f"-{self.aa_loss}") + (f"-anchor{self.bg_anchor:g}"
                                                                             if self.bg_anchor else "")
        return f"vae-{q}-l{self.latent}-aa-{ft}-{self.aa_target}{variant}-s{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_model_defaults(self, kind: str) -> "TrainConfig":
        """The per-data-kind defaults filled in (widths, latent, the AA target)."""
        widths, latent, _ = KIND_DEFAULTS[kind]
        target = AA_TARGET_BY_KIND[kind] if self.aa_target == "auto" else self.aa_target
        out = replace(self, widths=list(self.widths) or widths, latent=self.latent or latent, aa_target=target)
        mode = QuantMode.parse(out.quantize)
        if mode.kind == "qkeras":  # one width per encoder dense layer, checked before any data is read
            mode.layer_bits(len(out.widths) + 1)
        return out


@dataclass
class ConvertConfig:
    """Everything that defines a conversion (written resolved into the firmware project)."""

    run: str = opt("", "run folder (default: the newest under models/)")
    part: str = opt("xcvu9p", "FPGA part, short name or full string; known: " + ", ".join(PARTS))
    backend: list[str] = opt(["vitis"], "firmware back ends: vitis or vivado (hls4ml HLS project, C++ emulation and "
                                        "g++ C simulation), rtl (pipelined Verilog simulated with Verilator), cmssw "
                                        "(the C++ emulator library CMSSW loads, checked through dlopen); several "
                                        "write each and cross-check them", nargs="+", choices=list(BACKENDS))
    raw_input: bool = opt(False, "the firmware takes the raw object integers (as the Global Trigger delivers them) "
                                 "and scales them itself, (x - offset) >> shift per feature with the run's "
                                 "constants; trigger data and images (hardware scaling) only; implied by "
                                 "--backend cmssw on such runs")
    emulator_name: str = opt("", "with cmssw: model name of the emulator library <name>_v<version> (default: "
                                 "aat_<score>)")
    emulator_version: int = opt(1, "with cmssw: version number in the library name", low=1)
    estimate: bool = opt(False, "with rtl: yosys resource estimate (about 1.5 min for the default model)")
    adder_levels: int = opt(0, "with rtl: adder levels per pipeline stage (0: chosen from the clock, assuming about "
                               "1 ns per adder level)", low=0)
    latency_target_ns: float = opt(0.0, "with rtl: the latency the design must meet (e.g. 25 for one bunch crossing); "
                                        "the pipeline takes the fewest register stages the clock allows and the "
                                        "conversion stops in one line when that misses the target (0: no target)",
                                   low=0.0)
    clock_mhz: float = opt(200.0, "target clock in MHz", low=0.0, low_open=True)
    reuse_factor: int = opt(1, "hls4ml reuse factor (1: fully parallel)", low=1)
    strategy: str = opt("Latency", "hls4ml strategy; distributed_arithmetic: dense layers as da4ml's shift-and-add "
                                   "constant products (no DSP; AXOL1TL v6), reuse factor 1", choices=list(STRATEGIES))
    io_type: str = opt("io_parallel", "hls4ml io type", choices=list(IO_TYPES))
    score: str = opt("auto", "latent score in firmware: mu2 (sum mu^2, AXOL1TL), surrogate (learned head), wmu2 "
                             "(sum w_i mu_i^2, weights fitted to the full VAE score), or auto: the one with "
                             "the higher mean unseen-signal efficiency at the first resolved trigger rate after "
                             "AA in the run's metrics (else the higher mean unseen AUC)",
                     choices=list(SCORE_CHOICES))
    score_from: str = opt("", "with --score auto: choose from a scan folder instead of the run's own metrics: the "
                              "score with the higher mean over seeds of the mean unseen-signal efficiency at the "
                              "scan's first resolved trigger rate, over the scan's trials of this run's configuration")
    output: str = opt("", "project folder (default: firmware/<run-name>/)")
    force: bool = opt(False, "replace an existing firmware project of that name (never any other folder)")
    rate_khz: list[float] = rate_khz_option([], "rates (kHz) for the score thresholds (default: the run's)")
    fpr: list[float] = fpr_option([], "false-positive rates for the score thresholds (default: the run's)")
    bx_mhz: str = opt("", "bunch-crossing rate (MHz) for rate -> FPR conversion: " + " or ".join(BX_RATES_MHZ)
                      + " (default: the run's)")
    n_tb: int = opt(2000, "test-bench events written into the projects and C-simulated", low=1)
    n_hls: int = opt(20000, "events run through hls4ml predict()", low=1)
    no_csim: bool = opt(False, "skip the g++ C simulation of the hls4ml project")

    def validate(self) -> None:
        check_fields(self)
        if self.bx_mhz and self.bx_mhz not in BX_RATES_MHZ:
            raise AATriggerError(f"--bx-mhz must be one of {', '.join(BX_RATES_MHZ)}, got {self.bx_mhz!r}")
        check_rates(self.rate_khz, self.bx_mhz or "40")
        if self.strategy == "distributed_arithmetic" and self.reuse_factor != 1:
            raise AATriggerError("--strategy distributed_arithmetic needs --reuse-factor 1 (fully parallel)")
        chosen = set(self.backend)
        if {"vitis", "vivado"} <= chosen:
            raise AATriggerError("--backend takes one HLS back end (vitis or vivado), not both")
        if self.emulator_name and "cmssw" not in chosen:
            raise AATriggerError("--emulator-name needs --backend cmssw")
        if "rtl" not in chosen:
            for name, on in (("--estimate", self.estimate), ("--adder-levels", self.adder_levels),
                             ("--latency-target-ns", self.latency_target_ns)):
                if on:
                    raise AATriggerError(f"{name} needs --backend rtl (the HLS back end has no estimate without "
                                         "Vitis HLS)" if name == "--estimate" else f"{name} needs --backend rtl")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_cache_dir() -> Path:
    return Path(os.environ.get("AA_TRIGGER_CACHE", Path.home() / ".cache" / "aa_trigger"))


@dataclass
class ScanConfig:
    """A scan: which train options vary, how points are chosen, and where the trials run."""

    grid: list[str] = opt([], "dimensions, NAME=V1,V2,... with NAME any train option (list options take space-"
                              "separated values per point, e.g. widths='32 16,16 8')", nargs="+", action="extend")
    space: str = opt("", "a YAML file mapping train options to lists of values (instead of or beside --grid)")
    seeds: int = opt(0, "add a seed dimension 0..N-1 (results are reported as mean +- std over seeds)", low=0)
    sampler: str = opt("grid", "how points are chosen: every grid point, or --trials of random, tpe or nsga2 "
                               "(Optuna)", choices=["grid", "random", "tpe", "nsga2"])
    trials: int = opt(0, "with random/tpe/nsga2: trials in all", low=0)
    workers: int = opt(2, "Dask worker processes of the local cluster (one trial each at a time)", low=1)
    scheduler: str = opt("", "address of an existing Dask scheduler (tcp://host:8786) instead of a local cluster")
    storage: str = opt("", "Optuna storage: a database URL (postgresql://..., sqlite:///...) or journal:PATH "
                           "(default: study.db in the scan folder)")
    threads: int = opt(1, "TensorFlow threads per trial", low=1)
    clock_mhz: float = opt(240.0, "clock for the register stages of the firmware cost", low=0.0, low_open=True)
    estimate: str = opt("linear", "firmware cost: every trial gets the linear LUT estimate from its adder bits; "
                                  "yosys also synthesises one trial of each Pareto configuration with yosys "
                                  "(out of context, minutes each; kept in yosys/ of the scan folder)",
                        choices=["linear", "yosys"])
    part: str = opt("xcvu9p", "with --estimate yosys: FPGA part (its family selects the yosys cell library)")
    objective_score: str = opt("mu2", "deployed score whose efficiency is the objective",
                               choices=["mu2", "surrogate", "wmu2"])
    scan_dir: str = opt("scans", "folder that receives the scan folder")
    export_best: bool = opt(False, "retrain the best trial (highest efficiency, then fewest adders) into a run "
                                   "folder inside the scan folder, ready for convert")
    scan_name: str = opt("", "scan folder name (default: from the dimensions)")

    def validate(self) -> None:
        check_fields(self)
        if self.scan_name:
            check_name(self.scan_name, "--scan-name")
        if self.estimate == "yosys":
            from aa_trigger.firmware.parts import resolve_part

            resolve_part(self.part)
        if self.sampler != "grid" and self.trials < 1:
            raise AATriggerError(f"--sampler {self.sampler} needs --trials N")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CeilingConfig:
    """The supervised ceiling: classifiers trained on each signal, as evidence of what is reachable."""

    seeds: int = opt(3, "seeds (signal split and initialisation); results are mean +- std over them", low=1)
    hidden: list[int] = opt([64, 32], "hidden widths of the classifier (float, ReLU)", nargs="+", low=1)
    classifier_epochs: int = opt(10, "training epochs of each classifier", low=1)
    classifier_background: int = opt(500_000, "training background events per classifier (at most the training "
                                               "split)", low=1)
    json: str = opt("", "also write the per-seed results and the summary to this strict-JSON file")

    def validate(self) -> None:
        check_fields(self)
