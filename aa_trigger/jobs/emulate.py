"""The emulate job: re-simulate a converted project's test benches and compare them exactly with the
scores stored at conversion and with the numpy emulator of the run's graph."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from aa_trigger import jsonio, runfolder
from aa_trigger.errors import AATriggerError
from aa_trigger.firmware import emulator
from aa_trigger.firmware.compare import Comparison, compare
from aa_trigger.firmware.graph import FixedGraph, build_graph, split_scaling

Progress = Callable[[str], None]
READABLE_FORMATS = (1, 2)


@dataclass
class ProjectMeta:
    """What ``conversion.json`` says (format 1: written before the back-end redesign)."""

    run: Path
    score: str
    input_frac_bits: int
    hls_folder: str | None
    raw_input: bool = False  # the firmware scales the raw object integers itself


def read_meta(project: Path) -> ProjectMeta:
    path = project / "conversion.json"
    if not path.is_file():
        raise AATriggerError(f"{project}: not an aa_trigger firmware project (no conversion.json)")
    d = jsonio.read_json(path)
    fmt = jsonio.field(d, "format", int, path) if isinstance(d, dict) and "format" in d else 1
    if fmt not in READABLE_FORMATS:
        raise AATriggerError(f"{path}: project format {fmt}; this aa_trigger reads formats "
                             f"{', '.join(map(str, READABLE_FORMATS))}")
    if fmt == 1:
        hls_folder = jsonio.field(d, "project", str, path)
    else:
        folders = jsonio.field(d, "folders", dict, path)
        hls_folder = next((v for k, v in folders.items() if k in ("vitis", "vivado")), None)
    options = d.get("options") if fmt > 1 and isinstance(d.get("options"), dict) else {}
    raw = options.get("raw_input", False)
    if not isinstance(raw, bool):
        raise AATriggerError(f"{path}: options.raw_input is not true or false")
    return ProjectMeta(Path(jsonio.field(d, "run", str, path)), jsonio.field(d, "score", str, path),
                       jsonio.field(d, "input_frac_bits", int, path), hls_folder, raw)


def _graph(meta: ProjectMeta) -> FixedGraph | None:
    """The run's graph, when the run folder is still there."""
    if not meta.run.is_dir():
        return None
    run = runfolder.load_run(meta.run)
    graph = build_graph(run.aa, run.scaler.input_type, meta.score)
    if meta.raw_input:
        from aa_trigger.firmware.graph import with_scaling

        graph = with_scaling(graph, run.scaler.offset, run.scaler.shift)
    return graph


def _csim(prj: Path, meta: ProjectMeta, graph: FixedGraph | None, progress: Progress) -> list[Comparison]:
    from aa_trigger.firmware.hls import scaling
    from aa_trigger.firmware.hls.csim import csim
    from aa_trigger.firmware.hls.writer import PROJECT

    try:
        x = np.loadtxt(prj / "tb_data" / "tb_input_features.dat", ndmin=2)
        expected = np.loadtxt(prj / "tb_data" / "tb_output_predictions.dat", ndmin=2)[:, 0]
    except (OSError, ValueError) as exc:
        raise AATriggerError(f"{prj}/tb_data: unreadable test-bench data ({str(exc).splitlines()[0]})") from None
    _check_tb(prj / "tb_data", x, expected, meta.input_frac_bits)
    progress(f"C simulation of {prj} ({len(x)} events) ...")
    cs = csim(prj)
    checks = [compare("expected", expected, "csim", cs)]
    net = split_scaling(graph)[1] if graph is not None else None  # the hls4ml top takes the scaled inputs
    if net is not None:
        x_int = np.round(x * 2**net.input_type.frac).astype(np.int64)
        checks.append(compare("numpy", emulator.score(net, x_int), "csim", cs))
    if (prj / scaling.TB_RAW).is_file():
        raw = np.loadtxt(prj / scaling.TB_RAW, dtype=np.int64, ndmin=2)
        if len(raw) != len(expected):
            raise AATriggerError(f"{prj / scaling.TB_RAW}: {len(raw)} events but {len(expected)} expected scores")
        progress(f"C simulation of the raw-input top of {prj} ({len(raw)} events) ...")
        cr = scaling.csim_raw(prj, PROJECT)
        checks.append(compare("expected", expected, "csim_raw", cr))
        if graph is not None:
            checks.append(compare("numpy", emulator.score(graph, raw), "csim_raw", cr))
    return checks


