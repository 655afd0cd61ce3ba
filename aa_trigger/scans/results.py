"""What a scan shows: the trials table (CSV and Parquet), mean +- std over seeds per configuration,
and the Pareto front of signal efficiency against firmware cost."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from aa_trigger.scans.trial import LUT_ESTIMATE, lut_estimate


SEEN_PREFIX = "seen_"  # ``score.seen_auc``: the mean over the fine-tuning signals


def efficiency_order(keys: Any) -> list[str]:
    """Efficiency metric names (``tpr_...``), trigger rates first, then FPRs, each in the given order:
    the first one the background resolves is the scan's objective."""
    return sorted((k for k in keys if k.split(".")[-1].startswith("tpr_") and not k.endswith("_err")),
                  key=lambda k: ".tpr_fpr_" in f".{k}")


def scores_of(rows: list[dict[str, Any]]) -> list[str]:
    """The scores the trials measured (deployed ones first, then the float full VAE's ``recon``)."""
    return list(dict.fromkeys(k.split(".")[0] for r in rows for k in r if k.endswith(".auc") and k.count(".") == 1))


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """One row per finished trial: its parameters, state, and per deployable score the mean over
    signals unseen in fine-tuning of every metric, and the firmware cost."""
    from optuna.trial import TrialState

    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
        row: dict[str, Any] = {"trial": t.number, "state": t.state.name, **t.params}
        result = t.user_attrs.get("result") or {}
        row["finetune"] = ",".join(result.get("finetune_signals") or [])
        for score, means in (result.get("mean_seen") or {}).items():  # SEEN_PREFIX: no metric starts with it
            row.update({f"{score}.{SEEN_PREFIX}{k}": (math.nan if v is None else v) for k, v in means.items()})
        for score, means in (result.get("mean_unseen") or {}).items():
            row.update({f"{score}.{k}": (math.nan if v is None else v) for k, v in means.items()})
            cost = (result.get("cost") or {}).get(score, {})
            row.update({f"{score}.{k}": v for k, v in cost.items()})
            if "adders" in cost:  # the current estimate, also for trials run with an older calibration
                row[f"{score}.lut_estimate"] = lut_estimate(cost["adders"], cost["adder_bits"])
            for sig, values in result["metrics"][score].items():
                row.update({f"{score}.{sig}.{k}": (math.nan if v is None else v) for k, v in values.items()})
        row["seconds"] = result.get("seconds", math.nan)
        row["error"] = t.user_attrs.get("error", "") or ("interrupted (the point runs again)"
                                                          if t.state.name == "FAIL" else "")
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


def _count(v: float) -> str:
    return "n/a" if math.isnan(v) or math.isinf(v) else f"{v:.0f}"


def overview(rows: list[dict[str, Any]], dims: list[str], score: str
             ) -> tuple[list[str], list[dict[str, Any]], str, set[int]]:
    """Metric keys, the per-configuration table over seeds, the efficiency key, the Pareto front."""
    tprs = dict.fromkeys(k for r in rows for k in r if k.startswith(f"{score}.tpr_"))  # working-point order
    keys = [f"{score}.auc"] + efficiency_order(tprs)
    table = seed_table(rows, dims, keys + [f"{score}.adders", f"{score}.lut_estimate", f"{score}.stages",
                                           f"{score}.latency_ns"])
    eff_key = next((k for k in keys[1:] if any(not math.isnan(e[k][0]) for e in table)), keys[0])  # as the engine
    front = set(pareto([(e[eff_key][0], e[f"{score}.lut_estimate"][0]) for e in table]))
    return keys, table, eff_key, front


def add_synthesis(rows: list[dict[str, Any]], synthesis: dict[int, dict[str, Any]], score: str) -> None:
    """Put the yosys results of the synthesised trials into their rows (``{score}.yosys_lut`` ...)."""
    for r in rows:
        for k, v in synthesis.get(r["trial"], {}).items():
            if k in ("lut", "ff", "dsp", "carry", "logic_depth"):
                r[f"{score}.yosys_{k}"] = math.nan if v is None else v


def _synthesis_lines(rows: list[dict[str, Any]], dims: list[str], score: str,
                     synthesis: dict[int, dict[str, Any]]) -> list[str]:
    if not synthesis:
        return []
    by_trial = {r["trial"]: r for r in rows}
    how = next(iter(synthesis.values()))["how"]
    lines = ["", f"Pareto configurations synthesised ({how}); one trial each, the seed with the median LUT "
             "estimate:", "", "| " + " | ".join(dims + ["trial", "LUT (est.)", "yosys LUT", "est. error", "FF",
                                                      "DSP", "CARRY", "logic depth"]) + " |",
             "|" + "---|" * (len(dims) + 8)]
    for number, y in sorted(synthesis.items()):
        r = by_trial[number]
        est = r[f"{score}.lut_estimate"]
        lines.append("| " + " | ".join([str(r.get(d)) for d in dims] + [
            f"#{number}", f"{est:.0f}", str(y["lut"]), f"{100 * (est / y['lut'] - 1):+.1f}%" if y["lut"] else "n/a",
            str(y["ff"]), str(y["dsp"]), str(y["carry"]), str(y["logic_depth"])]) + " |")
    return lines


