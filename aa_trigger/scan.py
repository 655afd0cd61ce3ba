"""``python -m aa_trigger.scan``: scan train options over seeds on a distributed engine.

Every train option can be a dimension (``--grid lambda-max=0,0.5,1 quantize=4,6,8 --seeds 5``); the
data options are those of ``train``. Optuna keeps the study (resumable: rerunning the command
skips finished trials), Dask runs the trials (a local cluster of worker processes, or
``--scheduler`` an existing cluster). Each trial trains in memory, deploys the model as a graph
and scores it bit-exactly; the scan folder receives ``trials.csv``/``trials.parquet`` and
``summary.md`` (mean +- std over seeds, Pareto front of efficiency against adders).
"""

from __future__ import annotations

import sys
from typing import Any

from aa_trigger.cli import Parser, progress, run_verb


def build_parser() -> Parser:
    from aa_trigger.config import ScanConfig, TrainConfig
    from aa_trigger.options import add_arguments

    parser = Parser("python -m aa_trigger.scan", __doc__.split("\n\n")[1])
    add_arguments(parser.add_argument_group("scan"), ScanConfig)
    add_arguments(parser.add_argument_group("training (the fixed part of every trial)"), TrainConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def job() -> Any:
        from aa_trigger.config import ScanConfig, TrainConfig
        from aa_trigger.jobs.scan import command_line, run_scan_job
        from aa_trigger.options import from_namespace

        return run_scan_job(from_namespace(TrainConfig, args), from_namespace(ScanConfig, args),
                            command_line(sys.argv[1:] if argv is None else argv), progress)

    def show(result: Any) -> int:
        print(result.summary)
        print(f"scan folder: {result.folder}  ({result.completed} completed, {result.failed} failed)")
        return 0

    return run_verb(job, show, "scan output")


if __name__ == "__main__":
    sys.exit(main())
