"""The paper's experiments (Banda, Khosa, Sanz, arXiv 2504.11520) on the real samples: ordinary
training runs with the paper's hyper-parameters, tabulated beside the published AUCs."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Callable

from aa_trigger.errors import AATriggerError

Progress = Callable[[str], None]

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
             "--lambda-max", "0.1", "--aa-target", "recon"]  # the paper's AA term
    cicids = ["--data", str(root / "cicids2017" / "cicids2017_cleaned_grouped_sample_12k.csv"),
              "--label-column", "Attack Type", "--background", "Normal Traffic", "--finetune", "Brute Force",
              "--quantize", "0", "--batch-size", "512", "--epochs-pretrain", "50", "--epochs-finetune", "20",
              "--lambda-max", "5", "--aa-target", "recon"]
    exps = {"mnist": mnist, "cicids": cicids}
    if quick:
        for args in exps.values():
            for flag, value in (("--epochs-pretrain", "2"), ("--epochs-finetune", "2")):
                args[args.index(flag) + 1] = value
    return exps


def run_experiments(root: Path, names: list[str], output: str, quick: bool, seed: int,
                    progress: Progress = lambda m: None) -> list[str]:
    """Train each experiment (its ``train`` command is reported first); Markdown rows of AUCs."""
    from aa_trigger.config import TrainConfig
    from aa_trigger.jobs.train import run_training
    from aa_trigger.options import from_namespace
    from aa_trigger.train import build_parser

    if not Path(root).is_dir():
        raise AATriggerError(f"--data-root {root}: no such folder")
    rows = []
    for name in names:
        args = experiments(Path(root), quick)[name] + ["--output", output, "--run-name", f"paper-{name}",
                                                       "--seed", str(seed), "--force"]
        progress("python -m aa_trigger.train " + shlex.join(args))
        res = run_training(from_namespace(TrainConfig, build_parser().parse_args(args)), progress)
        rows += _rows(name, res.before, res.after)
    return rows


def _rows(name: str, before: dict, after: dict) -> list[str]:
    unseen, p_plain, p_aa, paper_set = PAPER[name]
    rows = []
    for sig in after:
        tag = "fine-tune" if after[sig]["used_in_finetuning"] else "unseen"
        b = {s: before[sig]["scores"][s]["auc"] for s in ("recon", "mu2", "surrogate")}
        c = {s: after[sig]["scores"][s]["auc"] for s in ("recon", "mu2", "surrogate")}
        paper = f"{p_plain:.4g} -> {p_aa:.4g} ({paper_set})" if sig == unseen else ""
        rows.append(f"| {name} | {sig} ({tag}) | {b['recon']:.4f} -> {c['recon']:.4f} | "
                    f"{b['mu2']:.4f} -> {c['mu2']:.4f} | {b['surrogate']:.4f} -> {c['surrogate']:.4f} | {paper} |")
    return rows
