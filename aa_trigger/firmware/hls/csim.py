"""C simulation of a generated hls4ml testbench with g++ (the stand-in for Vitis/Vivado HLS csim)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from aa_trigger.errors import AATriggerError
from aa_trigger.firmware.hls.writer import PROJECT


def csim(project: Path, timeout: int = 1800) -> np.ndarray:
    """Build and run the testbench on ``tb_data/tb_input_features.dat``; returns the full-precision
    results it logs to ``tb_data/csim_results.log``."""
    project = Path(project)
    if not (project / "tb_data" / "tb_input_features.dat").is_file():
        raise AATriggerError(f"{project}: no tb_data/tb_input_features.dat; not a converted project")
    cmd = ["g++", "-O2", "-std=c++14", "-Ifirmware", "-Ifirmware/ap_types",
           "-DWEIGHTS_DIR=\"firmware/weights\"", f"{PROJECT}_test.cpp", f"firmware/{PROJECT}.cpp", "-o", "csim"]
    try:
        build = subprocess.run(cmd, cwd=project, capture_output=True, text=True, encoding="utf-8", errors="replace",
                               timeout=timeout)
    except FileNotFoundError:
        raise AATriggerError("g++ not found; install it (e.g. apt-get install g++) to run the C simulation") from None
    if build.returncode != 0:
        errors = [ln for ln in build.stderr.splitlines() if "error" in ln] or build.stderr.strip().splitlines()
        raise AATriggerError(f"C simulation build failed: {errors[0] if errors else 'no output'}")
    log = project / "tb_data" / "csim_results.log"
    log.unlink(missing_ok=True)
    run = subprocess.run(["./csim"], cwd=project, capture_output=True, text=True, encoding="utf-8", errors="replace",
                         timeout=timeout)
    (project / "csim").unlink(missing_ok=True)
    if run.returncode != 0 or not log.is_file():
        raise AATriggerError(f"C simulation failed (exit {run.returncode}): {run.stdout[-200:]}")
    return np.loadtxt(log, dtype=np.float64, ndmin=2)[:, 0]
