"""The RTL back end: pipelined Verilog in ``rtl/``, simulated with Verilator on every event, with
latency in cycles by construction and, on request, a yosys resource estimate."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from aa_trigger.firmware.backend import Backend, Description, Emulation, Events, Latency, Progress
from aa_trigger.firmware.graph import FixedGraph
from aa_trigger.firmware.parts import Part
from aa_trigger.firmware.rtl import project, tools, verilog

FOLDER = "rtl"


class RTLBackend(Backend):
    """Verilog written from the graph; ``levels`` adder levels per stage (0: chosen from the clock)."""

    name = "rtl"
    folder = FOLDER

    def __init__(self, part: Part, clock_mhz: float, levels: int = 0, estimate: bool = False,
                 latency_target_ns: float = 0.0) -> None:
        self.part = part
        self.latency_target_ns = latency_target_ns
        self.clock_mhz = clock_mhz
        self.levels_given = levels > 0
        self.levels = levels or verilog.levels_per_stage(clock_mhz)
        self.estimate = estimate
        self.design: verilog.RTLDesign | None = None
        self.timings: dict[str, float] = {}
        self.events_per_s = 0.0

    def check(self) -> None:
        tools.require_tools(estimate=self.estimate)

    def write(self, graph: FixedGraph, root: Path, events: Events, progress: Progress) -> None:
        self.design = d = verilog.generate(graph, self.levels)
        if self.latency_target_ns:
            verilog.check_latency_target(d, self.clock_mhz, self.latency_target_ns, self.levels_given)
        progress(f"RTL: {d.latency_cycles}-stage pipeline ({self.levels} adder levels per stage); "
                 "building the Verilator simulation (minutes)")
        folder = root / FOLDER
        project.write_project(folder, d, self.part.full, self.clock_mhz)
        t = time.time()
        tools.build_verilator(folder)
        self.timings["verilator_build_s"] = time.time() - t
        project.save_design(folder, d, self.part.full, self.clock_mhz)
        project.write_testbench(folder, d, events.x_int[events.tb], events.expected_int[events.tb], self.clock_mhz)

    def emulate(self, graph: FixedGraph, root: Path, events: Events, progress: Progress) -> list[Emulation]:
        assert self.design is not None, "write() first"
        import numpy as np

        progress(f"RTL: Verilator simulation of {len(events.x_int)} events")
        sim, self.events_per_s = tools.simulate(root / FOLDER, self.design, events.x_int)
        return [Emulation("verilator_rtl", np.arange(len(events.x_int)), sim)]

    def describe(self, graph: FixedGraph, root: Path, final: Path, progress: Progress) -> Description:
        d = self.design
        assert d is not None, "write() first"
        choice = ("--adder-levels" if self.levels_given else
                  f"auto: floor((clock period - {verilog.REGISTER_OVERHEAD_NS} ns) / {verilog.ADDER_LEVEL_NS} ns "
                  "per adder level), an assumption for UltraScale+ -2, not a timing analysis")
        how = (f"RTL back end: {d.latency_cycles} pipeline stages by construction, {self.levels} adder levels per "
               f"stage ({choice}), initiation interval 1; timing closure NOT verified: no open tool gives Fmax for "
               "this part; run rtl/build_vivado.tcl with Vivado")
        latency = Latency(self.clock_mhz, d.latency_cycles, 1, how, list(d.stages))
        resources = None
        if self.estimate:
            progress("RTL: yosys resource estimate (minutes)")
            resources = tools.yosys_estimate(root / FOLDER, self.part)
        details = {"adder_levels_per_stage": self.levels, "output_width": d.output_width,
                   "output_frac": d.output_frac, "tools": tools.tool_versions(),
                   "verilator_build_s": self.timings.get("verilator_build_s"),
                   "verilator_events_per_s": self.events_per_s}
        return Description(self.name, FOLDER, latency, resources, details, self._readme(graph, final))

    def _readme(self, graph: FixedGraph, final: Path) -> str:
        d = self.design
        assert d is not None
        return f"""## {FOLDER}/: pipelined Verilog ({d.latency_cycles} cycles, II = 1)

- `{verilog.TOP}.v`: top module `{verilog.TOP}` (ports `clk`, `in_0`..`in_{graph.n_features - 1}`, `score`;
  the score is `score * 2^-{d.output_frac}`), {self.levels} adder levels per stage;
  `design.json` describes it. Timing closure is not verified: run Vivado on it.
- `constraints.xdc`, `build_vivado.tcl`: out-of-context synthesis, place and route with reports
  (`vivado -mode batch -source build_vivado.tcl`).
- `tb_{verilog.TOP}.v` with `tb_inputs.mem` / `tb_expected.mem`: a self-checking test bench of
  real test events for any simulator (`iverilog -o tb tb_{verilog.TOP}.v {verilog.TOP}.v && vvp tb`,
  or Vivado xsim).
- `harness.cpp`: the Verilator harness `python -m aa_trigger.emulate {final}` builds.
"""

    def cleanup(self, root: Path, final: Path) -> None:
        shutil.rmtree(root / FOLDER / "obj_dir", ignore_errors=True)
