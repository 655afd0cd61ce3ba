"""The training job: data -> pretraining -> AA fine-tuning -> surrogates -> evaluation -> run folder."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from aa_trigger import evaluate, plots, runfolder
from aa_trigger.config import TrainConfig
from aa_trigger.data import KIND_DEFAULTS, Dataset, load_dataset
from aa_trigger.model import ModelConfig, VAEParts
from aa_trigger.scores import compute_scores
from aa_trigger.training import TrainSettings, train_surrogate, train_vae

Progress = Callable[[str], None]
SURROGATE_BACKGROUND = 200_000


@dataclass
class TrainResult:
    path: Path
    before: dict[str, Any]
    after: dict[str, Any]
    summary: str
    seconds: float


def resolve_model_defaults(cfg: TrainConfig, kind: str) -> TrainConfig:
    """Fill the per-data-kind architecture defaults (widths, latent) into the configuration."""
    widths, latent, _ = KIND_DEFAULTS[kind]
    return dataclasses.replace(cfg, widths=list(cfg.widths) or widths, latent=cfg.latent or latent)


def seed_everything(seed: int) -> None:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _score_all(parts: VAEParts, data: Dataset) -> tuple[dict, dict]:
    return compute_scores(parts, data.x_test), {s: compute_scores(parts, x) for s, x in data.signals_test.items()}


def run_training(cfg: TrainConfig, progress: Progress = lambda m: None) -> TrainResult:
    """Train, evaluate and write ``<output>/<run-name>/`` atomically."""
    cfg.validate()
    t0 = time.time()
    if not cfg.data:  # trigger data: the defaults are known, fail before the expensive part
        cfg = resolve_model_defaults(cfg, "trigger")
        runfolder.ensure_free(Path(cfg.output) / (cfg.run_name or cfg.default_run_name()), cfg.force)
    seed_everything(cfg.seed)
    data = load_dataset(cfg, progress)
    cfg = resolve_model_defaults(cfg, data.kind)
    final = Path(cfg.output) / (cfg.run_name or cfg.default_run_name())
    runfolder.ensure_free(final, cfg.force)
    timings = {"data_s": time.time() - t0}
    for line in data.report:
        progress(line)
    progress(f"data ({data.kind}): {len(data.x_train)} background train, {len(data.x_test)} background test, "
             f"{len(data.x_finetune)} {data.finetune_name} for AA, test signals "
             + ", ".join(f"{k} {len(v)}" for k, v in data.signals_test.items()))

    recon = KIND_DEFAULTS[data.kind][2]
    mcfg = ModelConfig(n_features=data.x_train.shape[1], widths=list(cfg.widths), latent=cfg.latent,
                       quantize=cfg.quantize, surrogate_width=cfg.surrogate_width, recon=recon)
    parts = VAEParts.build(mcfg)
    common = dict(batch_size=cfg.batch_size, learning_rate=cfg.learning_rate, kl_weight=cfg.kl_weight,
                  clip=cfg.clip, aa_target=cfg.aa_target, seed=cfg.seed)
    t = time.time()
    history = train_vae(parts, data.x_train, TrainSettings(epochs=cfg.epochs_pretrain, **common),
                        progress=progress, stage="pretrain")
    timings["pretrain_s"] = time.time() - t
    x_sur = np.concatenate([data.x_train[:SURROGATE_BACKGROUND], data.x_finetune])
    pretrained = parts.copy()
    history += train_surrogate(pretrained, x_sur, cfg.epochs_surrogate, cfg.batch_size, cfg.seed, progress=progress)
    t = time.time()
    history += train_vae(parts, data.x_train,
                         TrainSettings(epochs=cfg.epochs_finetune, lambda_max=cfg.lambda_max,
                                       anomaly_fraction=cfg.anomaly_fraction, **common),
                         x_anom=data.x_finetune, progress=progress, stage="aa")
    timings["finetune_s"] = time.time() - t
    history += train_surrogate(parts, x_sur, cfg.epochs_surrogate, cfg.batch_size, cfg.seed, progress=progress)

    progress(f"evaluating on {len(data.x_test)} background and {sum(map(len, data.signals_test.values()))} "
             "signal events")
    t = time.time()
    stages = {"plain": _score_all(pretrained, data), "AA": _score_all(parts, data)}
    args = (data.finetune_name, cfg.rate_khz, cfg.bx_rate_khz)
    before = evaluate.evaluate(*stages["plain"], *args)
    after = evaluate.evaluate(*stages["AA"], *args)
    timings["evaluate_s"] = time.time() - t
    summary = evaluate.summary_markdown(before, after, len(data.x_test), cfg.rate_khz[0], cfg.bx_mhz)

    with runfolder.atomic_folder(final, force=cfg.force) as tmp:
        runfolder.save_parts(tmp / "aa", parts)
        runfolder.save_parts(tmp / "pretrained", pretrained)
        runfolder.write_json(tmp / "config.json", cfg.to_dict())
        runfolder.write_json(tmp / "model.json", mcfg.to_dict())
        runfolder.write_json(tmp / "preprocessing.json", {**data.scaler.to_dict(), "data_kind": data.kind})
        runfolder.write_json(tmp / "history.json", history)
        runfolder.write_json(tmp / "metrics.json", {
            "n_background_test": len(data.x_test),
            "n_signal_test": {k: len(v) for k, v in data.signals_test.items()},
            "bx_rate_khz": cfg.bx_rate_khz, "plain": before, "aa": after})
        (tmp / "summary.md").write_text(summary)
        fpr_marks = [evaluate.FPR_REFERENCE] + [r / cfg.bx_rate_khz for r in cfg.rate_khz]
        plots.score_distributions(tmp, stages)
        plots.roc_curves(tmp, stages, fpr_marks)
        timings["total_s"] = time.time() - t0
        runfolder.write_json(tmp / "provenance.json", {
            "run_format": runfolder.RUN_FORMAT, "seed": cfg.seed, "git_commit": runfolder.git_commit(),
            "versions": runfolder.versions(), "data_sha256": data.fingerprint,
            "data_source": cfg.data or cfg.data_dir or "built-in generator", "data_report": data.report,
            "timings": timings,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return TrainResult(final, before, after, summary, time.time() - t0)
