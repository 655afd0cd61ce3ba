"""What a scan shows: the trials table (CSV and Parquet), mean +- std over seeds per configuration,
and the Pareto front of signal efficiency against firmware cost."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from aa_trigger.scans.trial import LUTS_PER_ADDER_BIT


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """One row per finished trial: its parameters, state, and per deployable score the mean over
    signals unseen in fine-tuning of every metric, and the firmware cost."""
    from optuna.trial import TrialState

    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
        row: dict[str, Any] = {"trial": t.number, "state": t.state.name, **t.params}
        result = t.user_attrs.get("result") or {}
        for score, means in (result.get("mean_unseen") or {}).items():
            row.update({f"{score}.{k}": (math.nan if v is None else v) for k, v in means.items()})
            row.update({f"{score}.{k}": v for k, v in result["cost"][score].items()})
            for sig, values in result["metrics"][score].items():
                row.update({f"{score}.{sig}.{k}": (math.nan if v is None else v) for k, v in values.items()})
        row["seconds"] = result.get("seconds", math.nan)
        row["error"] = t.user_attrs.get("error", "")
        rows.append(row)
    return rows


def seed_table(rows: list[dict[str, Any]], dims: list[str], metrics: list[str]) -> list[dict[str, Any]]:
    """Completed trials grouped by every dimension but the seed: n seeds, mean and std of each metric."""
    keys = [d for d in dims if d != "seed"]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        if r["state"] == "COMPLETE":
            groups.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    out = []
    for key, members in groups.items():
        entry: dict[str, Any] = dict(zip(keys, key))
        entry["seeds"] = len(members)
        for m in metrics:
            vals = np.array([r.get(m, math.nan) for r in members], float)
            vals = vals[~np.isnan(vals)]
            mean = float(vals.mean()) if len(vals) else math.nan
            entry[m] = (mean, float(vals.std(ddof=1)) if len(vals) > 1 else math.nan, len(vals))
        out.append(entry)
    return out


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: higher first value (efficiency), lower second (cost)."""
    front = []
    for i, (e, c) in enumerate(points):
        if math.isnan(e) or math.isnan(c):
            continue
        if not any((e2 >= e and c2 <= c) and (e2 > e or c2 < c) for e2, c2 in points
                   if not (math.isnan(e2) or math.isnan(c2))):
            front.append(i)
    return front


def _fmt(v: Any) -> str:
    if isinstance(v, tuple):
        mean, std, n = v
        if math.isnan(mean):
            return "n/a"
        return f"{mean:.4f}" + (f" +- {std:.4f}" if not math.isnan(std) else "") + ("" if n > 1 else " (1 seed)")
    return str(v)


def overview(rows: list[dict[str, Any]], dims: list[str], score: str
             ) -> tuple[list[str], list[dict[str, Any]], str, set[int]]:
    """Metric keys, the per-configuration table over seeds, the efficiency key, the Pareto front."""
    keys = [f"{score}.auc"] + sorted({k for r in rows for k in r if k.startswith(f"{score}.tpr_")})
    table = seed_table(rows, dims, keys + [f"{score}.adders", f"{score}.lut_estimate", f"{score}.stages",
                                           f"{score}.latency_ns"])
    eff_key = next((k for k in keys[1:] if any(not math.isnan(e[k][0]) for e in table)), keys[0])
    front = set(pareto([(e[eff_key][0], e[f"{score}.lut_estimate"][0]) for e in table]))
    return keys, table, eff_key, front


def summary_markdown(rows: list[dict[str, Any]], dims: list[str], score: str, command: str) -> str:
    """The scan's summary: per configuration mean +- std over seeds, the Pareto front, failed trials."""
    keys, table, eff_key, front = overview(rows, dims, score)
    cols = [d for d in dims if d != "seed"]
    lines = ["# Scan summary", "", f"`{command}`", "",
             f"Deployed score `{score}`; metrics are means over the signals not used in fine-tuning, emulated "
             "bit-exactly; mean +- std over seeds. Pareto front (*): highest "
             f"`{eff_key.split('.', 1)[1]}` for the fewest LUTs (estimate: {LUTS_PER_ADDER_BIT} LUT per adder "
             "output bit, calibrated against yosys; not a synthesis result).", "",
             "| " + " | ".join(cols + ["seeds"] + [k.split(".", 1)[1] for k in keys]
                              + ["adders", "LUT (est.)", "stages", "Pareto"]) + " |",
             "|" + "---|" * (len(cols) + len(keys) + 5)]
    for i, e in enumerate(table):
        cells = [str(e[c]) for c in cols] + [str(e["seeds"])] + [_fmt(e[k]) for k in keys]
        cells += [f"{e[f'{score}.{c}'][0]:.0f}" for c in ("adders", "lut_estimate", "stages")]
        cells.append("*" if i in front else "")
        lines.append("| " + " | ".join(cells) + " |")
    failed = [r for r in rows if r["state"] == "FAIL"]
    if failed:
        lines += ["", f"{len(failed)} failed trial(s): " + "; ".join(
            f"#{r['trial']} {({d: r.get(d) for d in dims})}: {r['error']}" for r in failed[:5])]
    return "\n".join(lines) + "\n"


def write_outputs(folder: Path, rows: list[dict[str, Any]], summary: str) -> None:
    """``trials.csv``, ``trials.parquet`` and ``summary.md``, each replaced atomically."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    for name, write in (("trials.csv", lambda p: frame.to_csv(p, index=False)),
                        ("trials.parquet", lambda p: frame.to_parquet(p, index=False)),
                        ("summary.md", lambda p: p.write_text(summary))):
        tmp = folder / f".{name}.tmp"
        write(tmp)
        tmp.replace(folder / name)
