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


def signal_plot(folder: Path, rows: list[dict[str, Any]], dims: list[str], score: str, metric: str) -> Path | None:
    """Each configuration's ``metric`` per signal, mean +- std over seeds (the binomial 68% half-width as a
    thin inner bar for efficiencies); signals seen in fine-tuning drawn hollow."""
    from aa_trigger.scans.results import signal_table

    signals, seen, table = signal_table(rows, dims, score, metric)
    if not signals or not table:
        return None
    plt = pyplot()
    cols = [d for d in dims if d != "seed"]
    percent = 100.0 if metric.startswith("tpr_") else 1.0
    fig, ax = plt.subplots(figsize=(max(6.5, 0.9 * len(table) + 2), 4.5))
    width = 0.8 / len(signals)
    for j, sig in enumerate(signals):
        xs = np.arange(len(table)) - 0.4 + width * (j + 0.5)
        mean = np.array([e[f"{score}.{sig}.{metric}"][0] for e in table]) * percent
        std = np.nan_to_num(np.array([e[f"{score}.{sig}.{metric}"][1] for e in table])) * percent
        kw = dict(mfc="none") if sig in seen else {}
        low = np.minimum(std, np.nan_to_num(mean)) if percent != 1.0 else std  # an efficiency is >= 0
        line = ax.errorbar(xs, mean, yerr=[low, std], fmt="o", capsize=2, label=sig + (" (seen)" if sig in seen else ""),
                           **kw)
        if percent != 1.0:
            stat = np.nan_to_num(np.array([e[f"{score}.{sig}.{metric}_err"][0] for e in table])) * percent
            ax.errorbar(xs, mean, yerr=[np.minimum(stat, np.nan_to_num(mean)), stat], fmt="none", elinewidth=3, alpha=0.5, color=line[0].get_color())
    ax.set_xticks(np.arange(len(table)))
    ax.set_xticklabels(["\n".join(f"{c}={e[c]}" for c in cols) for e in table], fontsize=7)
    ax.set_ylabel(f"{metric}" + (" (%)" if percent != 1.0 else "") + f" ({score})")
    if percent != 1.0:
        ax.set_yscale("symlog", linthresh=0.1)
        ax.set_ylim(bottom=0)
    ax.set_title("per signal: mean +- std over seeds" + (" (thick: binomial 68%)" if percent != 1.0 else ""),
                 fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, folder / f"signals_{score}_{metric}.png")
