"""Trigger figures of merit: AUC, signal efficiency at a background false-positive rate."""

from __future__ import annotations

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
