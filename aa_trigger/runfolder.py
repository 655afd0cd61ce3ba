"""Run folders: atomic creation, saving and loading trained models, provenance.

Layout of ``models/<run-name>/``::

    config.json          resolved TrainConfig
    model.json           ModelConfig (architecture and quantisation)
    preprocessing.json   scaler parameters (offsets/shifts or log/mean/std)
    provenance.json      versions, seed, git commit, data fingerprint, timings
    history.json         per-epoch losses of every stage
    metrics.json         before/after-AA metrics
    summary.md           the Markdown table
    aa/{encoder,decoder,surrogate}.weights.h5        fine-tuned model (deployed)
    pretrained/{encoder,decoder,surrogate}.weights.h5  before AA (plain VAE)
    *.png                plots

Weights are HDF5 (no pickle); architectures are rebuilt from ``model.json``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aa_trigger import jsonio
from aa_trigger.errors import AATriggerError
from aa_trigger.model.vae import ModelConfig, VAEParts

if TYPE_CHECKING:
    from aa_trigger.config import TrainConfig
    from aa_trigger.data.dataset import Dataset
    from aa_trigger.evaluation.evaluate import RunMetrics
from aa_trigger.data.preprocess import FloatScaler, HardwareScaler, scaler_from_dict

RUN_FORMAT = 2  # 2: strict JSON (null for n/a), metrics.json with a format field
READABLE_FORMATS = (1, 2)
PART_NAMES = ("encoder", "decoder", "surrogate")
REQUIRED = ("config.json", "model.json", "preprocessing.json", "provenance.json",
            *(f"{stage}/{p}.weights.h5" for stage in ("aa", "pretrained") for p in PART_NAMES))


OPTIONAL_PARTS = ("weighting",)  # absent from runs written before the weighted sum of mu^2


HGQ_RANGES = "hgq_ranges.json"  # HGQ models: the traced output ranges (Keras does not save them with the weights)


def save_parts(folder: Path, parts: VAEParts) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, model in zip(PART_NAMES + OPTIONAL_PARTS, parts.models()):
        model.save_weights(str(folder / f"{name}.weights.h5"))
    if parts.config.hgq:
        from aa_trigger.model import hgq

        jsonio.write_json(folder / HGQ_RANGES, hgq.ranges(parts))


def load_parts(folder: Path, cfg: ModelConfig) -> VAEParts:
    parts = VAEParts.build(cfg)
    if not (folder / "weighting.weights.h5").is_file():
        parts.weighting = None
    for name, model in zip(PART_NAMES + OPTIONAL_PARTS, parts.models()):
        path = folder / f"{name}.weights.h5"
        try:
            model.load_weights(str(path))
        except (OSError, ValueError) as exc:
            raise AATriggerError(f"{path}: cannot load weights ({str(exc).splitlines()[0]})") from None
    if cfg.hgq:
        from aa_trigger.model import hgq

        path = folder / HGQ_RANGES
        if not path.is_file():
            raise AATriggerError(f"{path}: missing (an HGQ run stores its traced ranges there)")
        ranges = jsonio.read_json(path)
        if not isinstance(ranges, dict):
            raise AATriggerError(f"{path}: not a JSON object")
        hgq.set_ranges(parts, ranges, str(path))
    return parts


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("aa_trigger", "numpy", "tensorflow-cpu", "tensorflow", "keras", "qkeras", "hgq", "da4ml", "hls4ml",
                "h5py", "scikit-learn"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out


def git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        res = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=10).stdout.strip()
    return res.stdout.strip() + ("-dirty" if dirty else "")


@dataclass
class Run:
    """A trained run loaded back from its folder (every field it uses checked)."""

    path: Path
    config: dict[str, Any]
    model_config: ModelConfig
    scaler: HardwareScaler | FloatScaler
    aa: VAEParts
    pretrained: VAEParts
    metrics: dict[str, Any] | None  # metrics.json (None when absent)


def save_run(folder: Path, cfg: "TrainConfig", mcfg: ModelConfig, data: "Dataset", parts: VAEParts,
             pretrained: VAEParts, history: list[dict[str, Any]], metrics: "RunMetrics", summary: str) -> None:
    """Weights, resolved configuration, preprocessing, history, metrics and summary of a run."""
    save_parts(folder / "aa", parts)
    save_parts(folder / "pretrained", pretrained)
    jsonio.write_json(folder / "config.json", cfg.to_dict())
    jsonio.write_json(folder / "model.json", mcfg.to_dict())
    jsonio.write_json(folder / "preprocessing.json", {**data.scaler.to_dict(), "data_kind": data.kind})
    jsonio.write_json(folder / "history.json", history)
    jsonio.write_json(folder / "metrics.json", metrics)
    (folder / "summary.md").write_text(summary)


def environment() -> dict[str, Any]:
    """What float results can depend on beyond seed and inputs: the CPU's vector instructions (oneDNN picks
    kernels by them up to ``ONEDNN_MAX_CPU_ISA``; numpy's by ``NPY_DISABLE_CPU_FEATURES``), oneDNN graph
    rewrites on or off, and TensorFlow's thread counts."""
    import os

    info: dict[str, Any] = {"cpu_count": os.cpu_count(), **{k: os.environ.get(k) for k in (
        "ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS", "NPY_DISABLE_CPU_FEATURES")}}
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text()
        model = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), None)
        flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), [])
        info["cpu_model"] = model
        info["cpu_vector_flags"] = sorted(f for f in flags if f.startswith(("avx", "fma", "sse4", "amx")))
    with contextlib.suppress(Exception):
        import tensorflow as tf

        info["tf_intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
        info["tf_inter_op_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
    return info


def save_provenance(folder: Path, cfg: "TrainConfig", data: "Dataset", timings: dict[str, float]) -> None:
    jsonio.write_json(folder / "provenance.json", {
        "run_format": RUN_FORMAT, "seed": cfg.seed, "git_commit": git_commit(), "versions": versions(),
        "environment": environment(),
        "data_sha256": data.fingerprint, "data_source": cfg.data or cfg.data_dir or "built-in generator",
        "data_report": data.report, "timings": timings, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def _model_config(path: Path) -> ModelConfig:
    d = jsonio.read_json(path)
    if isinstance(d, dict) and "recon" not in d:  # written before image data: always squared errors
        d["recon"] = "mse"
    kinds = {"n_features": int, "widths": list, "latent": int, "surrogate_width": int, "recon": str}
    values = {name: jsonio.field(d, name, kind, path) for name, kind in kinds.items()}
    q = d.get("quantize") if isinstance(d, dict) else None
    if isinstance(q, bool) or not isinstance(q, (int, str)):
        raise AATriggerError(f"{path}: field 'quantize' should be an integer or a string, found {q!r}")
    values["quantize"] = q
    if "hgq_beta" in d:  # absent before HGQ models existed
        values["hgq_beta"] = jsonio.field(d, "hgq_beta", float, path)
    if not all(isinstance(w, int) and not isinstance(w, bool) for w in values["widths"]):
        raise AATriggerError(f"{path}: field 'widths' should be a list of integers, found {values['widths']!r}")
    cfg = ModelConfig(**values)
    try:
        cfg.validate()
    except AATriggerError as exc:
        raise AATriggerError(f"{path}: {exc}") from None
    return cfg


def train_config(config: dict[str, Any], path: Path) -> "TrainConfig":
    """The run's resolved training configuration, checked field by field."""
    from aa_trigger.config import TrainConfig

    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise AATriggerError(f"{path}: unknown field {unknown[0]!r}")
    try:
        cfg = TrainConfig(**config)
        cfg.validate()
    except (AATriggerError, TypeError) as exc:
        raise AATriggerError(f"{path}: {exc}") from None
    return cfg


def load_run(path: Path) -> Run:
    """Load a run folder; one clear error line when it is missing, incomplete or incompatible."""
    from aa_trigger.evaluation.evaluate import nan_for_null

    path = Path(path)
    if not path.is_dir():
        raise AATriggerError(f"run folder {path}: no such folder")
    missing = [f for f in REQUIRED if not (path / f).is_file()]
    if missing:
        raise AATriggerError(f"run folder {path} is incomplete: missing {', '.join(missing)}")
    fmt = jsonio.field(jsonio.read_json(path / "provenance.json"), "run_format", int, path / "provenance.json")
    if fmt not in READABLE_FORMATS:
        raise AATriggerError(f"run folder {path} has format {fmt}; this aa_trigger reads formats "
                             f"{', '.join(map(str, READABLE_FORMATS))}")
    config = jsonio.read_json(path / "config.json")
    train_config(config, path / "config.json")
    mcfg = _model_config(path / "model.json")
    scaler = scaler_from_dict(jsonio.read_json(path / "preprocessing.json"), path / "preprocessing.json")
    metrics = None
    if (path / "metrics.json").is_file():
        m = jsonio.read_json(path / "metrics.json")
        jsonio.field(m, "aa", dict, path / "metrics.json")
        metrics = nan_for_null(m)
    return Run(path, config, mcfg, scaler, load_parts(path / "aa", mcfg), load_parts(path / "pretrained", mcfg),
               metrics)
