"""``python -m aa_trigger.compare SCAN [SCAN ...] --baseline SCAN``: configurations of several scans side by side.

Per configuration and score (deployed scores emulated bit-exactly, ``recon`` the float full VAE): the mean
efficiency over the signals unseen in fine-tuning at the first trigger rate the background resolves (or
``--metric``), the least selected unseen signal, the mean unseen AUC, each unseen signal's AUC change
against the baseline scan (one configuration, e.g. ``--grid lambda-max=0``), and the seed spread
(std/mean) of the most selected unseen signal; all over each configuration's seeds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from aa_trigger.cli import Parser, run_verb


def main(argv: list[str] | None = None) -> int:
    p = Parser("python -m aa_trigger.compare", __doc__.split("\n\n")[1])
    p.add_argument("scans", nargs="+", help="scan folders")
    p.add_argument("--baseline", default="", help="scan folder of one configuration that the AUC changes refer to")
    p.add_argument("--metric", default="", help="efficiency metric, e.g. tpr_1kHz or tpr_fpr_0p01 (default: the "
                                                "first trigger rate the background resolves)")
    p.add_argument("--plot", default="", help="also write a PNG: each configuration's mean unseen efficiency and AUC "
                                             "against its LUT estimate (deployed --plot-score)")
    p.add_argument("--plot-score", default="mu2", help="score of --plot (default: mu2)")
    a = p.parse_args(argv)

    def job() -> Any:
        from aa_trigger.errors import AATriggerError
        from aa_trigger.scans.compare import compare_rows, first_rate, load_configs, markdown

        configs = [c for folder in a.scans for c in load_configs(Path(folder))]
        base = None
        if a.baseline:
            found = load_configs(Path(a.baseline))
            if len(found) != 1:
                raise AATriggerError(f"--baseline {a.baseline}: {len(found)} configurations; give a scan of one")
            base = found[0]
        metric = a.metric or first_rate(configs[0])
        if not any(metric in v for c in configs for per in c.values.values() for v in per.values()):
            raise AATriggerError(f"--metric {metric}: not measured by these scans")
        rows = compare_rows(([base] if base else []) + configs, base, metric)
        if a.plot:
            from aa_trigger.scans.compare import cost_plot

            cost_plot(Path(a.plot), rows, metric, a.plot_score)
        return markdown(rows, metric, base.label if base else "no baseline")

    return run_verb(job, lambda text: print(text, end="") or 0, "comparison")


if __name__ == "__main__":
    sys.exit(main())
