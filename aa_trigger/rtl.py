"""RTL back end: pipelined Verilog of the deployable graph, Verilator simulation, yosys estimate.

The Verilog is written directly from the :class:`~aa_trigger.deploy.FixedGraph` (the same
integer description the numpy emulator runs), so every rounding and saturation is the
firmware's by construction:

* each dense layer is a constant matrix product in shift-and-add form (canonical signed
  digits) with two-term subexpressions shared between its outputs, so it needs no DSP (as
  AXOL1TL v6 with da4ml); exact widths from value intervals (:mod:`aa_trigger.netlist`);
* a register rank is placed after every N adder levels (N chosen from the clock, or given) and
  at every layer output, after round half to even (AP_RND_CONV), ReLU and saturation (AP_SAT);
* the sum mu^2 score is squares plus one more adder tree; initiation interval 1.

Why not da4ml itself: its ``quantize`` knows TRN and RND (half up) but not RND_CONV, which the
trained QKeras ReLUs use, and da4ml 0.6 needs NumPy 2; writing the adder graph from the integer
graph keeps exactness without either problem.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aa_trigger.deploy import Fixed, FixedGraph
from aa_trigger.errors import AATriggerError
from aa_trigger.netlist import Pipeline, Value, lit, sbits

TOP = "aa_trigger_score"
#: device totals used to express resource estimates as a fraction (Xilinx data sheets)
PART_RESOURCES = {
    "xcvu9p": {"LUT": 1_182_240, "FF": 2_364_480, "DSP": 6_840, "family": "xcup"},
    "xcvu13p": {"LUT": 1_728_000, "FF": 3_456_000, "DSP": 12_288, "family": "xcup"},
    "xcu250": {"LUT": 1_728_000, "FF": 3_456_000, "DSP": 12_288, "family": "xcup"},
    "xcku15p": {"LUT": 522_720, "FF": 1_045_440, "DSP": 1_968, "family": "xcup"},
    "xc7vx690t": {"LUT": 433_200, "FF": 866_400, "DSP": 3_600, "family": "xc7"},
}
INSTALL_HINT = "install it with `apt-get install verilator yosys iverilog` (Debian/Ubuntu)"


def require_tools(estimate: bool = False) -> None:
    """One clear error when a needed open-source tool is missing."""
    for tool in ("verilator", "yosys") if estimate else ("verilator",):
        if shutil.which(tool) is None:
            raise AATriggerError(f"{tool} not found; {INSTALL_HINT}")


def tool_versions() -> dict[str, str]:
    """Versions of the open-source tools found (for the report: results depend on them)."""
    out = {}
    for tool, flag in (("verilator", "--version"), ("yosys", "-V")):
        exe = shutil.which(tool)
        if exe:
            res = subprocess.run([exe, flag], capture_output=True, text=True, timeout=60)
            out[tool] = (res.stdout or res.stderr).strip().splitlines()[0] if (res.stdout or res.stderr) else "?"
    return out


#: assumed delay of one adder level (a ~20-bit carry-chain add plus routing) and of the register
#: overhead (clock-to-out, setup, skew) on UltraScale+ -2; only used to choose how many adder levels
#: go into one pipeline stage at the requested clock. Not a timing analysis.
ADDER_LEVEL_NS = 1.0
REGISTER_OVERHEAD_NS = 0.5


def levels_per_stage(clock_mhz: float) -> int:
    """Adder levels per pipeline stage at a clock (the ``auto`` choice; override with an integer)."""
    return max(1, int((1000.0 / clock_mhz - REGISTER_OVERHEAD_NS) // ADDER_LEVEL_NS))


@dataclass
class RTLDesign:
    verilog: str
    latency_cycles: int
    input_width: int
    n_inputs: int
    output_width: int
    output_frac: int
    adder_levels_per_stage: int
    stages: list[str]  # what each pipeline stage computes


def _block_stages(name: str, pipe: Pipeline, last_level: int, what_last: str) -> list[str]:
    """Descriptions of the pipeline stages of one block (a layer or the score)."""
    n = pipe.stage(last_level) + 1
    out = []
    for t in range(n):
        lo, hi = t * pipe.levels + 1, min((t + 1) * pipe.levels, last_level)
        text = f"{name}: adder levels {lo}-{hi}" if lo < hi else f"{name}: adder level {hi}" if lo == hi else name
        out.append(text + (f", {what_last}" if t == n - 1 and what_last else ""))
    return out


def _round_saturate(pipe: Pipeline, name: str, acc: Value, s: int, t: Fixed, relu: bool, level: int) -> Value:
    """``acc`` (``s`` more fractional bits than ``t``) to type ``t`` as hls4ml does it: ReLU, round half
    to even (AP_RND_CONV), saturate (AP_SAT); computed at ``level`` and registered."""
    hi_t = (1 << (t.width - (1 if t.signed else 0))) - 1
    lo_t = -(1 << (t.width - 1)) if t.signed else 0
    a = pipe.wire(name + "_acc", pipe.at(acc, pipe.stage(level)), acc.lo, acc.hi, level)
    top = a.width - 1  # bits above the top are copies of the sign bit
    if s >= 1:  # up if the dropped part is > 1/2, or = 1/2 and the kept part is odd
        sticky = f" | (|{a.name}[{min(s - 2, top)}:0])" if s >= 2 else ""
        up = f"$signed({{1'b0, {a.name}[{min(s - 1, top)}] & ({a.name}[{min(s, top)}]{sticky})}})"
        r = pipe.wire(name + "_rnd", f"({a.name} >>> {s}) + {up}", a.lo >> s, (a.hi >> s) + 1, level)
    else:
        r = pipe.wire(name + "_rnd", f"{a.name} <<< {-s}", a.lo << -s, a.hi << -s, level)
    cw = max(r.width, sbits(lo_t, hi_t))
    expr = r.name
    if r.lo < lo_t:
        expr = f"({r.name} < {lit(lo_t, cw)}) ? {lit(lo_t, cw)} : {expr}"
    if r.hi > hi_t:
        expr = f"({r.name} > {lit(hi_t, cw)}) ? {lit(hi_t, cw)} : {expr}"
    if relu and a.lo < 0:
        expr = f"({a.name} < {lit(0, a.width)}) ? {lit(0, cw)} : {expr}"
    lo, hi = max(r.lo, lo_t), min(r.hi, hi_t)
    if relu:
        lo, hi = max(lo, 0), max(hi, 0)
    return pipe.register(name + "_out", expr, min(lo, hi), hi)


def generate(graph: FixedGraph, levels: int = 3) -> RTLDesign:
    """Pipelined Verilog of the graph: ports clk, in_0..in_{n-1} (signed input type), score.

    Each dense layer is a constant matrix product in shift-and-add form with shared
    subexpressions (:mod:`aa_trigger.netlist`), then round half to even (AP_RND_CONV), ReLU and
    saturation (AP_SAT) to the layer's type, registered. Inside a layer a register rank falls
    after every ``levels`` adder levels; initiation interval 1."""
    if levels < 1:
        raise AATriggerError(f"adder levels per pipeline stage must be >= 1, not {levels}")
    w_in = graph.input_type.width
    if w_in > 32:
        raise AATriggerError(f"input type {graph.input_type.hls()} is wider than the 32 bits the RTL simulation "
                             "harness passes per feature")
    pipe = Pipeline(levels)
    stages: list[str] = []
    lines = [f"// generated by aa_trigger: encoder + {graph.score}; shift-and-add constant products with shared "
             f"subexpressions, {levels} adder levels per pipeline stage, II = 1",
             "`timescale 1ns / 1ps", f"module {TOP} (", "    input wire clk,"]
    lines += [f"    input wire signed [{w_in - 1}:0] in_{i}," for i in range(graph.n_features)]
    xs = [Value(f"in_{i}", -(1 << (w_in - 1)), (1 << (w_in - 1)) - 1, 0) for i in range(graph.n_features)]
    frac = graph.input_type.frac
    for layer in graph.layers:
        acc_frac = frac + layer.w_frac
        t = layer.out_type
        pipe.comment(f"{layer.name}: {layer.kernel.shape[0]} -> {layer.kernel.shape[1]}, {layer.activation}"
                     + (f" -> {t.hls('RND_CONV', 'SAT')}" if t else " (exact)"))
        bias = [int(b) << (acc_frac - layer.b_frac) for b in layer.bias]
        accs = pipe.constant_products(layer.name, xs, layer.kernel.tolist(), bias)
        top_level = max(a.level for a in accs)
        if t is None:  # exact output
            st = pipe.stage(top_level)
            xs = [pipe.register(layer.name + "_out", pipe.at(a, st), a.lo, a.hi) for a in accs]
            stages += _block_stages(layer.name, pipe, top_level, "exact output")
            frac = acc_frac
            continue
        level = top_level + 1  # rounding and saturation: one more level, then the layer's output register
        outs = [_round_saturate(pipe, layer.name, a, acc_frac - t.frac, t, layer.activation == "relu", level)
                for a in accs]
        relu = "ReLU, " if layer.activation == "relu" else ""
        stages += _block_stages(layer.name, pipe, level, f"round (RND_CONV), {relu}saturate to {t.hls()}")
        xs = outs
        frac = t.frac
    if graph.score == "mu2":
        pipe.comment("score: sum of mu^2, exact")
        squares = [pipe.wire("sq", f"{x.name} * {x.name}", 0 if x.lo <= 0 <= x.hi else min(x.lo**2, x.hi**2),
                             max(x.lo**2, x.hi**2), 1) for x in xs]
        total = pipe.sum_tree("mu2", [(1, q, 0) for q in squares])
        xs = [pipe.register("score", pipe.at(total, pipe.stage(total.level)), total.lo, total.hi)]
        stages += _block_stages("score", pipe, total.level, "sum of mu^2 (squares at level 1)")
        frac = 2 * frac
    out = xs[0]
    ow = out.width
    if ow > 64:
        raise AATriggerError(f"the score ({graph.layers[-1].name} -> {graph.score}) needs {ow} bits; the RTL "
                             "simulation harness reads at most 64")
    lines += [f"    output wire signed [{ow - 1}:0] score", ");"] + pipe.body
    lines += [f"    assign score = {out.name};", "endmodule", ""]
    return RTLDesign("\n".join(lines), len(stages), w_in, graph.n_features, ow, frac, levels, stages)


def _harness(d: RTLDesign) -> str:
    sets = "\n".join(f"            top->in_{i} = (uint32_t)(x[{i}] & MASK_IN);" for i in range(d.n_inputs))
    return f"""// Verilator harness: int32 inputs (binary, {d.n_inputs} per event) -> int64 scores (binary)
