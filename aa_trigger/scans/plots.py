"""Figures of a scan: the Pareto front of efficiency against firmware cost, and each dimension's scan
with seed bands per signal (the AA paper's lambda scan, for the deployed score)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from aa_trigger.evaluation.plots import pyplot, save_figure


def pareto_plot(folder: Path, table: list[dict[str, Any]], eff_key: str, cost_keys: list[str], front: set[int],
                dims: list[str]) -> list[Path]:
    """Efficiency (mean +- std over seeds) against each cost; Pareto points ringed."""
    plt = pyplot()
    out = []
    for cost in cost_keys:
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        for i, e in enumerate(table):
            y, dy, _ = e[eff_key]
            x = e[cost][0]
            if math.isnan(y) or math.isnan(x):
                continue
            ax.errorbar(x, y, yerr=0 if math.isnan(dy) else dy, fmt="o", color="C0" if i in front else "0.6",
                        ms=7 if i in front else 4)
            ax.annotate(", ".join(f"{d}={e[d]}" for d in dims), (x, y), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
        ax.set_xlabel({"lut_estimate": "LUTs (estimate from the adder bits)", "latency_ns": "latency (ns)"}.get(
            cost.split(".", 1)[1], cost.split(".", 1)[1]))
        ax.set_ylabel(eff_key.split(".", 1)[1] + " (mean over unseen signals)")
        ax.set_title("scan: mean +- std over seeds; blue: Pareto front", fontsize=9)
        out.append(save_figure(fig, folder / f"pareto_{cost.split('.', 1)[1]}.png"))
    return out


def dimension_plots(folder: Path, rows: list[dict[str, Any]], dims: list[str], score: str, metric: str,
                    signals: list[str]) -> list[Path]:
    """Per numeric dimension: each signal's ``metric`` against the dimension's value, mean and a band of
    +- one standard deviation over the trials with that value (seeds and the other dimensions)."""
    plt = pyplot()
    done = [r for r in rows if r["state"] == "COMPLETE"]
    out = []
    for dim in (d for d in dims if d != "seed"):
        try:
            xs = sorted({float(r[dim]) for r in done})
        except (TypeError, ValueError):
            continue  # not a numeric dimension
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        for sig in signals:
            key = f"{score}.{sig}.{metric}"
            stats = [np.array([r.get(key, math.nan) for r in done if float(r[dim]) == x], float) for x in xs]
            mean = np.array([np.nanmean(v) if np.isfinite(v).any() else math.nan for v in stats])
            std = np.array([np.nanstd(v) if np.isfinite(v).sum() > 1 else 0.0 for v in stats])
            line = ax.plot(xs, mean, "o-", label=sig)[0]
            ax.fill_between(xs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
        ax.set_xlabel(dim)
        how = "float full VAE" if score == "recon" else "emulated firmware" if any(
            f"{score}.lut_estimate" in r for r in done) else "float model"
        ax.set_ylabel(f"{metric} ({score}, {how})")
        ax.set_title(f"{dim} scan: mean +- std over seeds and the other dimensions", fontsize=9)
        ax.legend(fontsize=7)
        out.append(save_figure(fig, folder / f"scan_{dim}_{score}_{metric}.png"))
    return out
