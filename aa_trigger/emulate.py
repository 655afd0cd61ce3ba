"""``python -m aa_trigger.emulate PROJECT``: re-simulate a converted project and compare exactly.

Builds the generated hls4ml testbench with g++ (the stand-in for Vitis/Vivado HLS csim) and runs
it on ``tb_data/``, and simulates ``rtl/`` with Verilator on its test bench; compares each, exactly,
with the scores stored at conversion and with the numpy fixed-point model of the run.
"""

from __future__ import annotations

import sys
from typing import Any

from aa_trigger.cli import Parser, progress, run_verb


def main(argv: list[str] | None = None) -> int:
    p = Parser("python -m aa_trigger.emulate", __doc__.split("\n\n")[1])
    p.add_argument("project", help="firmware project folder written by python -m aa_trigger.convert")
    p.add_argument("--no-csim", action="store_true", help="skip the g++ C simulation of the hls4ml project")
    p.add_argument("--no-rtl", action="store_true", help="skip the Verilator simulation of rtl/")
    a = p.parse_args(argv)

    def job() -> Any:
        from aa_trigger.jobs.emulate import emulate_project

        return emulate_project(a.project, not a.no_csim, not a.no_rtl, progress)

    def show(checks: Any) -> int:
        for c in checks:
            print(c.line())
        return 0 if all(c.bit_exact for c in checks) else 1

    return run_verb(job, show, "output")


if __name__ == "__main__":
    sys.exit(main())
