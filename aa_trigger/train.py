"""``python -m aa_trigger.train``: two-stage Anomaly-Awareness training of a (Q)Keras VAE."""

from __future__ import annotations

import sys
from typing import Any

from aa_trigger.cli import Parser, progress, run_verb

DESCRIPTION = ("Pretrain a quantisation-aware VAE on background, fine-tune it with Anomaly Awareness, train the "
               "latent-score surrogate, evaluate every score before and after AA and write a run folder. Without "
               "--data or --data-dir it uses the built-in synthetic L1 data set.")


def build_parser() -> Parser:
    from aa_trigger.config import TrainConfig
    from aa_trigger.options import add_arguments

    parser = Parser("python -m aa_trigger.train", DESCRIPTION)
    add_arguments(parser, TrainConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def job() -> Any:
        from aa_trigger.config import TrainConfig
        from aa_trigger.jobs.train import run_training
        from aa_trigger.options import from_namespace

        return run_training(from_namespace(TrainConfig, args), progress)

    def show(result: Any) -> None:
        print(result.summary)
        print(f"run folder: {result.path}  ({result.seconds:.0f} s)")

    return run_verb(job, show, "run folder")


if __name__ == "__main__":
    sys.exit(main())
