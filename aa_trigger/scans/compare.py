"""Configurations of several scans against a baseline scan, at the working point: for each configuration and
score, the mean unseen-signal efficiency, the least selected unseen signal, the mean unseen AUC, each unseen
signal's AUC change against the baseline (the same score without the change under study, e.g. without AA)
and the seed spread of the most selected signal. Everything is mean (+- std) over each configuration's seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aa_trigger.errors import AATriggerError


@dataclass
class Config:
    """One configuration of a scan: its label and, per score and signal, the metric values over seeds."""

    label: str
    seeds: int
    unseen: list[str]
    values: dict[str, dict[str, dict[str, np.ndarray]]] = field(default_factory=dict)  # score -> signal -> metric
    lut: dict[str, float] = field(default_factory=dict)  # score -> mean LUT estimate over seeds (deployed scores)


def load_configs(folder: Path) -> list[Config]:
    """The completed configurations of a scan folder (``trials.csv``, ``scan.json``)."""
    import pandas as pd

    from aa_trigger.jsonio import read_json
    from aa_trigger.scans.results import scores_of

    folder = Path(folder)
    meta = read_json(folder / "scan.json")
    dims = [d for d in meta.get("dimensions", {}) if d != "seed"]
    dims = [d.replace("-", "_") for d in dims]
    path = folder / "trials.csv"
    if not path.is_file():
        raise AATriggerError(f"{folder}: no trials.csv (not a scan folder, or no trial finished yet)")
    try:
        frame = pd.read_csv(path, dtype={d: str for d in dims})  # values as the scan spelled them
    except (OSError, ValueError) as exc:
        raise AATriggerError(f"{path}: not a readable CSV table ({str(exc).splitlines()[0]})") from None
    if "finetune" not in frame.columns:
        raise AATriggerError(f"{path}: its trials predate the record of the fine-tuning signals; rerun the scan "
                             "in a new folder")
    done = frame[frame["state"] == "COMPLETE"]
    if done.empty:
        raise AATriggerError(f"{path}: no completed trial")
    rows = done.to_dict("records")
    out = []
    for key, group in (done.groupby(dims, sort=False) if dims else [((), done)]):
        key = key if isinstance(key, tuple) else (key,)
        label = folder.name + (" " + " ".join(f"{d}={v}" for d, v in zip(dims, key)) if dims else "")
        seen = {s for v in group["finetune"].fillna("") for s in str(v).split(",") if s}
        cfg = Config(label, len(group), [])
        for score in scores_of(rows):
            signals = sorted({c.split(".")[1] for c in group.columns if c.startswith(f"{score}.") and c.count(".") == 2
                              and not group[c].isna().all()})
            cfg.values[score] = {s: {c.split(".")[2]: group[c].to_numpy(float) for c in group.columns
                                     if c.startswith(f"{score}.{s}.")} for s in signals}
            cfg.unseen = [s for s in signals if s not in seen]
            if f"{score}.lut_estimate" in group.columns:
                cfg.lut[score] = float(group[f"{score}.lut_estimate"].mean())
        out.append(cfg)
    return out


def first_rate(cfg: Config) -> str:
    """The first efficiency metric (trigger rates first, then FPRs) with a finite value."""
    from aa_trigger.scans.results import efficiency_order

    some = next(iter(cfg.values.values()))
    keys = efficiency_order(next(iter(some.values())).keys())
    return next((k for k in keys if any(np.isfinite(v[k]).all() for v in some.values())), keys[0] if keys else "auc")


def _ms(v: np.ndarray) -> tuple[float, float]:
    return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else math.nan


def compare_rows(configs: list[Config], baseline: Config | None, metric: str) -> list[dict[str, Any]]:
    """Per configuration and score: the figures of the comparison (see the module)."""
    rows = []
    for cfg in configs:
        for score, per in cfg.values.items():
            unseen = [s for s in cfg.unseen if s in per]
            if not unseen or metric not in per[unseen[0]]:
                continue
            eff = np.mean([per[s][metric] for s in unseen], axis=0)  # per seed: mean over unseen signals
            auc = np.mean([per[s]["auc"] for s in unseen], axis=0)
            effs = {s: _ms(per[s][metric]) for s in unseen}
            top = max(unseen, key=lambda s: effs[s][0])
            row = {"configuration": cfg.label, "score": score, "seeds": cfg.seeds, "eff": _ms(eff),
                   "lut": cfg.lut.get(score, math.nan),
                   "eff_signals": effs, "lowest": min(unseen, key=lambda s: effs[s][0]), "auc": _ms(auc),
                   "top": top, "top_spread": effs[top][1] / effs[top][0] if effs[top][0] > 0 else math.nan,
                   "auc_change": {}, "auc_drops": []}
            base = baseline.values.get(score) if baseline is not None else None
            if base:
                for s in unseen:
                    if s in base:
                        b, a = _ms(base[s]["auc"]), _ms(per[s]["auc"])
                        row["auc_change"][s] = a[0] - b[0]
                        if b[0] - a[0] > (b[1] if not math.isnan(b[1]) else 0.0):
                            row["auc_drops"].append(s)
            rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], metric: str, baseline: str) -> str:
    """The comparison table, then each unseen signal's efficiency."""
    def pm(v: tuple[float, float], f: float, d: int) -> str:
        return f"{f * v[0]:.{d}f}" + ("" if math.isnan(v[1]) else f" +- {f * v[1]:.{d}f}")

    percent = metric.startswith("tpr_")
    unit = " (%)" if percent else ""
    f = 100.0 if percent else 1.0
    lines = [f"Means over the unseen signals, mean +- std over seeds; AUC change against `{baseline}` (same score); "
             f"drops: unseen signals whose mean AUC fell by more than the baseline's seed std.", "",
             f"| configuration | score | seeds | mean unseen {metric}{unit} | least selected unseen{unit} | "
             f"mean unseen AUC | largest unseen AUC loss | AUC drops > std | spread of the most selected |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        low = r["eff_signals"][r["lowest"]]
        worst = min(r["auc_change"], key=r["auc_change"].get, default=None)
        loss = -r["auc_change"][worst] if worst else math.nan
        lines.append("| " + " | ".join([
            r["configuration"], r["score"], str(r["seeds"]), pm(r["eff"], f, 2),
            f"{r['lowest']} {f * low[0]:.2f}", pm(r["auc"], 1.0, 3),
            "n/a" if math.isnan(loss) else f"{worst} {loss:.3f}" if loss > 0 else "none",
            ", ".join(r["auc_drops"]) or "none",
            "n/a" if math.isnan(r["top_spread"]) else f"{r['top']} {r['top_spread']:.2f}"]) + " |")
    signals = list(dict.fromkeys(s for r in rows for s in r["eff_signals"]))
    lines += ["", f"Each unseen signal's {metric}{unit}, mean +- std over seeds:", "",
              "| configuration | score | " + " | ".join(signals) + " |", "|---|---|" + "---|" * len(signals)]
    for r in rows:
        lines.append(f"| {r['configuration']} | {r['score']} | " + " | ".join(
            pm(r["eff_signals"][s], f, 2) if s in r["eff_signals"] else "n/a" for s in signals) + " |")
    return "\n".join(lines) + "\n"


def cost_plot(path: Path, rows: list[dict[str, Any]], metric: str, score: str) -> Path:
    """Mean unseen efficiency and mean unseen AUC (mean +- std over seeds) against the LUT estimate, one point
    per configuration of ``score``."""
    from aa_trigger.evaluation.plots import pyplot, save_figure

    picked = [r for r in rows if r["score"] == score and not math.isnan(r["lut"])]
    if not picked:
        raise AATriggerError(f"--plot: no configuration of score {score!r} has a firmware cost")
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    f = 100.0 if metric.startswith("tpr_") else 1.0
    for i, r in enumerate(picked):
        for ax, (y, dy), scale in ((axes[0], r["eff"], f), (axes[1], r["auc"], 1.0)):
            ax.errorbar(r["lut"], scale * y, yerr=0 if math.isnan(dy) else scale * dy, fmt="o", color=f"C{i % 10}",
                        label=r["configuration"] if ax is axes[0] else None)
    axes[0].set_ylabel(f"mean unseen {metric}" + (" (%)" if f == 100.0 else ""))
    axes[1].set_ylabel("mean unseen AUC")
    for ax in axes:
        ax.set_xlabel("LUTs (estimate from the adder bits, calibrated against yosys)")
    axes[0].legend(fontsize=6)
    fig.suptitle(f"{score}: mean +- std over seeds", fontsize=9)
    return save_figure(fig, Path(path))
