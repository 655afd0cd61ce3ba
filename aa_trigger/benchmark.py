"""``python -m aa_trigger.benchmark``: events/s of the emulators of one deployable graph.

Scores the same events (hardware-scaled built-in background) with the numpy fixed-point emulator,
QKeras ``predict()``, hls4ml ``predict()``, the g++ C simulation and (when Verilator is installed)
the RTL simulation at 200 MHz, checks that they agree bit for bit, and prints a Markdown table.
Also times hls4ml convert + compile.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from aa_trigger.cli import Parser, progress, run_verb


def main(argv: list[str] | None = None) -> int:
    p = Parser("python -m aa_trigger.benchmark", __doc__.split("\n\n")[1])
    p.add_argument("--run", default="", help="run folder (default: the newest under models/)")
    p.add_argument("--score", default="mu2", choices=["mu2", "surrogate", "wmu2"], help="deployed score (default: mu2)")
    p.add_argument("--events", type=int, default=100_000, help="events per emulator (default: 100000)")
    p.add_argument("--hls-events", type=int, default=0,
                   help="events for hls4ml predict(), which is slow (default: same as --events)")
    p.add_argument("--scan-trials", type=int, default=0,
                   help="instead: the scan engine's throughput with 1 and 2 Dask workers on N tiny trials")
    p.add_argument("--calibrate-luts", nargs="+", default=[], metavar="RUN",
                   help="instead: yosys LUTs of the designs of run folders or scan trials (SCAN/graphs/trial-N.json) "
                        "against their adder bits (the scans' LUT estimate)")
    p.add_argument("--compare-da4ml", nargs="+", default=[], metavar="RUN",
                   help="instead: every dense layer's constant matrix product of the designs of run folders or scan "
                        "trials, solved by the project's netlist and by da4ml's CMVM solver: adders, depth, time")
    a = p.parse_args(argv)

    if a.compare_da4ml:
        def comparison() -> Any:
            from aa_trigger.jobs.benchmark import compare_cmvm

            return compare_cmvm([Path(r) for r in a.compare_da4ml], progress=progress)

        def show_comparison(rows: Any) -> None:
            from aa_trigger.jobs.benchmark import cmvm_markdown

            print(cmvm_markdown(rows))

        return run_verb(comparison, show_comparison, "output")

    if a.calibrate_luts:
        def calibration() -> Any:
            from aa_trigger.jobs.benchmark import calibrate_luts

            return calibrate_luts([Path(r) for r in a.calibrate_luts], progress=progress)

        def show_fit(result: Any) -> None:
            from aa_trigger.scans.trial import LUT_ESTIMATE, lut_estimate

            rows, (per_bit, per_adder) = result
            print(f"fitted here: {per_bit:.4f} LUT per adder output bit + {per_adder:.3f} per adder "
                  f"(the scans use {LUT_ESTIMATE})\n")
            print("| design | adders | adder bits | yosys LUT | FF | DSP | stages (adder levels) | yosys logic depth | "
                  "fit here | error | scans' estimate | error |")
            print("|---|---|---|---|---|---|---|---|---|---|---|---|")
            for r in rows:
                est = per_bit * r["adder_bits"] + per_adder * r["adders"]
                cur = lut_estimate(r["adders"], r["adder_bits"])
                print(f"| {r['design']} | {r['adders']} | {r['adder_bits']} | {r['LUT']} | {r['FF']} | {r['DSP']} | "
                      f"{r['stages']} ({r['depth']}) | {r['logic_depth']} | {est:.0f} | {100 * (est / r['LUT'] - 1):+.1f}% | "
                      f"{cur:.0f} | {100 * (cur / r['LUT'] - 1):+.1f}% |")

        return run_verb(calibration, show_fit, "output")

    if a.scan_trials:
        def scan_job() -> Any:
            import tempfile

            from aa_trigger.jobs.benchmark import run_scan_benchmark

            with tempfile.TemporaryDirectory() as tmp:
                return run_scan_benchmark(a.scan_trials, Path(tmp), progress)

        return run_verb(scan_job, lambda r: print(r.markdown()), "output")

    def job() -> Any:
        from aa_trigger.jobs.benchmark import run_benchmark
        from aa_trigger.jobs.convert import newest_run

        return run_benchmark(Path(a.run) if a.run else newest_run(), a.score, a.events, a.hls_events or a.events,
                             progress)

    def show(result: Any) -> int:
        print(result.markdown())
        return 0 if all(result.exact.values()) else 1

    return run_verb(job, show, "output")


if __name__ == "__main__":
    sys.exit(main())
