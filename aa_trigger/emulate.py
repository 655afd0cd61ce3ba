"""``python -m aa_trigger.emulate PROJECT``: re-simulate a converted project and compare exactly.

Builds the generated testbench with g++ (the stand-in for Vitis/Vivado HLS csim), runs it on
``tb_data/tb_input_features.dat`` and compares its full-precision results, exactly, with the
numpy fixed-point model of the run and with the expected scores stored at conversion; a project
converted with ``--backend rtl`` also has its Verilog simulated with Verilator on ``rtl/tb_inputs.mem``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aa_trigger.emulate", description=__doc__.split("\n\n")[1])
    p.add_argument("project", help="firmware project folder written by python -m aa_trigger.convert")
    p.add_argument("--no-csim", action="store_true", help="skip the g++ C simulation of the hls4ml project")
    p.add_argument("--no-rtl", action="store_true", help="skip the Verilator simulation of rtl/")
    a = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    warnings.filterwarnings("ignore")
    import numpy as np

    from aa_trigger import deploy, fixedpoint, hls, rtl, runfolder
    from aa_trigger.conversion import compare
    from aa_trigger.errors import AATriggerError

    try:
        project = Path(a.project)
        meta_path = project / "conversion.json"
        if not meta_path.is_file():
            raise AATriggerError(f"{project}: not an aa_trigger firmware project (no conversion.json)")
        meta = json.loads(meta_path.read_text())
        prj = project / meta["project"]
        run = runfolder.load_run(Path(meta["run"])) if Path(meta["run"]).is_dir() else None
        graph = deploy.fixed_graph(run, meta["score"]) if run is not None else None
        checks = []
        if not a.no_csim:
            x = np.loadtxt(prj / "tb_data" / "tb_input_features.dat", ndmin=2)
            expected = np.loadtxt(prj / "tb_data" / "tb_output_predictions.dat", ndmin=2)[:, 0]
            print(f"C simulation of {prj} ({len(x)} events) ...", file=sys.stderr)
            cs = hls.csim(prj)
            checks.append(compare("expected", expected, "csim", cs))
            if graph is not None:
                x_int = np.round(x * 2 ** meta["input_frac_bits"]).astype(np.int64)
                checks.append(compare("numpy", fixedpoint.score(graph, x_int), "csim", cs))
        rtl_dir = project / "rtl"
        if (rtl_dir / "design.json").is_file() and not a.no_rtl:
            rtl.require_tools()
            design = rtl.load_design(rtl_dir)
            x_rtl, expected_rtl = rtl.read_testbench(rtl_dir, design)
            print(f"Verilator simulation of {rtl_dir} ({len(x_rtl)} events) ...", file=sys.stderr)
            try:
                sim, _ = rtl.simulate(rtl_dir, design, x_rtl)
            finally:
                shutil.rmtree(rtl_dir / "obj_dir", ignore_errors=True)
            checks.append(compare("expected", expected_rtl * 2.0**-design.output_frac, "verilator_rtl", sim))
            if graph is not None:
                checks.append(compare("numpy", fixedpoint.score(graph, x_rtl), "verilator_rtl", sim))
    except AATriggerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not checks:
        print("error: nothing to simulate (--no-csim, and no rtl/ folder or --no-rtl)", file=sys.stderr)
        return 2
    for c in checks:
        print(f"{c['a']} vs {c['b']}: {c['equal']} of {c['events']} events equal"
              + ("" if c["bit_exact"] else f"; first differences: {c['examples']}"))
    return 0 if all(c["bit_exact"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
