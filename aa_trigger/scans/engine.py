"""The scan engine: Optuna keeps the study (which points are done, their results), Dask runs the trials.

* Storage: by default a SQLite file in the scan folder; any SQLAlchemy URL (e.g. PostgreSQL) or
  ``journal:PATH`` (a journal file on a shared file system) scales out.
* Workers: by default a ``distributed.LocalCluster`` of single-threaded worker processes on this
  machine; ``scheduler`` connects to an existing Dask cluster instead.
* Resume: a point with a finished trial is never redone; trials left running by a killed scan are
  marked failed and their points run again; a trial that raises is recorded as failed and the scan
  goes on.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from aa_trigger.config import TrainConfig
from aa_trigger.errors import AATriggerError
from aa_trigger.scans.space import Space, trial_config

Progress = Callable[[str], None]
STUDY = "aa_trigger-scan"
SAMPLERS = ("grid", "random", "tpe", "nsga2")


@dataclass
class EngineSettings:
    folder: Path
    storage: str = ""  # "" -> sqlite file in the folder
    sampler: str = "grid"
    n_trials: int = 0  # random/tpe/nsga2: how many trials in all (grid: every point)
    workers: int = 2
    scheduler: str = ""
    threads: int = 1  # TensorFlow threads per trial
    clock_mhz: float = 240.0
    score: str = "mu2"  # the deployed score whose efficiency is the objective
    seed: int = 0  # of the sampler


def storage_of(s: EngineSettings) -> Any:
    if not s.storage:
        return f"sqlite:///{(s.folder / 'study.db').resolve()}"
    if s.storage.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(s.storage[len("journal:"):]))
    if "://" not in s.storage:
        raise AATriggerError(f"--storage {s.storage!r}: give a database URL (sqlite:///..., postgresql://...) or "
                             "journal:PATH")
    return s.storage


def open_study(s: EngineSettings, space: Space) -> Any:
    """Create or reopen the study; two objectives: efficiency at the first resolved trigger rate (max) and
    the LUT estimate (min)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = {"grid": lambda: optuna.samplers.RandomSampler(seed=s.seed),
               "random": lambda: optuna.samplers.RandomSampler(seed=s.seed),
               "tpe": lambda: optuna.samplers.TPESampler(seed=s.seed),
               "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=s.seed)}[s.sampler]()
    try:
        return optuna.create_study(study_name=STUDY, storage=storage_of(s), sampler=sampler, load_if_exists=True,
                                   directions=["maximize", "minimize"])
    except Exception as exc:  # storage errors come from SQLAlchemy, the journal or Optuna itself
        raise AATriggerError(f"cannot open the study storage: {str(exc).splitlines()[0]}") from None


def _distributions(space: Space) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution

    return {name: CategoricalDistribution(space.texts[name]) for name in space.dims}


def recover_stale(study: Any) -> int:
    """Trials left RUNNING by a scan that was killed: mark them failed (their points run again)."""
    from optuna.trial import TrialState

    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in stale:
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    return len(stale)


def pending_points(study: Any, space: Space, s: EngineSettings) -> list[dict[str, str] | None]:
    """Grid: every point without a completed trial. Samplers: ``None`` per trial still to run."""
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if s.sampler == "grid":
        have = {json.dumps(t.params, sort_keys=True) for t in done}
        return [p for p in space.text_points() if json.dumps(p, sort_keys=True) not in have]
    return [None] * max(0, s.n_trials - len(done))


@contextmanager
def dask_client(s: EngineSettings) -> Iterator[Any]:
    """A client of the existing cluster at ``s.scheduler``, or of a local cluster of single-threaded
    worker processes, closed on exit."""
    from distributed import Client, LocalCluster

    if s.scheduler:
        try:
            client = Client(s.scheduler, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise AATriggerError(f"--scheduler {s.scheduler}: cannot connect ({exc})") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=s.workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=50) as cluster, Client(cluster) as client:
        yield client


def _ask(study: Any, space: Space, point: dict[str, str] | None) -> Any:
    if point is not None:
        study.enqueue_trial(point, skip_if_exists=False)
    return study.ask(_distributions(space))


def run_scan(base: TrainConfig, space: Space, s: EngineSettings, progress: Progress) -> Any:
    """Run every pending trial on the Dask workers; returns the study."""
    from optuna.trial import TrialState

    study = open_study(s, space)
    stale = recover_stale(study)
    todo = pending_points(study, space, s)
    for p in todo:  # every point's configuration is valid before any work
        if p is not None:
            trial_config(base, space.values(p))
    progress(f"scan: {len(todo)} trials to run" + (f" ({stale} left running by a killed scan will run again)"
                                                    if stale else ""))
    if not todo:
        return study
    running: dict[Any, Any] = {}
    with dask_client(s) as client:
        try:
            _run_all(study, space, base, s, client, todo, running, progress)
        finally:
            for trial in running.values():  # interrupted: the points run again next time
                study.tell(trial, state=TrialState.FAIL)
    return study


def _run_all(study: Any, space: Space, base: TrainConfig, s: EngineSettings, client: Any,
             todo: list[dict[str, str] | None], running: dict[Any, Any], progress: Progress) -> None:
    """Keep every worker busy with one trial until ``todo`` is done; ``running`` holds the trials in flight."""
    from distributed import as_completed
    from optuna.trial import TrialState

    from aa_trigger.scans.trial import run_trial

    t0, done, failed = time.time(), 0, 0
    slots = max(1, len(client.scheduler_info()["workers"]))
    queue = list(todo)
    pool = as_completed()

    def submit() -> None:
        trial = _ask(study, space, queue.pop(0))
        cfg = trial_config(base, space.values(trial.params))
        fut = client.submit(run_trial, cfg, base, s.threads, s.clock_mhz, pure=False)
        running[fut] = trial
        pool.add(fut)

    while queue and len(running) < slots:
        submit()
    for fut in pool:
        trial = running.pop(fut)
        try:
            result = fut.result()
        except Exception as exc:  # the trial raised in its worker: record it and go on
            trial.set_user_attr("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            study.tell(trial, state=TrialState.FAIL)
            failed += 1
        else:
            _tell(study, trial, result, s)
            done += 1
        left = len(queue) + len(running)
        eta = (time.time() - t0) / max(done + failed, 1) * left  # wall time per finished trial
        progress(f"scan: {done} done, {len(running)} running, {failed} failed, {len(queue)} queued; "
                 f"about {eta / 60:.1f} min left")
        if queue:
            submit()


def graph_file(folder: Path, number: int) -> Path:
    """Where a trial's deployable integer graphs are kept (for --estimate yosys and later inspection)."""
    return folder / "graphs" / f"trial-{number}.json"


def _tell(study: Any, trial: Any, result: Any, s: EngineSettings) -> None:
    from dataclasses import replace

    from aa_trigger.jsonio import jsonable, write_json
    from aa_trigger.scans.results import efficiency_order

    if result.graphs:
        path = graph_file(s.folder, trial.number)
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        write_json(tmp, result.graphs)
        tmp.replace(path)
    attrs = jsonable(replace(result, graphs={}))
    del attrs["graphs"]
    trial.set_user_attr("result", attrs)
    score = s.score if s.score in result.mean_unseen else next(iter(result.mean_unseen))
    means = result.mean_unseen[score]
    # the first trigger rate (then FPR) the background sample resolves, else the AUC
    name = next((k for k in efficiency_order(means) if not math.isnan(means[k])), "auc")
    value = means[name]
    trial.set_user_attr("objective", f"{score}.{name}")
    cost = result.cost.get(score, {}).get("lut_estimate", math.inf)  # a float model has no firmware
    study.tell(trial, [value if not math.isnan(value) else -math.inf, float(cost)])
