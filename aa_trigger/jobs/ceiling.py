"""The ceiling job: the data set as ``train`` reads it, a supervised classifier per signal and seed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from aa_trigger.config import CeilingConfig, TrainConfig

Progress = Callable[[str], None]


@dataclass
class CeilingResult:
    per_seed: list[dict[str, dict[str, float]]]
    summary: dict[str, dict[str, list[float]]]
    markdown: str


def run_ceiling(data_cfg: TrainConfig, s: CeilingConfig, command: str,
                progress: Progress = lambda m: None) -> CeilingResult:
    from aa_trigger.data.dataset import load_dataset
    from aa_trigger.evaluation.ceiling import ClassifierSettings, markdown, signal_ceiling, summarise
    from aa_trigger.jobs.train import seed_everything
    from aa_trigger.jsonio import write_json
    from aa_trigger.scans.results import efficiency_order

    data_cfg.validate()
    s.validate()
    data = load_dataset(data_cfg, progress)
    points = data_cfg.working_points()
    settings = ClassifierSettings(tuple(s.hidden), s.classifier_epochs, s.classifier_background)
    per_seed: list[dict[str, Any]] = []
    for seed in range(s.seeds):
        seed_everything(seed)
        per_seed.append(signal_ceiling(data.x_train, data.x_test, data.signals_test, points, seed, settings,
                                       progress))
    summary = summarise(per_seed)
    keys = efficiency_order([p.key for p in points])
    text = "\n".join([f"Supervised ceiling (`{command}`): a classifier per signal ({'-'.join(map(str, s.hidden))} "
                      f"ReLU, {s.classifier_epochs} epochs), trained on half of the signal's test events; measured on "
                      f"the other half against {len(data.x_test):,} background test events; mean +- std over "
                      f"{s.seeds} seeds.", "", *markdown(summary, keys, data.finetune_signals)])
    if s.json:  # written beside, then renamed: never half a file
        final = Path(s.json)
        tmp = final.with_name(f".{final.name}.tmp")
        write_json(tmp, {"command": command, "config": asdict(s), "data": data_cfg.to_dict(),
                         "fingerprint": data.fingerprint, "per_seed": per_seed, "summary": summary})
        tmp.replace(final)
    return CeilingResult(per_seed, summary, text)
