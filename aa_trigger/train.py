"""``python -m aa_trigger.train``: two-stage Anomaly-Awareness training of a (Q)Keras VAE."""

from __future__ import annotations

import argparse
import os
import sys


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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from aa_trigger.config import from_namespace
    from aa_trigger.errors import AATriggerError

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:
        cfg = from_namespace(args)
        from aa_trigger.pipeline import run_training

        result = run_training(cfg, progress)
    except AATriggerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; no run folder was written", file=sys.stderr)
        return 130
    print(result.summary)
    print(f"run folder: {result.path}  ({result.seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
