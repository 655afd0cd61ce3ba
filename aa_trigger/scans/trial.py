"""One scan trial, in memory: train the configuration, deploy it as a graph, score the test events with
the exact numpy emulator, and measure the firmware's cost from the integer graph (no vendor tool)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aa_trigger.config import TrainConfig

_DATA_CACHE: dict[str, Any] = {}  # per worker process: the data set, read once

#: The LUT estimate of the shift-and-add Verilog: LUTs ~ LUT_PER_ADDER_BIT * (summed adder output bits) +
#: LUT_PER_ADDER * adders, least squares against yosys (synth_xilinx -family xcup, out of context, 240 MHz)
#: on 8 designs of a 4/6/8-bit scan of the built-in data (errors -1.6% to +3.1%); on the scan's 6 Pareto
#: designs left out of the fit -2.3% to +0.2%. `python -m aa_trigger.benchmark --calibrate-luts ...` redoes it.
LUT_PER_ADDER_BIT = 0.859
LUT_PER_ADDER = 2.70
LUT_ESTIMATE = f"{LUT_PER_ADDER_BIT} LUT per adder output bit + {LUT_PER_ADDER} per adder, fitted against yosys"


def lut_estimate(adders: float, adder_bits: float) -> float:
    """LUTs of a design from its adders and their summed output bits (an estimate, not synthesis)."""
    return round(LUT_PER_ADDER_BIT * adder_bits + LUT_PER_ADDER * adders)


@dataclass
class TrialResult:
    """Objectives and cost of one trial; ``metrics[score][signal]`` holds AUC and efficiencies."""

    metrics: dict[str, dict[str, dict[str, float]]]  # deployed scores (bit-exact), and "recon" (float full VAE)
    mean_unseen: dict[str, dict[str, float]]  # score -> metric -> mean over signals unseen in fine-tuning
    cost: dict[str, dict[str, float]]  # deployed score -> adders, adder_bits, stages, nonzero_weights
    seconds: float
    finetune_signals: list[str] = field(default_factory=list)
    graphs: dict[str, dict[str, Any]] = field(default_factory=dict)  # score -> graph_to_dict (kept in the folder)
    mean_seen: dict[str, dict[str, float]] = field(default_factory=dict)  # the same over the fine-tuning signals


def signal_means(per: dict[str, dict[str, float]], names: list[str]) -> dict[str, float]:
    """Mean of each metric over the signals ``names``; a ``_err`` (independent binomial errors) adds in
    quadrature, divided by their number. NaN for no signal."""
    keys = [k for k in next(iter(per.values())) if k != "n"] if per else []
    if not names:
        return {k: float("nan") for k in keys}
    return {k: float(np.sqrt(np.sum([per[s][k] ** 2 for s in names])) / len(names)) if k.endswith("_err")
            else float(np.mean([per[s][k] for s in names])) for k in keys}


def set_threads(threads: int) -> None:
    """Give TensorFlow in this worker process its own thread budget (before its first operation), and
    keep its chatter out of the scan's progress."""
    from aa_trigger.cli import quiet

    quiet()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already initialised in this process: the budget set first stays
        pass


def _dataset(data_cfg: TrainConfig) -> Any:
    """The scan's data set (its split fixed by the scan's base seed), read once per worker process."""
    from aa_trigger.data.dataset import load_dataset

    key = repr(data_cfg)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = load_dataset(data_cfg)
    return _DATA_CACHE[key]


def _cost(graph: Any, clock_mhz: float) -> dict[str, float]:
    from aa_trigger.firmware.rtl import verilog

    design = verilog.generate(graph, verilog.levels_per_stage(clock_mhz))
    return {"adders": design.adders, "adder_bits": design.adder_bits,
            "lut_estimate": lut_estimate(design.adders, design.adder_bits), "register_bits": design.register_bits,
            "stages": design.latency_cycles,
            "latency_ns": design.latency_cycles * 1000.0 / clock_mhz,
            "nonzero_weights": int(sum(np.count_nonzero(n.kernel) for n in graph.dense))}


def run_trial(cfg: TrainConfig, data_cfg: TrainConfig, threads: int = 1, clock_mhz: float = 240.0) -> TrialResult:
    """Train ``cfg`` (pretraining, AA, surrogates) on the data of ``data_cfg`` and evaluate its deployable
    scores as the firmware computes them."""
    from aa_trigger.evaluation import metrics as m
    from aa_trigger.firmware import emulator
    from aa_trigger.firmware.graph import build_graph, graph_to_dict
    from aa_trigger.jobs.train import seed_everything, train_stages
    from aa_trigger.model.scores import compute_scores
    from aa_trigger.model.training import recon_error
    from aa_trigger.model.vae import KIND_DEFAULTS, ModelConfig, available_scores

    t0 = time.time()
    set_threads(threads)
    data = _dataset(data_cfg)
    cfg = cfg.with_model_defaults(data.kind)
    seed_everything(cfg.seed)
    mcfg = ModelConfig(data.x_train.shape[1], list(cfg.widths), cfg.latent, cfg.quantize, cfg.surrogate_width,
                       KIND_DEFAULTS[data.kind][2], cfg.hgq_beta)
    _, parts, _ = train_stages(mcfg, cfg, data, {}, lambda msg: None)
    points = cfg.working_points()
    out, means, seen_means, cost, graphs = {}, {}, {}, {}, {}

    def measure(score: str, bg: np.ndarray, signals: dict[str, np.ndarray]) -> None:
        per = {sig: m.signal_metrics(bg, s, points, count=True) for sig, s in signals.items()}
        out[score] = per
        means[score] = signal_means(per, [k for k in per if k not in data.finetune_signals])
        seen_means[score] = signal_means(per, [k for k in per if k in data.finetune_signals])

    for score in available_scores(parts) if cfg.quantised else ():
        graph = build_graph(parts, data.scaler.input_type, score)
        measure(score, emulator.score(graph, data.int_test),
                {sig: emulator.score(graph, x) for sig, x in data.int_signals_test.items()})
        cost[score] = _cost(graph, clock_mhz)
        graphs[score] = graph_to_dict(graph)
    # the full VAE's reconstruction error (float, not deployable): what AA acts on, for comparison; for a
    # float model also its encoder-only scores
    if cfg.quantised:  # only the reconstruction error: the deployed scores are emulated above
        measure("recon", recon_error(parts, data.x_test),
                {k: recon_error(parts, x) for k, x in data.signals_test.items()})
        return TrialResult(out, means, cost, time.time() - t0, list(data.finetune_signals), graphs, seen_means)
    bg = compute_scores(parts, data.x_test)
    sig = {k: compute_scores(parts, x) for k, x in data.signals_test.items()}
    for score in ("recon", *available_scores(parts)):
        measure(score, bg[score], {k: v[score] for k, v in sig.items()})
    return TrialResult(out, means, cost, time.time() - t0, list(data.finetune_signals), graphs, seen_means)
