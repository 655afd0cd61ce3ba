"""The Global-Trigger input scaling in front of the hls4ml network: a top function
``<project>_raw(raw_t raw[N], result_t out[1])`` that scales the raw object integers as the graph's
:class:`~aa_trigger.firmware.graph.Scale` node does and calls the hls4ml top, a test bench of raw test
events, its g++ C simulation, and a synthesis script with the raw top.

Per feature: ``d = raw - offset`` exactly (``ap_int``), ``v = d >> shift`` in an ``ap_fixed`` with enough
fractional bits to keep every bit, then ``v`` assigned to ``ap_fixed<W,I,AP_TRN,AP_SAT>``: truncation is the
floor of ``((raw - offset) << frac) >> shift`` and saturation clips to the input type, as the numpy model.
"""

from __future__ import annotations

import subprocess
import re
from pathlib import Path

import numpy as np

from aa_trigger.errors import AATriggerError
from aa_trigger.firmware.graph import FixedGraph, Scale

TB_RAW = "tb_data/tb_raw_inputs.dat"
RAW_LOG = "tb_data/csim_raw_results.log"


def _ints(values: np.ndarray) -> str:
    return ", ".join(str(int(v)) for v in values)


def write_raw_top(folder: Path, project: str, graph: FixedGraph) -> None:
    """``firmware/<project>_raw.{h,cpp}``, the raw test bench and ``build_raw.tcl`` next to the hls4ml project."""
    node = graph.nodes[0]
    if not isinstance(node, Scale):
        raise AATriggerError("the raw-input top needs a graph that starts with the input scaling")
    n, t, raw = graph.n_features, node.out_type, graph.input_type
    header = (folder / "firmware" / f"{project}.h").read_text()
    found = re.search(rf"void\s+{project}\s*\(\s*(\w+)\s+\w+\s*\[", header)
    if found is None:
        raise AATriggerError(f"{folder}/firmware/{project}.h: no top function {project}(...) to call")
    input_t = found.group(1)  # hls4ml's name of the network's input type (input_t; HGQ: <input>_t, quantising)
    d_bits = raw.width + 1
    frac_extra = int(node.shift.max())
    (folder / "firmware" / f"{project}_raw.h").write_text(f"""#ifndef {project.upper()}_RAW_H_
#define {project.upper()}_RAW_H_
#include "ap_fixed.h"
#include "ap_int.h"
#include "defines.h"

typedef ap_int<{raw.width}> raw_t;  // the raw Global-Trigger object integers

// The input scaling ((raw - offset) << {t.frac}) >> shift, saturated to {t.hls()}, then the network.
void {project}_raw(raw_t raw[{n}], result_t score[1]);
#endif
""")
    (folder / "firmware" / f"{project}_raw.cpp").write_text(f"""#include "{project}_raw.h"
#include "{project}.h"

static const int SCALE_OFFSET[{n}] = {{{_ints(node.offset)}}};
static const int SCALE_SHIFT[{n}] = {{{_ints(node.shift)}}};

void {project}_raw(raw_t raw[{n}], result_t score[1]) {{
#pragma HLS ARRAY_PARTITION variable=raw complete
#pragma HLS PIPELINE
    {input_t} scaled[{n}];
#pragma HLS ARRAY_PARTITION variable=scaled complete
    for (int i = 0; i < {n}; i++) {{
#pragma HLS UNROLL
        ap_int<{d_bits}> d = raw[i] - SCALE_OFFSET[i];
        ap_fixed<{d_bits + frac_extra}, {d_bits}> v = d;
        v = v >> SCALE_SHIFT[i];
        ap_fixed<{t.width}, {t.int_bits}, AP_TRN, AP_SAT> s = v;  // floor to 2^-{t.frac}, saturate
        scaled[i] = s;  // to the network's input type (exact, or HGQ's input quantiser)
    }}
    {project}(scaled, score);
}}
""")
    (folder / f"{project}_raw_test.cpp").write_text(f"""// Raw-input test bench: {TB_RAW} (integers, one event per line) -> {RAW_LOG}
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include "firmware/{project}_raw.h"

int main() {{
    std::ifstream fin("{TB_RAW}");
    FILE* fout = std::fopen("{RAW_LOG}", "w");
    if (!fin.is_open() || !fout) {{ std::printf("cannot open the test-bench files\\n"); return 1; }}
    std::string line;
    while (std::getline(fin, line)) {{
        std::istringstream in(line);
        raw_t raw[{n}];
        for (int i = 0; i < {n}; i++) {{ long v; in >> v; raw[i] = v; }}
        result_t score[1];
        {project}_raw(raw, score);
        std::fprintf(fout, "%.30g\\n", score[0].to_double());
    }}
    std::fclose(fout);
    return 0;
}}
""")
    (folder / "build_raw.tcl").write_text(f"""# The raw-input top ({project}_raw: input scaling + network): C simulation and synthesis.
# vitis_hls -f build_raw.tcl   (or vivado_hls)
open_project -reset {project}_raw_prj
set_top {project}_raw
add_files firmware/{project}_raw.cpp -cflags "-std=c++0x"
add_files firmware/{project}.cpp -cflags "-std=c++0x"
add_files -tb {project}_raw_test.cpp -cflags "-std=c++0x"
add_files -tb firmware/weights
add_files -tb tb_data
open_solution -reset "solution1"
source project.tcl
set_part $part
create_clock -period $clock_period -name default
csim_design
csynth_design
exit
""")


def write_raw_tb(folder: Path, x_raw: np.ndarray) -> None:
    np.savetxt(folder / TB_RAW, np.asarray(x_raw, np.int64), fmt="%d")


def csim_raw(folder: Path, project: str, timeout: int = 1800) -> np.ndarray:
    """Build and run the raw test bench with g++; the scores it logs (full precision)."""
    cmd = ["g++", "-O2", "-std=c++14", "-Ifirmware", "-Ifirmware/ap_types", "-DWEIGHTS_DIR=\"firmware/weights\"",
           f"{project}_raw_test.cpp", f"firmware/{project}_raw.cpp", f"firmware/{project}.cpp", "-o", "csim_raw"]
    build = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, encoding="utf-8", errors="replace",
                           timeout=timeout)
    if build.returncode != 0:
        errors = [ln for ln in build.stderr.splitlines() if "error" in ln] or build.stderr.strip().splitlines()
        raise AATriggerError(f"raw-input C simulation build failed: {errors[0] if errors else 'no output'}")
    log = folder / RAW_LOG
    log.unlink(missing_ok=True)
    run = subprocess.run(["./csim_raw"], cwd=folder, capture_output=True, text=True, timeout=timeout)
    (folder / "csim_raw").unlink(missing_ok=True)
    if run.returncode != 0 or not log.is_file():
        raise AATriggerError(f"raw-input C simulation failed (exit {run.returncode}): {run.stdout[-200:]}")
    return np.loadtxt(log, dtype=np.float64, ndmin=1)