def _check_tb(where: Path, x: np.ndarray, expected: np.ndarray, frac: int) -> None:
    """Test-bench data are input, not firmware output: NaN/Inf or off-grid values are bad input."""
    for name, arr in (("tb_input_features.dat", x), ("tb_output_predictions.dat", expected)):
        bad = np.flatnonzero(~np.isfinite(arr).reshape(len(arr), -1).all(axis=1))
        if len(bad):
            raise AATriggerError(f"{where / name}: NaN or Inf in event {int(bad[0])} ({len(bad)} events)")
    if len(expected) != len(x):
        raise AATriggerError(f"{where}: {len(x)} test-bench events but {len(expected)} expected scores")
    scaled = x * 2.0**frac
    off = np.flatnonzero(~(scaled == np.round(scaled)).all(axis=1))
    if len(off):
        raise AATriggerError(f"{where / 'tb_input_features.dat'}: event {int(off[0])} is not on the input grid "
                             f"(multiples of 2^-{frac})")


def _rtl(rtl_dir: Path, graph: FixedGraph | None, progress: Progress) -> list[Comparison]:
    from aa_trigger.firmware.rtl import project, tools

    tools.require_tools()
    design = project.load_design(rtl_dir)
    x, expected = project.read_testbench(rtl_dir, design)
    progress(f"Verilator simulation of {rtl_dir} ({len(x)} events) ...")
    try:
        sim, _ = tools.simulate(rtl_dir, design, x)
    finally:
        shutil.rmtree(rtl_dir / "obj_dir", ignore_errors=True)
    checks = [compare("expected", expected * 2.0**-design.output_frac, "verilator_rtl", sim)]
    if graph is not None:
        checks.append(compare("numpy", emulator.score(graph, x), "verilator_rtl", sim))
    return checks


def _cmssw(folder: Path, graph: FixedGraph | None, progress: Progress) -> list[Comparison]:
    from aa_trigger.firmware.cmssw import project
    from aa_trigger.firmware.graph import score_type

    lib = project.library_of(folder)
    x, expected = project.read_testbench(folder)
    progress(f"CMSSW emulator library {lib}: build and score {len(x)} events through dlopen and ctypes ...")
    try:
        so = project.build(folder, lib)
        via_dlopen = project.score_dlopen(folder, lib, x)
        via_ctypes = project.score_ctypes(so, lib, x)
    finally:
        project.remove_builds(folder, lib)
    checks = [compare("expected", expected, "cmssw_dlopen", via_dlopen),
              compare("expected", expected, "cmssw_ctypes", via_ctypes)]
    if graph is not None:
        frac = score_type(graph).frac
        checks.append(compare("numpy", emulator.score(graph, x), "cmssw_dlopen", via_dlopen * 2.0**-frac))
    return checks


def emulate_project(project: Path, run_csim: bool = True, run_rtl: bool = True,
                    progress: Progress = lambda m: None, run: Path | None = None) -> list[Comparison]:
    """Every comparison the project's test benches allow; at least one, or an error. ``run``: the run folder
    to build the numpy model from (default: the one recorded at conversion)."""
    from dataclasses import replace

    project = Path(project)
    meta = read_meta(project)
    if run is not None:
        meta = replace(meta, run=Path(run))
    graph = _graph(meta)
    checks: list[Comparison] = []
    if run_csim and meta.hls_folder and (project / meta.hls_folder).is_dir():
        checks += _csim(project / meta.hls_folder, meta, graph, progress)
    if run_rtl and (project / "rtl" / "design.json").is_file():
        checks += _rtl(project / "rtl", graph, progress)
    if (project / "cmssw" / "Makefile").is_file():
        checks += _cmssw(project / "cmssw", graph, progress)
    if not checks:
        raise AATriggerError("nothing to simulate (no HLS project or --no-csim, and no rtl/ folder or --no-rtl)")
    return checks
