"""The open-source tools of the RTL back end: Verilator (simulation) and yosys (resource estimate)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from aa_trigger.errors import AATriggerError
from aa_trigger.firmware.backend import Resources
from aa_trigger.firmware.parts import Part
from aa_trigger.firmware.rtl.verilog import TOP, RTLDesign

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
            res = _run([exe, flag], None, 60)
            out[tool] = (res.stdout or res.stderr).strip().splitlines()[0] if (res.stdout or res.stderr) else "?"
    return out


def build_verilator(folder: Path, timeout: int = 3600) -> Path:
    """Compile the Verilog and harness with Verilator; returns the simulator binary ``obj_dir/vsim``.

    The build runs in a temporary folder of plain ASCII name: Verilator's generated Makefile cannot
    handle spaces in paths, and the project folder may have them."""
    exe = shutil.which("verilator")
    if exe is None:
        raise AATriggerError(f"verilator not found; {INSTALL_HINT}")
    folder = Path(folder).resolve()
    with tempfile.TemporaryDirectory(prefix="aa_trigger-verilator-") as work:
        for name in (f"{TOP}.v", "harness.cpp"):
            shutil.copy(folder / name, Path(work) / name)
        cmd = [exe, "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "-Wno-WIDTH", "--x-assign", "fast",
               "--top-module", TOP, "--Mdir", "obj_dir", "-o", "vsim", f"{TOP}.v", "harness.cpp"]
        res = _run(cmd, Path(work), timeout)
        if res.returncode != 0:
            tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
            raise AATriggerError(f"Verilator build failed: {' | '.join(tail)}")
        (folder / "obj_dir").mkdir(exist_ok=True)
        return Path(shutil.copy2(Path(work) / "obj_dir" / "vsim", folder / "obj_dir" / "vsim"))


def _run(cmd: list[str], cwd: Path | None, timeout: float) -> subprocess.CompletedProcess:
    """A tool run whose output is decoded as UTF-8 whatever the locale (paths may be non-ASCII)."""
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, encoding="utf-8", errors="replace",
                          timeout=timeout)


def simulate(folder: Path, design: RTLDesign, x_int: np.ndarray, timeout: int = 3600) -> tuple[np.ndarray, float]:
    """Run the Verilator simulation on integer inputs; returns (scores as floats, events/s)."""
    folder = Path(folder).resolve()
    vsim = folder / "obj_dir" / "vsim"
    if not vsim.is_file():
        vsim = build_verilator(folder)
    inp, outp = folder / "sim_inputs.bin", folder / "sim_scores.bin"
    np.ascontiguousarray(x_int, dtype=np.int32).tofile(inp)
    t = time.perf_counter()
    res = _run([str(vsim.resolve()), str(inp), str(outp)], None, timeout)
    dt = time.perf_counter() - t
    inp.unlink(missing_ok=True)
    if res.returncode != 0 or not outp.is_file():
        raise AATriggerError(f"Verilator simulation failed (exit {res.returncode}): {res.stderr.strip()[-200:]}")
    out = np.fromfile(outp, dtype=np.int64)
    outp.unlink()
    if len(out) != len(x_int):
        raise AATriggerError(f"Verilator simulation returned {len(out)} scores for {len(x_int)} events")
    return out.astype(np.float64) * 2.0**-design.output_frac, len(x_int) / dt


def yosys_estimate(folder: Path, part: Part, timeout: int = 7200) -> Resources:
    """LUT/FF/CARRY/DSP counts from ``yosys synth_xilinx`` (an open-source estimate, not Vivado)."""
    exe = shutil.which("yosys")
    if exe is None:
        raise AATriggerError(f"yosys not found; {INSTALL_HINT}")
    # out of context (no I/O buffers, as the design sits inside a trigger board's firmware); no wide-LUT
    # muxes (yosys 0.23's ABC maps the adder compressors into LUT6+MUXF7..9 at about twice the LUTs);
    # ltp over everything but the flip-flops: the deepest combinational path between registers.
    script = (f"read_verilog {TOP}.v; synth_xilinx -family {part.family} -flatten -noiopad -noclkbuf -nowidelut "
              f"-top {TOP}; tee -q -o ltp.txt ltp -noff * t:FD* %d; stat")
    t = time.perf_counter()
    folder = Path(folder).resolve()
    res = _run([exe, "-q", "-p", script, "-l", "yosys.log"], folder, timeout)
    if res.returncode != 0:
        raise AATriggerError(f"yosys failed: {(res.stderr or res.stdout).strip().splitlines()[-1:]}")
    log = (folder / "yosys.log").read_text(encoding="utf-8", errors="replace")
    stat = log[log.rfind("Printing statistics"):]
    cells = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(\S+)\s+(\d+)\s*$", stat, re.M)}
    counts = {"LUT": sum(v for k, v in cells.items() if re.fullmatch(r"LUT\d", k)),
              "FF": sum(v for k, v in cells.items() if re.fullmatch(r"FD[A-Z]*", k)),
              "DSP": sum(v for k, v in cells.items() if k.startswith("DSP")),
              "CARRY": sum(v for k, v in cells.items() if k.startswith("CARRY"))}
    m = re.search(r"length=(\d+)", (folder / "ltp.txt").read_text()) if (folder / "ltp.txt").is_file() else None
    how = (f"yosys synth_xilinx -family {part.family} -flatten -noiopad -nowidelut, out of context (open-source "
           "synthesis, no place and route: an estimate, not Vivado's numbers); logic depth = most cells (LUTs, "
           "carry blocks) on a path between registers")
    percent = {k: 100.0 * counts[k] / total for k, total in part.totals().items()}
    return Resources(counts, percent, how, time.perf_counter() - t, int(m.group(1)) if m else None)
