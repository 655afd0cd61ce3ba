"""``convert --score auto --score-from SCAN``: the deployed score chosen over the seeds of a scan, not
from one run's metrics."""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from aa_trigger.errors import AATriggerError

#: fields that do not make two trainings different configurations (where files go, the seed)
_NOT_CONFIG = {"seed", "output", "run_name", "force", "cache_dir", "data_dir"}


def _same_configuration(run_config: dict[str, Any], cfg: Any) -> bool:
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if f.name in _NOT_CONFIG or (f.name in ("latent", "widths") and not value) or (
                f.name == "aa_target" and value == "auto"):  # kind defaults: resolved in runs
            continue
        if run_config.get(f.name) != value:
            return False
    return True


def score_from_scan(scan: Path, run_config: dict[str, Any], scores: tuple[str, ...]) -> tuple[str, str]:
    """The score with the higher mean over seeds of the mean unseen-signal efficiency at the scan's first
    working point (then AUC), over the scan's completed trials of the run's configuration."""
    import pandas as pd

    from aa_trigger.jsonio import field, read_json
    from aa_trigger.runfolder import train_config
    from aa_trigger.scans.space import parse_grid, trial_config

    scan = Path(scan)
    meta = read_json(scan / "scan.json")
    base = train_config(field(meta, "base", dict, scan / "scan.json"), scan / "scan.json")
    dims = field(meta, "dimensions", dict, scan / "scan.json")
    varied = [f"{k}={','.join(v)}" for k, v in dims.items() if k != "seed"]
    space = parse_grid(varied) if varied else None
    table = scan / "trials.csv"
    if not table.is_file():
        raise AATriggerError(f"--score-from {scan}: no trials.csv (run the scan to the end first)")
    try:
        rows = pd.read_csv(table, dtype={k: str for k in dims})
    except (ValueError, pd.errors.ParserError) as exc:
        raise AATriggerError(f"{table}: not a trials table ({str(exc).splitlines()[0]})") from None
    rows = rows[rows.get("state", pd.Series(dtype=str)) == "COMPLETE"]
    keep = []
    for _, r in rows.iterrows():
        point = {k: r[k] for k in dims if k != "seed"}
        cfg = trial_config(base, space.values(point)) if space is not None else base
        keep.append(_same_configuration(run_config, cfg))
    mine = rows[keep] if len(rows) else rows
    if mine.empty:
        raise AATriggerError(f"--score-from {scan}: no completed trial of this run's configuration")
    from aa_trigger.scans.results import efficiency_order

    eff = [c.split(".", 1)[1] for c in efficiency_order(mine.columns)
           if c.startswith(f"{scores[0]}.") and c.count(".") == 1 and mine[c].notna().any()]
    metric = eff[0] if eff else "auc"
    means = {}
    for s in scores:
        vals = [np.asarray(mine.get(f"{s}.{m}", pd.Series(dtype=float)), float) for m in (metric, "auc")]
        means[s] = tuple(float(np.nanmean(v)) if np.isfinite(v).any() else math.nan for v in vals)
    best = max(scores, key=lambda s: (tuple(-1.0 if math.isnan(v) else v for v in means[s]), s == scores[0]))
    return best, (f"auto from scan {scan}: higher mean over {len(mine)} seed(s) of the mean unseen-signal {metric} ("
                  + ", ".join(f"{s} {means[s][0]:.4f}" for s in scores) + "), then AUC")
