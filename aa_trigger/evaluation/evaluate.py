"""Before/after-AA evaluation: AUC and efficiency at fixed FPR and rate, per score and signal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aa_trigger.evaluation import metrics
from aa_trigger.model.scores import SCORES

FPR_REFERENCE = 1e-5


def evaluate(scores_bg: dict[str, np.ndarray], scores_sig: dict[str, dict[str, np.ndarray]],
             finetune_signal: str, rates_khz: list[float], bx_rate_khz: float) -> dict[str, Any]:
    """Metrics of one model: ``{signal: {score: {auc, tpr_fpr_1e-05, tpr_<r>kHz...}}}``."""
    out: dict[str, Any] = {}
    for sig, per_score in scores_sig.items():
        row = {}
        for name in SCORES:
            bg, s = scores_bg[name], per_score[name]
            m = {"auc": metrics.auc(bg, s), f"tpr_fpr_{FPR_REFERENCE:g}": metrics.tpr_at_fpr(bg, s, FPR_REFERENCE)}
            for r in rates_khz:
                m[f"tpr_{r:g}kHz"] = metrics.tpr_at_fpr(bg, s, metrics.rate_to_fpr(r, bx_rate_khz))
            row[name] = m
        out[sig] = {"used_in_finetuning": sig == finetune_signal, "scores": row}
    return out


def summary_markdown(before: dict[str, Any], after: dict[str, Any], n_bg_test: int, rate_khz: float,
                     bx_mhz: str) -> str:
    """A Markdown table: per signal and score, AUC and TPR before -> after AA."""
    key = f"tpr_{rate_khz:g}kHz"
    lines = [f"AUC and efficiency before -> after AA; {n_bg_test} background test events; "
             f"TPR at FPR {FPR_REFERENCE:g} and at {rate_khz:g} kHz of {bx_mhz} MHz "
             "(n/a: too few background events to resolve that rate).", "",
             "| signal | score | AUC plain | AUC AA | TPR@1e-5 plain | TPR@1e-5 AA | "
             f"TPR@{rate_khz:g}kHz plain | TPR@{rate_khz:g}kHz AA |",
             "|---|---|---|---|---|---|---|---|"]
    fkey = f"tpr_fpr_{FPR_REFERENCE:g}"

    def f(v: float) -> str:
        return "n/a" if np.isnan(v) else f"{v:.4f}"

    for sig in before:
        label = sig + (" (fine-tune)" if before[sig]["used_in_finetuning"] else "")
        for name in SCORES:
            b, a = before[sig]["scores"][name], after[sig]["scores"][name]
            lines.append(f"| {label} | {name} | {f(b['auc'])} | {f(a['auc'])} | {f(b[fkey])} | {f(a[fkey])} | "
                         f"{f(b[key])} | {f(a[key])} |")
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
