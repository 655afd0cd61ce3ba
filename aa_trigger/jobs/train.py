"""The training job: data -> pretraining -> AA fine-tuning -> surrogates -> evaluation -> run folder."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from aa_trigger import runfolder
from aa_trigger.outputs import RUN_MARKER, atomic_folder, check_writable, ensure_free
from aa_trigger.config import TrainConfig
from aa_trigger.data.dataset import Dataset, load_dataset
from aa_trigger.evaluation import evaluate, plots
from aa_trigger.model.scores import SCORES, compute_scores
from aa_trigger.model import hgq
from aa_trigger.model.training import fit_weighting, train_surrogate, train_vae
from aa_trigger.model.vae import KIND_DEFAULTS, ModelConfig, VAEParts

Progress = Callable[[str], None]
SURROGATE_BACKGROUND = 200_000


@dataclass
class TrainResult:
    path: Path
    before: dict[str, Any]
    after: dict[str, Any]
    summary: str
    seconds: float


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
        cfg = cfg.with_model_defaults("trigger")
        early = Path(cfg.output) / (cfg.run_name or cfg.default_run_name())
        ensure_free(early, cfg.force, RUN_MARKER)
        check_writable(early)
    seed_everything(cfg.seed)
    data = load_dataset(cfg, progress)
    cfg = replace(cfg.with_model_defaults(data.kind), preprocessing=data.scaler.kind,
                  **({"features": data.features, "exclude_features": [], "features_file": ""} if data.features else {}))
    final = Path(cfg.output) / (cfg.run_name or cfg.default_run_name())
    ensure_free(final, cfg.force, RUN_MARKER)
    check_writable(final)
    timings = {"data_s": time.time() - t0}
    for line in data.report:
        progress(line)
    progress(f"data ({data.kind}): {len(data.x_train)} background train, {len(data.x_test)} background test, "
             f"{len(data.x_finetune)} {'+'.join(data.finetune_signals)} for AA, test signals "
             + ", ".join(f"{k} {len(v)}" for k, v in data.signals_test.items()))
    mcfg = ModelConfig(n_features=data.x_train.shape[1], widths=list(cfg.widths), latent=cfg.latent,
                       quantize=cfg.quantize, surrogate_width=cfg.surrogate_width, recon=KIND_DEFAULTS[data.kind][2],
                       hgq_beta=cfg.hgq_beta)
    pretrained, parts, history = train_stages(mcfg, cfg, data, timings, progress)

    progress(f"evaluating on {len(data.x_test)} background and {sum(map(len, data.signals_test.values()))} "
             "signal events")
    t = time.time()
    stages = {"plain": _score_all(pretrained, data), "AA": _score_all(parts, data)}
    args = (set(data.finetune_signals), cfg.working_points())
    before = evaluate.evaluate(*stages["plain"], *args)
    after = evaluate.evaluate(*stages["AA"], *args)
    timings["evaluate_s"] = time.time() - t
    summary = evaluate.summary_markdown(before, after, len(data.x_test), cfg.working_points(), cfg.bx_mhz)
    summary += "\n" + evaluate.working_point_markdown(after, cfg.working_points(), tuple(SCORES))
    with atomic_folder(final, cfg.force, RUN_MARKER) as tmp:
        runfolder.save_run(tmp, cfg, mcfg, data, parts, pretrained, history,
                           evaluate.RunMetrics(len(data.x_test), {k: len(v) for k, v in data.signals_test.items()},
                                               cfg.bx_rate_khz, before, after), summary)
        fpr_marks = [p.fpr for p in cfg.working_points()]
        plots.score_distributions(tmp, stages)
        plots.roc_curves(tmp, stages, fpr_marks)
        plots.working_point_plot(tmp, before, after, cfg.working_points())
        timings["total_s"] = time.time() - t0
        runfolder.save_provenance(tmp, cfg, data, timings)
    return TrainResult(final, before, after, summary, time.time() - t0)


def train_stages(mcfg: ModelConfig, cfg: TrainConfig, data: Dataset, timings: dict[str, float],
           progress: Progress) -> tuple[VAEParts, VAEParts, list[dict[str, Any]]]:
    """Pretraining, the plain model's surrogate, AA fine-tuning, the AA model's surrogate. HGQ models trace
    their output ranges on the training data (background and the AA anomalies) after each stage."""
    parts = VAEParts.build(mcfg)
    x_cal = np.concatenate([data.x_train, data.x_finetune]) if mcfg.hgq else None

    def weighting_or_trace(p: VAEParts) -> dict[str, Any]:
        if not mcfg.hgq:
            return fit_weighting(p, x_sur)
        return {"stage": "hgq_trace", "exact_bops": hgq.trace(p, x_cal)}

    t = time.time()
    history = train_vae(parts, data.x_train, cfg, progress=progress)
    timings["pretrain_s"] = time.time() - t
    x_sur = np.concatenate([data.x_train[:SURROGATE_BACKGROUND], data.x_finetune])
    if mcfg.hgq:
        hgq.trace(parts, x_cal)
    pretrained = parts.copy()
    history += train_surrogate(pretrained, x_sur, cfg, progress=progress)
    history.append(weighting_or_trace(pretrained))
    t = time.time()
    if cfg.aa_target == "surrogate":  # trained jointly in the AA loop, starting from the pretrained head
        parts.surrogate.set_weights(pretrained.surrogate.get_weights())
    history += train_vae(parts, data.x_train, cfg, x_anom=data.x_finetune, progress=progress)
    timings["finetune_s"] = time.time() - t
    if cfg.aa_target != "surrogate":
        history += train_surrogate(parts, x_sur, cfg, progress=progress)
    history.append(weighting_or_trace(parts))
    return pretrained, parts, history
