"""Before/after-AA evaluation: AUC and efficiency at fixed FPR and rate, per score and signal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aa_trigger.evaluation import metrics
from aa_trigger.model.scores import SCORES

def evaluate(scores_bg: dict[str, np.ndarray], scores_sig: dict[str, dict[str, np.ndarray]],
             finetune_signals: set[str], points: list[metrics.WorkingPoint]) -> dict[str, Any]:
    """Metrics of one model: ``{signal: {used_in_finetuning, scores: {score: {auc, <working point key>...}}}}``;
    NaN where the background sample cannot resolve a working point."""
    out: dict[str, Any] = {}
    for sig, per_score in scores_sig.items():
        row = {}
        for name in (n for n in SCORES if n in scores_bg):
            bg, s = scores_bg[name], per_score[name]
            row[name] = metrics.signal_metrics(bg, s, points)
        out[sig] = {"used_in_finetuning": sig in finetune_signals, "scores": row}
    return out


def _cell(b: float, a: float) -> str:
    f = lambda v: "n/a" if np.isnan(v) else f"{v:.4f}"  # noqa: E731
    return f"{f(b)} -> {f(a)}"


def summary_markdown(before: dict[str, Any], after: dict[str, Any], n_bg_test: int,
                     points: list[metrics.WorkingPoint], bx_mhz: str) -> str:
    """A Markdown table: per signal and score, AUC and the efficiency at every working point, plain -> AA."""
    unresolved = [p for p in points if p.min_background > n_bg_test]
    lines = [f"AUC and signal efficiency (TPR), plain VAE -> after AA; {n_bg_test} background test events; "
             f"rates are fractions of {bx_mhz} MHz."]
    if unresolved:
        lines.append("n/a: " + "; ".join(f"{p.label} needs at least {p.min_background} background events"
                                         for p in unresolved) + ".")
    lines += ["", "| signal | score | AUC | " + " | ".join(f"TPR@{p.label}" for p in points) + " |",
              "|---|---|---|" + "---|" * len(points)]
    for sig in before:
        label = sig + (" (fine-tune)" if before[sig]["used_in_finetuning"] else "")
        for name in (n for n in SCORES if n in before[sig]["scores"]):
            b, a = before[sig]["scores"][name], after[sig]["scores"][name]
            cells = [_cell(b["auc"], a["auc"])] + [_cell(b[p.key], a[p.key]) for p in points]
            lines.append(f"| {label} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def working_point_markdown(after: dict[str, Any], points: list[metrics.WorkingPoint], scores: tuple[str, ...]
                           ) -> str:
    """After AA: each signal's efficiency at every working point with its binomial uncertainty (68%
    Clopper-Pearson, signal statistics), signals used in fine-tuning and unseen ones apart."""
    def cell(v: dict[str, float], key: str) -> str:
        e, u = v.get(key, float("nan")), v.get(key + "_err", float("nan"))
        return "n/a" if np.isnan(e) else f"{100 * e:.3f} +- {100 * u:.3f}" if not np.isnan(u) else f"{100 * e:.3f}"

    lines = ["Efficiency (%) after AA at each working point, +- the binomial 68% interval's half width (signal "
             "statistics):", "", "| signals | signal | score | " + " | ".join(p.label for p in points) + " |",
             "|---|---|---|" + "---|" * len(points)]
    for group, used in (("seen in fine-tuning", True), ("unseen", False)):
        for sig, r in after.items():
            if r["used_in_finetuning"] != used:
                continue
            for name in (n for n in scores if n in r["scores"]):
                lines.append(f"| {group} | {sig} | {name} | " + " | ".join(cell(r["scores"][name], p.key)
                                                                         for p in points) + " |")
    return "\n".join(lines) + "\n"


def mean_unseen_auc(result: dict[str, Any], score: str) -> float:
    """Mean AUC over the signals not used in fine-tuning."""
    vals = [r["scores"][score]["auc"] for r in result.values() if not r["used_in_finetuning"]]
    return float(np.mean(vals)) if vals else float("nan")


METRICS_FORMAT = 2


@dataclass
class RunMetrics:
    """``metrics.json`` of a run folder: every score's metrics per signal, before and after AA."""

    n_background_test: int
    n_signal_test: dict[str, int]
    bx_rate_khz: float
    plain: dict[str, Any]  # the result of :func:`evaluate` for the plain VAE
    aa: dict[str, Any]  # ... and after AA fine-tuning
    format: int = METRICS_FORMAT


def nan_for_null(obj: Any) -> Any:
    """Metrics read back from strict JSON: ``null`` (n/a) becomes NaN again."""
    if isinstance(obj, dict):
        return {k: nan_for_null(v) for k, v in obj.items()}
    return float("nan") if obj is None else obj