#include "V{TOP}.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <vector>

int main(int argc, char **argv) {{
    if (argc != 3) {{ std::fprintf(stderr, "usage: vsim inputs.bin scores.bin\\n"); return 2; }}
    FILE *fin = std::fopen(argv[1], "rb");
    FILE *fout = std::fopen(argv[2], "wb");
    if (!fin || !fout) {{ std::fprintf(stderr, "cannot open files\\n"); return 2; }}
    std::vector<int32_t> all;
    int32_t buf[{d.n_inputs}];
    while (std::fread(buf, sizeof(int32_t), {d.n_inputs}, fin) == {d.n_inputs}) all.insert(all.end(), buf, buf + {d.n_inputs});
    const long n = (long)(all.size() / {d.n_inputs});
    const int64_t MASK_IN = (1LL << {d.input_width}) - 1;
    const int LAT = {d.latency_cycles};
    V{TOP} *top = new V{TOP};
    std::vector<int64_t> out;
    out.reserve(n);
    for (long t = 0; t < n + LAT - 1; ++t) {{
        if (t < n) {{
            const int32_t *x = &all[(size_t)t * {d.n_inputs}];
{sets}
        }}
        top->clk = 0; top->eval();
        top->clk = 1; top->eval();
        if (t >= LAT - 1) {{
            uint64_t raw = (uint64_t)top->score;
            int64_t v = (int64_t)(raw << (64 - {d.output_width})) >> (64 - {d.output_width});
            out.push_back(v);
        }}
    }}
    std::fwrite(out.data(), sizeof(int64_t), out.size(), fout);
    std::fclose(fin); std::fclose(fout);
    top->final(); delete top;
    return 0;
}}
"""


def write_project(folder: Path, design: RTLDesign, part: str, clock_mhz: float) -> None:
    """Verilog, constraints, a Vivado (non-project, out-of-context) Tcl script and the harness."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{TOP}.v").write_text(design.verilog)
    (folder / "constraints.xdc").write_text(f"create_clock -period {1000.0 / clock_mhz:.4f} -name clk [get_ports clk]\n")
    (folder / "build_vivado.tcl").write_text(f"""# vivado -mode batch -source build_vivado.tcl
read_verilog {TOP}.v
read_xdc -mode out_of_context constraints.xdc
synth_design -top {TOP} -part {part} -mode out_of_context
opt_design
place_design
route_design
report_utilization -file utilization.rpt
report_timing_summary -file timing.rpt
""")
    (folder / "harness.cpp").write_text(_harness(design))


