"""Out-of-context yosys resources of a graph's Verilog, in a temporary folder (for scans and calibration)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from aa_trigger.firmware.backend import Resources
from aa_trigger.firmware.graph import FixedGraph
from aa_trigger.firmware.parts import resolve_part
from aa_trigger.firmware.rtl import project, tools, verilog
from aa_trigger.firmware.rtl.verilog import RTLDesign


def synthesise(graph: FixedGraph, clock_mhz: float, part: str = "xcvu9p") -> tuple[RTLDesign, Resources]:
    """The pipelined Verilog of ``graph`` at ``clock_mhz`` and its yosys estimate (minutes for large graphs)."""
    p = resolve_part(part)
    design = verilog.generate(graph, verilog.levels_per_stage(clock_mhz))
    with tempfile.TemporaryDirectory(prefix="aa_trigger-yosys-") as tmp:
        project.write_project(Path(tmp), design, p.full, clock_mhz)
        return design, tools.yosys_estimate(Path(tmp), p)
