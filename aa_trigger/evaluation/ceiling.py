"""The supervised ceiling of a data set: how much of each signal any score of these inputs can select at a
working point, measured with a classifier trained on that signal against the background.

An anomaly detector never sees the unseen signals, so it cannot beat a classifier trained on them by much;
when even the classifier selects (almost) nothing at a trigger rate, the background makes that signal
unreachable there with these inputs, whatever the AA variant. Each signal's test events are split in two
halves per seed: the classifier learns on one, is measured on the other against the whole background test
split (never used in training), with the same working points and binomial uncertainties as the scans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ClassifierSettings:
    hidden: tuple[int, ...] = (64, 32)
    epochs: int = 10
    background: int = 500_000
    batch_size: int = 2048
    learning_rate: float = 1e-3


def train_classifier(x_bg: np.ndarray, x_sig: np.ndarray, seed: int, s: ClassifierSettings) -> Any:
    """A float MLP ``x -> logit(signal)``; the classes are weighted to equal total weight."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    x = np.concatenate([x_bg, x_sig]).astype(np.float32)
    y = np.concatenate([np.zeros(len(x_bg)), np.ones(len(x_sig))]).astype(np.float32)
    w = np.where(y > 0, 0.5 * len(x) / len(x_sig), 0.5 * len(x) / len(x_bg)).astype(np.float32)
    layers = [tf.keras.layers.Input((x.shape[1],))]
    layers += [tf.keras.layers.Dense(h, activation="relu") for h in s.hidden] + [tf.keras.layers.Dense(1)]
    model = tf.keras.Sequential(layers)
    model.compile(optimizer=tf.keras.optimizers.Adam(s.learning_rate),
                  loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))
    order = np.random.default_rng([seed, 11]).permutation(len(x))
    model.fit(x[order], y[order], sample_weight=w[order], batch_size=s.batch_size, epochs=s.epochs, verbose=0)
    return model


def _logits(model: Any, x: np.ndarray) -> np.ndarray:
    return model.predict(x.astype(np.float32), batch_size=65536, verbose=0)[:, 0].astype(np.float64)


def signal_ceiling(x_train: np.ndarray, x_test: np.ndarray, signals: dict[str, np.ndarray], points: list[Any],
                   seed: int, s: ClassifierSettings, progress: Progress = lambda m: None
                   ) -> dict[str, dict[str, float]]:
    """One seed: per signal, a classifier on half its events and ``s.background`` training background
    events; AUC and efficiencies (with ``_err``) on the other half against ``x_test``."""
    from aa_trigger.evaluation.metrics import signal_metrics

    rng = np.random.default_rng([seed, 7])
    bg = x_train[rng.permutation(len(x_train))[:s.background]]
    out = {}
    for name, x in signals.items():
        order = rng.permutation(len(x))
        half = len(x) // 2
        model = train_classifier(bg, x[order[:half]], seed, s)
        out[name] = signal_metrics(_logits(model, x_test), _logits(model, x[order[half:]]), points, count=True)
        progress(f"[ceiling] seed {seed} {name}: AUC {out[name]['auc']:.3f}")
    return out


def summarise(per_seed: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, list[float]]]:
    """Per signal and metric: [mean, std over seeds (ddof 1; NaN for one seed)]."""
    out: dict[str, dict[str, list[float]]] = {}
    for sig in per_seed[0]:
        out[sig] = {}
        for key in per_seed[0][sig]:
            v = np.array([r[sig][key] for r in per_seed], float)
            out[sig][key] = [float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan")]
    return out


def markdown(summary: dict[str, dict[str, list[float]]], keys: list[str], seen: list[str]) -> list[str]:
    """One row per signal: AUC and each efficiency in % (mean +- std over seeds, with the binomial 68%
    half-width of one seed)."""
    def pm(v: list[float], f: float, d: int) -> str:
        return f"{f * v[0]:.{d}f}" + ("" if np.isnan(v[1]) else f" +- {f * v[1]:.{d}f}")

    head = "| signal | AUC | " + " | ".join(f"{k} (%)" for k in keys) + " |"
    lines = [head, "|" + "---|" * (2 + len(keys))]
    for sig, m in summary.items():
        cells = [sig + (" (seen)" if sig in seen else ""), pm(m["auc"], 1.0, 4)]
        cells += [f"{pm(m[k], 100.0, 2)} (stat. {100 * m[k + '_err'][0]:.2f})" for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return lines
