"""The files of an RTL project folder: Verilog, constraints, Vivado script, Verilator harness,
a self-checking test bench of real events for any simulator, and ``design.json``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from aa_trigger.errors import AATriggerError
from aa_trigger.firmware.rtl.verilog import TOP, RTLDesign


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
                         **{k: meta[k] for k in RTLDesign.__dataclass_fields__ if k != "verilog" and k in meta})
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
