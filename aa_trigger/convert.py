"""``python -m aa_trigger.convert``: a trained run folder -> firmware project(s) + bit-exact proof + report."""

from __future__ import annotations

import sys
from typing import Any

from aa_trigger.cli import Parser, progress, run_verb

DESCRIPTION = ("Turn the encoder + latent score of a trained run into firmware: an hls4ml HLS project "
               "(--backend vitis or vivado) and/or pipelined Verilog (--backend rtl); prove bit-exactness (numpy "
               "fixed-point model == QKeras == hls4ml predict() == g++ C simulation == Verilator) and write "
               "report.json / report.md with AUCs, thresholds, latency and budgets.")


def build_parser() -> Parser:
    from aa_trigger.config import ConvertConfig
    from aa_trigger.options import add_arguments

    parser = Parser("python -m aa_trigger.convert", DESCRIPTION)
    add_arguments(parser, ConvertConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def job() -> Any:
        from aa_trigger.config import ConvertConfig
        from aa_trigger.jobs.convert import run_convert
        from aa_trigger.options import from_namespace

        return run_convert(from_namespace(ConvertConfig, args), progress)

    def show(report: Any) -> None:
        from aa_trigger.firmware.report import render_markdown

        print(render_markdown(report))
        print(f"project: {report.project}")

    return run_verb(job, show, "project")


if __name__ == "__main__":
    sys.exit(main())
