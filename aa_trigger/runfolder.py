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
import json
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from aa_trigger.errors import AATriggerError
from aa_trigger.model import ModelConfig, VAEParts
from aa_trigger.preprocess import FloatScaler, HardwareScaler, scaler_from_dict

RUN_FORMAT = 1
PART_NAMES = ("encoder", "decoder", "surrogate")
REQUIRED = ("config.json", "model.json", "preprocessing.json", "provenance.json",
            *(f"{stage}/{p}.weights.h5" for stage in ("aa", "pretrained") for p in PART_NAMES))


def ensure_free(final: Path, force: bool) -> None:
    """Refuse an existing output folder unless ``force``."""
    if Path(final).exists() and not force:
        raise AATriggerError(f"{final} exists; choose another name or pass --force")


@contextlib.contextmanager
def atomic_folder(final: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder; rename it to ``final`` on success, delete it on failure."""
    final = Path(final)
    ensure_free(final, force)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=False, default=float) + "\n")


def save_parts(folder: Path, parts: VAEParts) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, model in zip(PART_NAMES, parts.models()):
        model.save_weights(str(folder / f"{name}.weights.h5"))


def load_parts(folder: Path, cfg: ModelConfig) -> VAEParts:
    parts = VAEParts.build(cfg)
    for name, model in zip(PART_NAMES, parts.models()):
        path = folder / f"{name}.weights.h5"
        try:
            model.load_weights(str(path))
        except (OSError, ValueError) as exc:
            raise AATriggerError(f"{path}: cannot load weights ({str(exc).splitlines()[0]})") from None
    return parts


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("aa_trigger", "numpy", "tensorflow-cpu", "tensorflow", "keras", "qkeras", "hls4ml", "h5py",
                "scikit-learn"):
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
    """A trained run loaded back from its folder."""

    path: Path
    config: dict[str, Any]
    model_config: ModelConfig
    scaler: HardwareScaler | FloatScaler
    aa: VAEParts
    pretrained: VAEParts


def load_run(path: Path) -> Run:
    """Load a run folder; one clear error when it is missing, incomplete or incompatible."""
    path = Path(path)
    if not path.is_dir():
        raise AATriggerError(f"run folder {path}: no such folder")
    missing = [f for f in REQUIRED if not (path / f).is_file()]
    if missing:
        raise AATriggerError(f"run folder {path} is incomplete: missing {', '.join(missing)}")
    try:
        prov = json.loads((path / "provenance.json").read_text())
        config = json.loads((path / "config.json").read_text())
        mcfg = ModelConfig(**json.loads((path / "model.json").read_text()))
        scaler = scaler_from_dict(json.loads((path / "preprocessing.json").read_text()))
    except (ValueError, TypeError) as exc:
        raise AATriggerError(f"run folder {path}: unreadable metadata ({exc})") from None
    if prov.get("run_format") != RUN_FORMAT:
        raise AATriggerError(f"run folder {path} has format {prov.get('run_format')!r}; "
                             f"this aa_trigger reads format {RUN_FORMAT}")
    mcfg.validate()
    return Run(path, config, mcfg, scaler, load_parts(path / "aa", mcfg), load_parts(path / "pretrained", mcfg))