def write_testbench(folder: Path, design: RTLDesign, x_int: np.ndarray, expected_int: np.ndarray,
                    clock_mhz: float) -> None:
    """Test-bench data from real events and a self-checking Verilog test bench for any simulator.

    ``tb_inputs.mem`` holds one event per line (all inputs concatenated, ``in_0`` in the low bits),
    ``tb_expected.mem`` the score integers; ``tb_{TOP}.v`` streams one event per clock (II = 1),
    compares every score after the pipeline latency and prints PASS or FAIL."""
    folder = Path(folder)
    n, w, ow, lat = design.n_inputs, design.input_width, design.output_width, design.latency_cycles
    x = np.asarray(x_int, np.int64)
    if x.ndim != 2 or x.shape[1] != n:
        raise AATriggerError(f"test-bench inputs have shape {x.shape}; the design has {n} inputs")
    digits_in, digits_out = (n * w + 3) // 4, (ow + 3) // 4
    rows = []
    for event in x:
        word = 0
        for i, v in enumerate(event.tolist()):
            word |= (v & ((1 << w) - 1)) << (i * w)
        rows.append(f"{word:0{digits_in}x}")
    (folder / "tb_inputs.mem").write_text("\n".join(rows) + "\n")
    (folder / "tb_expected.mem").write_text(
        "\n".join(f"{int(v) & ((1 << ow) - 1):0{digits_out}x}" for v in np.asarray(expected_int).tolist()) + "\n")
    ports = ", ".join(f".in_{i}(cur[{(i + 1) * w - 1}:{i * w}])" for i in range(n))
    half = 500.0 / clock_mhz
    (folder / f"tb_{TOP}.v").write_text(f"""// self-checking test bench: {len(x)} real test events, one per clock, latency {lat} cycles
// iverilog -o tb tb_{TOP}.v {TOP}.v && vvp tb      (or Vivado xsim, Questa, ...)
`timescale 1ns / 1ps
module tb_{TOP};
    localparam NEV = {len(x)}, LAT = {lat};
    reg clk = 1'b0;
    always #{half:.4f} clk = ~clk;
    reg [{n * w - 1}:0] mem_in [0:NEV - 1];
    reg [{ow - 1}:0] mem_out [0:NEV - 1];
    reg [{n * w - 1}:0] cur = 0;
    wire signed [{ow - 1}:0] score;
    integer t, errors = 0;
    {TOP} dut (.clk(clk), {ports}, .score(score));
    initial begin
        $readmemh("tb_inputs.mem", mem_in);
        $readmemh("tb_expected.mem", mem_out);
        for (t = 0; t < NEV + LAT - 1; t = t + 1) begin
            cur = (t < NEV) ? mem_in[t] : {{{n * w}{{1'b0}}}};
            @(posedge clk);
            #0.001;
            if (t >= LAT - 1 && score !== mem_out[t - LAT + 1]) begin
                errors = errors + 1;
                if (errors <= 10) $display("event %0d: score %0d, expected %0d", t - LAT + 1, score,
                                           $signed(mem_out[t - LAT + 1]));
            end
        end
        if (errors == 0) $display("PASS: %0d of %0d events equal", NEV, NEV);
        else $display("FAIL: %0d of %0d events differ", errors, NEV);
        $finish;
    end
endmodule
""")


