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

import shlex
import sys
from pathlib import Path

from aa_trigger.cli import Parser, quiet

PAPER = {  # experiment: (unseen signal, AUC plain, AUC AA, what the paper's unseen set was)
    "mnist": ("fashion:unseen", 0.9987, 0.9997, "CIFAR-10"),
    "cicids": ("DoS", 0.75, 0.79, "DoS"),
}


def experiments(root: Path, quick: bool) -> dict[str, list[str]]:
    seen = [f"{c}=seen" for c in range(5)] + [f"{c}=unseen" for c in range(5, 10)]
    mnist = ["--data", f"mnist={root / 'mnist' / 't10k-images-idx3-ubyte.gz'}",
             "--data", f"fashion={root / 'fashion_mnist' / 'fashion-mnist_test_1000rows.csv'}",
             "--label-map", *seen, "--background", "mnist", "--finetune", "fashion:seen", "--test", "fashion:unseen",
             "--quantize", "0", "--batch-size", "128", "--epochs-pretrain", "10", "--epochs-finetune", "5",
             "--lambda-max", "0.1"]
    cicids = ["--data", str(root / "cicids2017" / "cicids2017_cleaned_grouped_sample_12k.csv"),
              "--label-column", "Attack Type", "--background", "Normal Traffic", "--finetune", "Brute Force",
              "--quantize", "0", "--batch-size", "512", "--epochs-pretrain", "50", "--epochs-finetune", "20",
              "--lambda-max", "5"]
    exps = {"mnist": mnist, "cicids": cicids}
    if quick:
        for args in exps.values():
            for flag, value in (("--epochs-pretrain", "2"), ("--epochs-finetune", "2")):
                args[args.index(flag) + 1] = value
    return exps


def main(argv: list[str] | None = None) -> int:
    p = Parser("python -m aa_trigger.reproduce", __doc__.split("\n\n")[1])
    p.add_argument("--data-root", default="../shared/data", help="folder of the real samples (default: ../shared/data)")
    p.add_argument("--output", default="models", help="where the run folders go (default: models)")
    p.add_argument("--only", choices=sorted(PAPER), nargs="+", default=sorted(PAPER), help="experiments to run")
    p.add_argument("--quick", action="store_true", help="2 + 2 epochs (a smoke test, not the paper's setup)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    a = p.parse_args(argv)
    quiet()
    from aa_trigger.config import TrainConfig
    from aa_trigger.errors import AATriggerError
    from aa_trigger.jobs.train import run_training
    from aa_trigger.options import from_namespace
    from aa_trigger.train import build_parser

    root = Path(a.data_root)
    if not root.is_dir():
        print(f"error: --data-root {root}: no such folder", file=sys.stderr)
        return 2
    rows = []
    for name in a.only:
        args = experiments(root, a.quick)[name] + ["--output", a.output, "--run-name", f"paper-{name}",
                                                   "--seed", str(a.seed), "--force"]
        print("python -m aa_trigger.train " + shlex.join(args), file=sys.stderr)
        try:
            res = run_training(from_namespace(TrainConfig, build_parser().parse_args(args)),
                               lambda m: print(m, file=sys.stderr, flush=True))
        except AATriggerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        unseen, p_plain, p_aa, paper_set = PAPER[name]
        for sig in res.after:
            tag = "fine-tune" if res.after[sig]["used_in_finetuning"] else "unseen"
            b = {s: res.before[sig]["scores"][s]["auc"] for s in ("recon", "mu2", "surrogate")}
            c = {s: res.after[sig]["scores"][s]["auc"] for s in ("recon", "mu2", "surrogate")}
            paper = f"{p_plain:.4g} -> {p_aa:.4g} ({paper_set})" if sig == unseen else ""
            rows.append(f"| {name} | {sig} ({tag}) | {b['recon']:.4f} -> {c['recon']:.4f} | "
                        f"{b['mu2']:.4f} -> {c['mu2']:.4f} | {b['surrogate']:.4f} -> {c['surrogate']:.4f} | {paper} |")
    print("| experiment | signal | AUC full VAE plain -> AA | sum mu^2 | surrogate | paper (full VAE) |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
