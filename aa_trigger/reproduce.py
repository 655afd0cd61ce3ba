"""``python -m aa_trigger.reproduce``: the paper's experiments on the real samples in ../shared/data.

Runs, with the paper's hyper-parameters (Banda, Khosa, Sanz, arXiv 2504.11520), float VAEs as in
the paper:

* images: MNIST (10,000 test images) is normal; Fashion-MNIST classes 0-4 are the known anomaly
  used in fine-tuning; Fashion-MNIST classes 5-9 are the unseen anomaly (the paper's unseen
  set, CIFAR-10, is not available here). 784-400-20, BCE, 10 + 5 epochs, batch 128, lambda 0.1.
* network intrusion: the 12,000-row CICIDS2017 sample; normal traffic is background, Brute
  Force (38 rows) is fine-tuned on, DoS is the paper's unseen attack (the other groups are
  shown too). d-16-2, 50 + 20 epochs, batch 512, lambda 5.

Each experiment is an ordinary ``python -m aa_trigger.train`` run (the command is printed), so
the same options work unchanged on the full public files. The table compares the full-VAE
AUC before and after AA with the paper's numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from aa_trigger.cli import Parser, progress, run_verb

EXPERIMENTS = ("cicids", "mnist")


def main(argv: list[str] | None = None) -> int:
    p = Parser("python -m aa_trigger.reproduce", __doc__.split("\n\n")[1])
    p.add_argument("--data-root", default="../shared/data", help="folder of the real samples (default: ../shared/data)")
    p.add_argument("--output", default="models", help="where the run folders go (default: models)")
    p.add_argument("--only", choices=EXPERIMENTS, nargs="+", default=list(EXPERIMENTS), help="experiments to run")
    p.add_argument("--quick", action="store_true", help="2 + 2 epochs (a smoke test, not the paper's setup)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    a = p.parse_args(argv)

    def job() -> Any:
        from aa_trigger.jobs.reproduce import run_experiments

        return run_experiments(Path(a.data_root), a.only, a.output, a.quick, a.seed, progress)

    def show(rows: Any) -> None:
        print("| experiment | signal | AUC full VAE plain -> AA | sum mu^2 | surrogate | paper (full VAE) |")
        print("|---|---|---|---|---|---|")
        print("\n".join(rows))

    return run_verb(job, show, "run folder")


if __name__ == "__main__":
    sys.exit(main())
