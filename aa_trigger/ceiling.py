"""``python -m aa_trigger.ceiling``: the supervised ceiling of a data set at the trigger working points.

For each signal and seed, a float classifier is trained on half of the signal's test events against
training background and measured on the other half against the whole background test split: what any
score of these inputs can select at each trigger rate. A signal the classifier cannot select at a rate is
out of reach there for every anomaly detector too. Data options are those of ``train``.
"""

from __future__ import annotations

import sys
from typing import Any

from aa_trigger.cli import Parser, progress, run_verb

def build_parser() -> Parser:
    from dataclasses import fields

    from aa_trigger.config import CeilingConfig, TrainConfig
    from aa_trigger.options import add_arguments

    names = [f.name for f in fields(TrainConfig)]
    data = names[:names.index("quantize")] + ["rate_khz", "fpr", "bx_mhz", "seed"]  # the data and working points
    parser = Parser("python -m aa_trigger.ceiling", __doc__.split("\n\n")[1])
    add_arguments(parser.add_argument_group("ceiling"), CeilingConfig)
    add_arguments(parser.add_argument_group("data and working points (as for train)"), TrainConfig, data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def job() -> Any:
        import shlex

        from aa_trigger.config import CeilingConfig, TrainConfig
        from aa_trigger.jobs.ceiling import run_ceiling
        from aa_trigger.options import from_namespace

        command = "python -m aa_trigger.ceiling " + shlex.join(sys.argv[1:] if argv is None else argv)
        return run_ceiling(from_namespace(TrainConfig, args), from_namespace(CeilingConfig, args), command, progress)

    def show(result: Any) -> int:
        print(result.markdown)
        return 0

    return run_verb(job, show, "ceiling output")


if __name__ == "__main__":
    sys.exit(main())