def _scores_lines(rows: list[dict[str, Any]], dims: list[str], metric: str, prefix: str = "") -> list[str]:
    """Every score side by side per configuration: mean AUC and efficiency over the unseen signals (or, with
    ``prefix=SEEN_PREFIX``, the seen ones), mean +- std over seeds."""
    names = scores_of([r for r in rows if r["state"] == "COMPLETE"])
    keys = [f"{n}.{prefix}{m}" for n in names for m in dict.fromkeys(["auc", metric])]
    table = seed_table(rows, dims, keys)
    if prefix and all(math.isnan(e[k][0]) for e in table for k in keys):
        return []  # no seen signal among the test signals (or trials from before they were recorded)
    cols = [d for d in dims if d != "seed"]
    which = "the signals used in fine-tuning (seen)" if prefix else "the unseen signals"
    lines = ["", "Every score (deployed ones emulated bit-exactly; `recon` is the float full VAE, not deployable), "
             f"means over {which}, mean +- std over seeds:", "",
             "| " + " | ".join(cols + ["seeds"] + keys) + " |", "|" + "---|" * (len(cols) + 1 + len(keys))]
    for e in table:
        lines.append("| " + " | ".join([str(e[c]) for c in cols] + [str(e["seeds"])] + [_fmt(e[k]) for k in keys])
                     + " |")
    return lines


def signals_of(rows: list[dict[str, Any]], score: str) -> tuple[list[str], set[str]]:
    """The signals a score was measured on, and those used in fine-tuning (seen)."""
    done = [r for r in rows if r["state"] == "COMPLETE"]
    signals = sorted({k.split(".")[1] for r in done for k in r if k.startswith(f"{score}.") and k.count(".") == 2})
    seen = {s for r in done for s in str(r.get("finetune") or "").split(",") if s}
    return signals, seen


def signal_table(rows: list[dict[str, Any]], dims: list[str], score: str, metric: str
                 ) -> tuple[list[str], set[str], list[dict[str, Any]]]:
    """Per configuration and signal: ``metric`` and its binomial uncertainty, mean +- std over seeds."""
    signals, seen = signals_of(rows, score)
    keys = [f"{score}.{s}.{metric}{e}" for s in signals for e in ("", "_err")]
    return signals, seen, seed_table(rows, dims, keys)


def _cell(v: tuple[float, float, int], err: tuple[float, float, int] | None, percent: bool) -> str:
    mean, std, _ = v
    if math.isnan(mean):
        return "n/a"
    f = 100.0 if percent else 1.0
    d = 2 if percent else 3
    text = f"{f * mean:.{d}f}" + (f" +- {f * std:.{d}f}" if not math.isnan(std) else "")
    if err is not None and not math.isnan(err[0]):
        text += f" (stat. {f * err[0]:.{d}f})"
    return text


def _signal_lines(rows: list[dict[str, Any]], dims: list[str], score: str, metric: str) -> list[str]:
    """Each signal's efficiency (in %) and AUC per configuration; seen signals marked."""
    lines = []
    cols = [d for d in dims if d != "seed"]
    for m in (metric, "auc"):
        signals, seen, table = signal_table(rows, dims, score, m)
        if not signals:
            return []
        percent = m.startswith("tpr_")
        lines += ["", f"`{score}` per signal: {m}" + (" in %" if percent else "") + ", mean +- std over seeds"
                  + (" (stat.: the binomial 68% half-width, mean over seeds)" if percent else "")
                  + "; (seen): used in fine-tuning:", "",
                  "| " + " | ".join(cols + ["seeds"] + [s + (" (seen)" if s in seen else "") for s in signals]) + " |",
                  "|" + "---|" * (len(cols) + 1 + len(signals))]
        for e in table:
            lines.append("| " + " | ".join([str(e[c]) for c in cols] + [str(e["seeds"])] + [
                _cell(e[f"{score}.{s}.{m}"], e[f"{score}.{s}.{m}_err"] if percent else None, percent)
                for s in signals]) + " |")
    return lines


def summary_markdown(rows: list[dict[str, Any]], dims: list[str], score: str, command: str,
                     synthesis: dict[int, dict[str, Any]] | None = None) -> str:
    """The scan's summary: per configuration mean +- std over seeds, the Pareto front, the yosys
    results of the synthesised Pareto trials, failed trials."""
    keys, table, eff_key, front = overview(rows, dims, score)
    cols = [d for d in dims if d != "seed"]
    lines = ["# Scan summary", "", f"`{command}`", "",
             (f"Deployed score `{score}`; metrics are means over the signals not used in fine-tuning, emulated "
              "bit-exactly" if any(f"{score}.lut_estimate" in r for r in rows) else
              f"Score `{score}` of a float model (no firmware; computed in float); metrics are means over the "
              "signals not used in fine-tuning") + "; mean +- std over seeds." + (
                 f" Pareto front (*): highest `{eff_key.split('.', 1)[1]}` for the fewest LUTs (estimate: "
                 f"{LUT_ESTIMATE}; not a synthesis result)." if front else ""), "",
             "| " + " | ".join(cols + ["seeds"] + [k.split(".", 1)[1] for k in keys]
                              + ["adders", "LUT (est.)", "stages", "Pareto"]) + " |",
             "|" + "---|" * (len(cols) + len(keys) + 5)]
    for i, e in enumerate(table):
        cells = [str(e[c]) for c in cols] + [str(e["seeds"])] + [_fmt(e[k]) for k in keys]
        cells += [_count(e[f"{score}.{c}"][0]) for c in ("adders", "lut_estimate", "stages")]
        cells.append("*" if i in front else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines += _signal_lines(rows, dims, score, eff_key.split(".", 1)[1])
    lines += _synthesis_lines(rows, dims, score, synthesis or {})
    lines += _scores_lines(rows, dims, eff_key.split(".", 1)[1])
    lines += _scores_lines(rows, dims, eff_key.split(".", 1)[1], SEEN_PREFIX)
    completed = {tuple(r.get(d) for d in dims) for r in rows if r["state"] == "COMPLETE"}
    failed = [r for r in rows if r["state"] == "FAIL" and tuple(r.get(d) for d in dims) not in completed]
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
