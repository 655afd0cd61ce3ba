"""Trigger figures of merit: AUC, signal efficiency at a background false-positive rate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def auc(background: np.ndarray, signal: np.ndarray) -> float:
    """Area under the ROC curve (signal scores high), ties counted half."""
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.zeros(len(background)), np.ones(len(signal))]
    return float(roc_auc_score(y, np.r_[background, signal]))


def threshold_at_fpr(background: np.ndarray, fpr: float) -> float:
    """Smallest score cut such that at most ``fpr`` of the background lies strictly above it.

    Returns NaN when the background sample is too small to resolve ``fpr`` (fewer than one
    event above the cut).
    """
    n = len(background)
    k = int(np.floor(fpr * n))
    if k < 1:
        return float("nan")
    return float(np.partition(background, n - k - 1)[n - k - 1])


def tpr_at_fpr(background: np.ndarray, signal: np.ndarray, fpr: float) -> float:
    """Signal efficiency at the threshold of :func:`threshold_at_fpr`."""
    thr = threshold_at_fpr(background, fpr)
    if np.isnan(thr):
        return float("nan")
    return float(np.mean(signal > thr))


def efficiency_interval(passed: int, total: int, cl: float = 0.6827) -> tuple[float, float]:
    """Clopper-Pearson central interval (``cl``, default one sigma) of a binomial efficiency."""
    from scipy.stats import beta

    if total <= 0:
        return float("nan"), float("nan")
    a = (1.0 - cl) / 2.0
    lo = 0.0 if passed == 0 else float(beta.ppf(a, passed, total - passed + 1))
    hi = 1.0 if passed == total else float(beta.ppf(1.0 - a, passed + 1, total - passed))
    return lo, hi


def tpr_uncertainty(background: np.ndarray, signal: np.ndarray, fpr: float) -> float:
    """Half the width of the 68% Clopper-Pearson interval of :func:`tpr_at_fpr` (signal statistics;
    the threshold is taken as exact)."""
    thr = threshold_at_fpr(background, fpr)
    if np.isnan(thr):
        return float("nan")
    lo, hi = efficiency_interval(int(np.sum(signal > thr)), len(signal))
    return (hi - lo) / 2.0


def signal_metrics(background: np.ndarray, signal: np.ndarray, points: list["WorkingPoint"],
                   count: bool = False) -> dict[str, float]:
    """AUC, the efficiency at each working point and its binomial uncertainty (``<key>_err``: half the 68%
    Clopper-Pearson interval); with ``count`` also the signal's events ``n``."""
    out = {"auc": auc(background, signal), **({"n": float(len(signal))} if count else {})}
    out.update({p.key: tpr_at_fpr(background, signal, p.fpr) for p in points})
    out.update({p.key + "_err": tpr_uncertainty(background, signal, p.fpr) for p in points})
    return out


def rate_to_fpr(rate_khz: float, bx_rate_khz: float) -> float:
    """A trigger rate budget as a fraction of bunch crossings."""
    return rate_khz / bx_rate_khz


def roc_curve(background: np.ndarray, signal: np.ndarray, points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) on a log-spaced FPR grid down to 1/len(background)."""
    fpr = np.logspace(np.log10(1.0 / len(background)), 0, points)
    bg = np.sort(background)
    n = len(bg)
    idx = np.clip(n - np.floor(fpr * n).astype(int) - 1, 0, n - 1)
    thr = bg[idx]
    sig = np.sort(signal)
    tpr = 1.0 - np.searchsorted(sig, thr, side="right") / len(sig)
    return fpr, tpr


@dataclass(frozen=True)
class WorkingPoint:
    """A trigger working point: a background false-positive rate, given directly or as a rate in kHz."""

    fpr: float
    rate_khz: float | None = None

    @property
    def key(self) -> str:
        """The metric's name in ``metrics.json`` and tables (``tpr_fpr_1e-05``, ``tpr_1kHz``, ``tpr_fpr_0p01``,
        ``tpr_0p5kHz``: no dot, so ``score.signal.metric`` column names split unambiguously)."""
        key = f"tpr_{self.rate_khz:g}kHz" if self.rate_khz is not None else f"tpr_fpr_{self.fpr:g}"
        return key.replace(".", "p")

    @property
    def label(self) -> str:
        return f"{self.rate_khz:g} kHz" if self.rate_khz is not None else f"FPR {self.fpr:g}"

    @property
    def min_background(self) -> int:
        """Background events needed for at least one event above the cut."""
        return int(np.ceil(1.0 / self.fpr - 1e-9))


def working_points(fprs: list[float], rates_khz: list[float], bx_rate_khz: float) -> list[WorkingPoint]:
    """The FPRs given, then the rates as fractions of the bunch-crossing rate."""
    return [WorkingPoint(f) for f in fprs] + [WorkingPoint(rate_to_fpr(r, bx_rate_khz), r) for r in rates_khz]
