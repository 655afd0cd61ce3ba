"""Figures of a run: score distributions and ROC curves before and after AA (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aa_trigger.evaluation import metrics
from aa_trigger.model.scores import SCORES


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg back end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """Lay out, write as PNG, close."""
    plt = pyplot()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def score_distributions(folder: Path, stages: dict[str, tuple[dict, dict]]) -> list[Path]:
    """One PNG per score: background vs each signal, one panel per stage (plain, AA)."""
    plt = pyplot()
    written = []
    for name in (n for n in SCORES if all(n in bg for bg, _ in stages.values())):
        fig, axes = plt.subplots(1, len(stages), figsize=(6 * len(stages), 4.5), squeeze=False)
        for ax, (stage, (bg, sig)) in zip(axes[0], stages.items()):
            values = [bg[name]] + [s[name] for s in sig.values()]
            lo, hi = np.percentile(np.concatenate(values), [0.05, 99.95])
            if name == "recon" and lo > 0:
                bins = np.logspace(np.log10(lo), np.log10(hi), 80)
                ax.set_xscale("log")
            else:
                bins = np.linspace(lo, hi, 80)
            ax.hist(bg[name], bins=bins, density=True, histtype="stepfilled", alpha=0.3, color="grey",
                    label="background")
            for s, v in sig.items():
                ax.hist(v[name], bins=bins, density=True, histtype="step", label=s)
            ax.set_yscale("log")
            ax.set_xlabel(f"{name} score")
            ax.set_title(f"{stage}: {SCORES[name]}", fontsize=8)
            ax.legend(fontsize=7)
        written.append(save_figure(fig, folder / f"scores_{name}.png"))
    return written


def roc_curves(folder: Path, stages: dict[str, tuple[dict, dict]], fpr_marks: list[float]) -> list[Path]:
    """One PNG per score: ROC (log FPR) per signal, dashed before AA, solid after."""
    plt = pyplot()
    written = []
    styles = dict(zip(stages, ["--", "-"]))
    for name in (n for n in SCORES if all(n in bg for bg, _ in stages.values())):
        fig, ax = plt.subplots(figsize=(6.5, 5))
        colours = {}
        for stage, (bg, sig) in stages.items():
            for s, v in sig.items():
                fpr, tpr = metrics.roc_curve(bg[name], v[name])
                line = ax.plot(fpr, tpr, styles.get(stage, "-"), color=colours.get(s),
                               label=f"{s} {stage} (AUC {metrics.auc(bg[name], v[name]):.3f})")[0]
                colours[s] = line.get_color()
        for f in fpr_marks:
            ax.axvline(f, color="k", lw=0.5, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel("background false-positive rate")
        ax.set_ylabel("signal efficiency")
        ax.set_title(SCORES[name], fontsize=9)
        ax.legend(fontsize=6, loc="upper left")
        written.append(save_figure(fig, folder / f"roc_{name}.png"))
    return written


def working_point_plot(folder: Path, before: dict[str, Any], after: dict[str, Any],
                       points: list[metrics.WorkingPoint]) -> Path:
    """``working_points.png``: one panel per score, each signal's efficiency at every working point with its
    binomial 68% interval, before AA dashed, after AA solid; signals seen in fine-tuning drawn hollow."""
    plt = pyplot()
    names = [n for n in SCORES if any(n in r["scores"] for r in after.values())]
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 4.2), sharey=True, squeeze=False)
    xs = np.arange(len(points))
    for ax, name in zip(axes[0], names):
        for i, (sig, r) in enumerate(after.items()):
            if name not in r["scores"]:
                continue
            colour = f"C{i}"
            for stage, res, style in (("plain", before, "--"), ("AA", after, "-")):
                v = res[sig]["scores"][name]
                eff = np.array([100 * v[p.key] for p in points], float)
                err = np.array([100 * v.get(p.key + "_err", np.nan) for p in points], float)
                low = np.minimum(np.nan_to_num(err), np.nan_to_num(eff))
                ax.errorbar(xs, eff, yerr=[low, np.nan_to_num(err)], fmt="o" + style, color=colour, capsize=2,
                            mfc="none" if r["used_in_finetuning"] else colour, lw=1,
                            label=f"{sig}{' (seen)' if r['used_in_finetuning'] else ''} {stage}")
        ax.set_xticks(xs)
        ax.set_xticklabels([p.label for p in points], fontsize=7)
        ax.set_yscale("symlog", linthresh=0.1)
        ax.set_ylim(bottom=0)
        ax.set_title(SCORES[name], fontsize=8)
    axes[0][0].set_ylabel("signal efficiency (%)")
    axes[0][-1].legend(fontsize=5, loc="upper left")
    return save_figure(fig, folder / "working_points.png")
