"""``python -m aa_trigger.convert``: a trained run folder -> hls4ml firmware project + report."""

from __future__ import annotations

import argparse
import sys

from aa_trigger.cli import progress, quiet, run_job

from aa_trigger.hls import BACKENDS, IO_TYPES, PARTS, STRATEGIES


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m aa_trigger.convert",
        description="Turn the encoder + latent score of a trained run into an hls4ml HLS project (and, with "
                    "--backend rtl, pipelined Verilog), prove bit-exactness (numpy fixed-point model == QKeras == "
                    "hls4ml predict() == g++ C simulation == Verilator) and write report.json / report.md with "
                    "AUCs, thresholds, latency and budgets.")
    p.add_argument("--run", default="", help="run folder (default: the newest under models/)")
    p.add_argument("--part", default="xcvu9p", help=f"FPGA part, short name or full string; known: {', '.join(PARTS)} "
                                                   "(default: xcvu9p)")
    p.add_argument("--backend", default="vitis", help=f"hls4ml back end: {', '.join(BACKENDS)}, or rtl: also write "
                                                      "pipelined Verilog (rtl/), simulate it with Verilator and report "
                                                      "its latency in cycles (default: vitis)")
    p.add_argument("--estimate", action="store_true", help="with --backend rtl: yosys resource estimate (about 1.5 min for the default model)")
    p.add_argument("--adder-levels", default="auto",
                   help="with --backend rtl: adder levels per pipeline stage, or auto: from the clock, assuming "
                        "about 1 ns per adder level (default: auto)")
    p.add_argument("--clock-mhz", type=float, default=200.0, help="target clock in MHz (default: 200)")
    p.add_argument("--reuse-factor", type=int, default=1, help="hls4ml reuse factor (default: 1, fully parallel)")
    p.add_argument("--strategy", default="Latency", choices=STRATEGIES, help="hls4ml strategy (default: Latency)")
    p.add_argument("--io-type", default="io_parallel", choices=IO_TYPES, help="hls4ml io type (default: io_parallel)")
    p.add_argument("--score", default="auto", choices=["auto", "mu2", "surrogate", "rz"],
                   help="latent score in firmware: mu2 (sum mu^2, AXOL1TL), surrogate (learned head), or auto: "
                        "the one with the better mean unseen-signal AUC after AA in the run's metrics (default)")
    p.add_argument("--output", default="", help="project folder (default: firmware/<run-name>/)")
    p.add_argument("--force", action="store_true", help="replace an existing project folder")
    p.add_argument("--rate-khz", type=float, nargs="+", default=[1.0, 5.0, 10.0],
                   help="rates for the score thresholds, kHz (default: 1 5 10)")
    p.add_argument("--bx-mhz", default="40", choices=["40", "28.61"], help="bunch-crossing rate (default: 40)")
    p.add_argument("--n-tb", type=int, default=2000, help="test-bench events written to tb_data/ and C-simulated "
                                                          "(default: 2000)")
    p.add_argument("--n-hls", type=int, default=20000, help="events run through hls4ml predict() (default: 20000)")
    p.add_argument("--no-csim", action="store_true", help="skip the g++ C simulation")
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    quiet()
    from aa_trigger.conversion import ConvertSettings, report_markdown, run_convert
    s = ConvertSettings(run=a.run, part=a.part, backend=a.backend, clock_mhz=a.clock_mhz,
                        reuse_factor=a.reuse_factor, strategy=a.strategy, io_type=a.io_type, score=a.score,
                        output=a.output, force=a.force, rate_khz=a.rate_khz, bx_mhz=a.bx_mhz, n_tb=a.n_tb,
                        n_hls=a.n_hls, csim=not a.no_csim, estimate=a.estimate,
                        adder_levels=a.adder_levels)
    code, report = run_job(lambda: run_convert(s, progress), "project")
    if code:
        return code
    print(report_markdown(report))
    print(f"project: {report['project']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
