"""``python -m aa_trigger.train``: two-stage Anomaly-Awareness training of a (Q)Keras VAE."""

from __future__ import annotations

import sys
from typing import Any

from aa_trigger.cli import Parser, config_parser, progress, run_config_verb

DESCRIPTION = ("Pretrain a quantisation-aware VAE on background, fine-tune it with Anomaly Awareness, train the "
               "latent-score surrogate, evaluate every score before and after AA and write a run folder. Without "
               "--data or --data-dir it uses the built-in synthetic L1 data set.")


def build_parser() -> Parser:
    from aa_trigger.config import TrainConfig

    return config_parser("python -m aa_trigger.train", DESCRIPTION, TrainConfig)


def main(argv: list[str] | None = None) -> int:
    from aa_trigger.config import TrainConfig

    def job(cfg: TrainConfig) -> Any:
        from aa_trigger.jobs.train import run_training

        return run_training(cfg, progress)

    def show(result: Any) -> None:
        print(result.summary)
        print(f"run folder: {result.path}  ({result.seconds:.0f} s)")

    return run_config_verb(build_parser(), argv, TrainConfig, job, show, "run folder")


if __name__ == "__main__":
    sys.exit(main())
