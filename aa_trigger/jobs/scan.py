"""The scan job: space -> data prepared once -> trials on Dask, study in Optuna -> tables and summary."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from aa_trigger.config import ScanConfig, TrainConfig
from aa_trigger.errors import AATriggerError

Progress = Callable[[str], None]


@dataclass
class ScanResult:
    folder: Path
    summary: str
    completed: int
    failed: int


def scan_space(s: ScanConfig) -> Any:
    from aa_trigger.scans.space import parse_grid, parse_yaml

    if s.space:
        space = parse_yaml(Path(s.space), 0)
        if s.grid:
            space.dims.update((g := parse_grid(s.grid)).dims)
            space.texts.update(g.texts)
        if s.seeds:
            space.dims["seed"], space.texts["seed"] = list(range(s.seeds)), [str(i) for i in range(s.seeds)]
        return space
    return parse_grid(s.grid, s.seeds)


def run_scan_job(base: TrainConfig, s: ScanConfig, command: str, progress: Progress = lambda m: None) -> ScanResult:
    """Prepare the data once, run the pending trials, write ``trials.csv``/``.parquet`` and ``summary.md``."""
    from optuna.trial import TrialState

    from aa_trigger.data.dataset import load_dataset
    from aa_trigger.jsonio import write_json
    from aa_trigger.outputs import check_writable
    from aa_trigger.scans import engine, results

    base.validate()
    s.validate()
    space = scan_space(s)
    name = s.scan_name or "scan-" + "-".join(space.dims)
    folder = Path(s.scan_dir) / name
    check_writable(folder)
    folder.mkdir(exist_ok=True)
    progress(f"scan folder {folder}: dimensions " + ", ".join(f"{k} ({len(v)})" for k, v in space.texts.items()))
    load_dataset(base, progress)  # generated or read once here; the workers read the cached files
    settings = engine.EngineSettings(folder, s.storage, s.sampler, s.trials, s.workers, s.scheduler, s.threads,
                                     s.clock_mhz, s.objective_score, base.seed)
    write_json(folder / "scan.json", {"format": 1, "command": command, "base": base.to_dict(), "scan": s.to_dict(),
                                      "dimensions": space.texts})
    study = engine.run_scan(base, space, settings, progress)
    rows = results.trial_rows(study)
    summary = results.summary_markdown(rows, list(space.dims), s.objective_score, command)
    results.write_outputs(folder, rows, summary)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return ScanResult(folder, summary, states.count(TrialState.COMPLETE), states.count(TrialState.FAIL))


def command_line(argv: list[str]) -> str:
    return "python -m aa_trigger.scan " + shlex.join(argv)


__all__ = ["AATriggerError", "ScanResult", "run_scan_job", "command_line"]
