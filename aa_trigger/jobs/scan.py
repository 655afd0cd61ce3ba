"""The scan job: space -> data prepared once -> trials on Dask, study in Optuna -> tables and summary."""

from __future__ import annotations

import shlex
import shutil
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
    if s.estimate == "yosys" and shutil.which("yosys") is None:
        from aa_trigger.firmware.rtl.tools import INSTALL_HINT

        raise AATriggerError(f"--estimate yosys: yosys not found; {INSTALL_HINT}")
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
    synthesis = {}
    if s.estimate == "yosys":
        from aa_trigger.scans.synthesis import synthesise_front

        with engine.dask_client(settings) as client:
            synthesis = synthesise_front(folder, rows, list(space.dims), s.objective_score, client, s.clock_mhz,
                                         s.part, progress)
        results.add_synthesis(rows, synthesis, s.objective_score)
    summary = results.summary_markdown(rows, list(space.dims), s.objective_score, command, synthesis)
    results.write_outputs(folder, rows, summary)
    _plots(folder, rows, list(space.dims), s.objective_score)
    if s.export_best:
        _export_best(study, base, space, folder, progress)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return ScanResult(folder, summary, states.count(TrialState.COMPLETE), states.count(TrialState.FAIL))


def _plots(folder: Path, rows: list[dict[str, Any]], dims: list[str], score: str) -> None:
    from aa_trigger.scans import plots, results

    done = [r for r in rows if r["state"] == "COMPLETE"]
    if not done:
        return
    _, table, eff_key, front = results.overview(rows, dims, score)
    if any(f"{score}.lut_estimate" in r for r in done):
        cols = [d for d in dims if d != "seed"]
        plots.pareto_plot(folder, table, eff_key, [f"{score}.lut_estimate", f"{score}.latency_ns"], front, cols)
    for name in results.scores_of(done):
        signals = sorted({k.split(".")[1] for r in done for k in r if k.startswith(f"{name}.") and k.count(".") >= 2})
        for metric in dict.fromkeys(["auc", eff_key.split(".", 1)[1]]):
            plots.dimension_plots(folder, rows, dims, name, metric, signals)
            plots.signal_plot(folder, rows, dims, name, metric)


def _export_best(study: Any, base: TrainConfig, space: Any, folder: Path, progress: Progress) -> Path:
    """The best completed trial (highest efficiency, then fewest adders) as a run folder, ready for convert."""
    from optuna.trial import TrialState

    from aa_trigger.jobs.train import run_training
    from aa_trigger.scans.space import trial_config

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.values and all(v == v for v in t.values)]
    if not done:
        raise AATriggerError("--export-best: no completed trial with firmware objectives")
    best = max(done, key=lambda t: (t.values[0], -t.values[1]))
    name = "best-" + "-".join(f"{k}{v}".replace(" ", "_") for k, v in best.params.items())
    cfg = trial_config(base, space.values(best.params))
    from dataclasses import replace

    progress(f"exporting trial #{best.number} ({best.params}) as {folder / name}")
    return run_training(replace(cfg, output=str(folder), run_name=name, force=True), progress).path


def command_line(argv: list[str]) -> str:
    return "python -m aa_trigger.scan " + shlex.join(argv)