def save_design(folder: Path, design: RTLDesign, part: str, clock_mhz: float) -> None:
    """What a later simulation of the folder needs to know (``design.json``)."""
    meta = {k: v for k, v in design.__dict__.items() if k != "verilog"}
    meta.update(top=TOP, part=part, clock_mhz=clock_mhz,
                verilog_sha256=hashlib.sha256(design.verilog.encode()).hexdigest())
    (Path(folder) / "design.json").write_text(json.dumps(meta, indent=1) + "\n")


def load_design(folder: Path) -> RTLDesign:
    """The design of an RTL folder written by :func:`write_project` and :func:`save_design`."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "design.json").read_text())
        return RTLDesign(verilog=(folder / f"{TOP}.v").read_text(),
                         **{k: meta[k] for k in RTLDesign.__dataclass_fields__ if k != "verilog"})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AATriggerError(f"{folder}: not a complete RTL folder ({exc})") from None


def read_testbench(folder: Path, design: RTLDesign) -> tuple[np.ndarray, np.ndarray]:
    """The test-bench events (integers) and expected score integers written by :func:`write_testbench`."""
    folder = Path(folder)
    n, w, ow = design.n_inputs, design.input_width, design.output_width
    try:
        words = [int(s, 16) for s in (folder / "tb_inputs.mem").read_text().split()]
        out = [int(s, 16) for s in (folder / "tb_expected.mem").read_text().split()]
    except (OSError, ValueError) as exc:
        raise AATriggerError(f"{folder}: unreadable test-bench data ({exc})") from None
    if len(words) != len(out):
        raise AATriggerError(f"{folder}: {len(words)} test-bench events but {len(out)} expected scores")
    signed = lambda v, b: v - (1 << b) if v >> (b - 1) & 1 else v  # noqa: E731
    x = np.array([[signed(wd >> (i * w) & ((1 << w) - 1), w) for i in range(n)] for wd in words], np.int64)
    return x.reshape(len(words), n), np.array([signed(v, ow) for v in out], np.int64)


def build_verilator(folder: Path, timeout: int = 3600) -> Path:
    """Compile the Verilog and harness with Verilator; returns the simulator binary."""
    exe = shutil.which("verilator")
    if exe is None:
        raise AATriggerError(f"verilator not found; {INSTALL_HINT}")
    folder = Path(folder).resolve()
    obj = folder / "obj_dir"
    cmd = [exe, "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "-Wno-WIDTH", "--x-assign", "fast",
           "--top-module", TOP, "--Mdir", str(obj), "-o", "vsim", f"{TOP}.v", "harness.cpp"]
    res = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        raise AATriggerError(f"Verilator build failed: {' | '.join(tail)}")
    return obj / "vsim"


def simulate(folder: Path, design: RTLDesign, x_int: np.ndarray, timeout: int = 3600) -> tuple[np.ndarray, float]:
    """Run the Verilator simulation on integer inputs; returns (scores as floats, events/s)."""
    folder = Path(folder).resolve()
    vsim = folder / "obj_dir" / "vsim"
    if not vsim.is_file():
        vsim = build_verilator(folder)
    inp, outp = folder / "sim_inputs.bin", folder / "sim_scores.bin"
    np.ascontiguousarray(x_int, dtype=np.int32).tofile(inp)
    t = time.perf_counter()
    res = subprocess.run([str(vsim.resolve()), str(inp), str(outp)], capture_output=True, text=True, timeout=timeout)
    dt = time.perf_counter() - t
    inp.unlink(missing_ok=True)
    if res.returncode != 0 or not outp.is_file():
        raise AATriggerError(f"Verilator simulation failed (exit {res.returncode}): {res.stderr.strip()[-200:]}")
    out = np.fromfile(outp, dtype=np.int64)
    outp.unlink()
    if len(out) != len(x_int):
        raise AATriggerError(f"Verilator simulation returned {len(out)} scores for {len(x_int)} events")
    return out.astype(np.float64) * 2.0**-design.output_frac, len(x_int) / dt


def yosys_estimate(folder: Path, part_short: str, timeout: int = 7200) -> dict[str, object]:
    """LUT/FF/CARRY/DSP counts from ``yosys synth_xilinx`` (an open-source estimate, not Vivado)."""
    exe = shutil.which("yosys")
    if exe is None:
        raise AATriggerError(f"yosys not found; {INSTALL_HINT}")
    family = PART_RESOURCES.get(part_short, {}).get("family", "xcup")
    # out of context (no I/O buffers, as the design sits inside a trigger board's firmware); no wide-LUT
    # muxes (yosys 0.23's ABC maps the adder compressors into LUT6+MUXF7..9 at about twice the LUTs);
    # ltp over everything but the flip-flops: the deepest combinational path between registers.
    script = (f"read_verilog {TOP}.v; synth_xilinx -family {family} -flatten -noiopad -noclkbuf -nowidelut "
              f"-top {TOP}; tee -q -o ltp.txt ltp -noff * t:FD* %d; stat")
    t = time.perf_counter()
    folder = Path(folder).resolve()
    res = subprocess.run([exe, "-q", "-p", script, "-l", "yosys.log"], cwd=folder, capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        raise AATriggerError(f"yosys failed: {(res.stderr or res.stdout).strip().splitlines()[-1:]}")
    log = (folder / "yosys.log").read_text()
    stat = log[log.rfind("Printing statistics"):]
    cells: dict[str, int] = {}
    for m in re.finditer(r"^\s+(\S+)\s+(\d+)\s*$", stat, re.M):
        cells[m.group(1)] = int(m.group(2))
    lut = sum(v for k, v in cells.items() if re.fullmatch(r"LUT\d", k))
    ff = sum(v for k, v in cells.items() if re.fullmatch(r"FD[A-Z]*", k))
    dsp = sum(v for k, v in cells.items() if k.startswith("DSP"))
    carry = sum(v for k, v in cells.items() if k.startswith("CARRY"))
    m = re.search(r"length=(\d+)", (folder / "ltp.txt").read_text()) if (folder / "ltp.txt").is_file() else None
    out: dict[str, object] = {"LUT": lut, "FF": ff, "DSP": dsp, "CARRY": carry, "cells": cells,
                              "logic_depth_cells": int(m.group(1)) if m else None,
                              "seconds": time.perf_counter() - t,
                              "how": f"yosys synth_xilinx -family {family} -flatten -noiopad -nowidelut, out of context "
                                     "(open-source synthesis, no place and route: an estimate, not Vivado's numbers); "
                                     "logic depth = most cells (LUTs, carry blocks) on a path between registers"}
    totals = PART_RESOURCES.get(part_short)
    if totals:
        out["percent_of_part"] = {k: 100.0 * int(out[k]) / totals[k] for k in ("LUT", "FF", "DSP")}
    return out
