"""``python -m aa_trigger.convert``: a trained run folder -> firmware project(s) + bit-exact proof + report."""

from __future__ import annotations

import sys
from typing import Any

from aa_trigger.cli import config_parser, progress, run_config_verb

DESCRIPTION = ("Turn the encoder + latent score of a trained run into firmware: an hls4ml HLS project "
               "(--backend vitis or vivado) and/or pipelined Verilog (--backend rtl); prove bit-exactness (numpy "
               "fixed-point model == QKeras == hls4ml predict() == g++ C simulation == Verilator) and write "
               "report.json / report.md with AUCs, thresholds, latency and budgets.")


def main(argv: list[str] | None = None) -> int:
    from aa_trigger.config import ConvertConfig

    def job(cfg: ConvertConfig) -> Any:
        from aa_trigger.jobs.convert import run_convert

        return run_convert(cfg, progress)

    def show(report: Any) -> None:
        from aa_trigger.firmware.report import render_markdown

        print(render_markdown(report))
        print(f"project: {report.project}")

    parser = config_parser("python -m aa_trigger.convert", DESCRIPTION, ConvertConfig)
    return run_config_verb(parser, argv, ConvertConfig, job, show, "project")


if __name__ == "__main__":
    sys.exit(main())
