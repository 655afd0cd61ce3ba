"""``python -m aa_trigger.train``: two-stage Anomaly-Awareness training of a (Q)Keras VAE."""

from __future__ import annotations

import argparse
import sys

from aa_trigger.cli import progress, quiet, run_job


def build_parser() -> argparse.ArgumentParser:
    from aa_trigger.config import add_arguments

    parser = argparse.ArgumentParser(
        prog="python -m aa_trigger.train",
        description="Pretrain a quantisation-aware VAE on background, fine-tune it with Anomaly Awareness, "
                    "train the latent-score surrogate, evaluate every score before and after AA and write "
                    "a run folder. Without --data-dir it uses the built-in synthetic L1 data set.",
    )
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet()
    from aa_trigger.config import from_namespace

    def job():
        from aa_trigger.pipeline import run_training

        return run_training(from_namespace(args), progress)

    code, result = run_job(job, "run folder")
    if code:
        return code
    print(result.summary)
    print(f"run folder: {result.path}  ({result.seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
