"""hls4ml conversion of the deployable graph, configured for bit-exactness, and its C simulation.

Configuration (see ../shared/notes/conversion-facts.md for why each choice matters):

* ``granularity='name'``; every Dense keeps ``accum``/``result`` at 'auto' (exact widths),
  except the latent mean, whose result type is the latent quantiser's
  ``fixed<W,I,RND_CONV,SAT>`` (hls4ml would otherwise merge the linear QActivation away);
* the input layer carries the real input type (the hardware scaling's ``ap_fixed``);
* quantised ReLUs map to ``ufixed<W,I,RND_CONV,SAT>``;
* the ``Dot`` computing sum mu^2 gets an explicit accumulator and result type wide enough
  never to wrap (exact by construction).
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aa_trigger.deploy import FixedGraph
from aa_trigger.errors import AATriggerError

PARTS = {
    "xcvu9p": "xcvu9p-flga2104-2L-e",
    "xcvu13p": "xcvu13p-flga2577-2-e",
    "xc7vx690t": "xc7vx690tffg1927-2",
    "xcku15p": "xcku15p-ffva1760-2-e",
    "xcu250": "xcu250-figd2104-2L-e",
}
BACKENDS = {"vitis": "Vitis", "vivado": "Vivado"}
STRATEGIES = ("Latency", "Resource")
IO_TYPES = ("io_parallel", "io_stream")
PROJECT = "aa_trigger_score"


def resolve_part(part: str) -> str:
    """Short name (``xcvu9p``) or full part string -> full part string."""
    p = part.strip().lower()
    if p in PARTS:
        return PARTS[p]
    for full in PARTS.values():
        if p == full.lower():
            return full
    known = ", ".join(f"{k} ({v})" for k, v in PARTS.items())
    raise AATriggerError(f"unknown part {part!r}; known parts: {known}")


def resolve_backend(backend: str) -> str:
    b = backend.strip().lower()
    if b not in BACKENDS:
        raise AATriggerError(f"unknown back end {backend!r}; choose one of {', '.join(BACKENDS.values())}")
    return BACKENDS[b]


@dataclass
class HLSSettings:
    part: str
    backend: str = "Vitis"
    clock_mhz: float = 200.0
    reuse_factor: int = 1
    strategy: str = "Latency"
    io_type: str = "io_parallel"


def score_type(graph: FixedGraph) -> str:
    """The explicit output type of the sum-mu^2 score: exact for every possible latent value."""
    lat = graph.layers[-1].out_type
    assert lat is not None
    frac = 2 * lat.frac
    max_sq = (1 << (lat.width - 1)) ** 2  # (-2^(W-1))^2, the largest square
    int_bits = int(np.ceil(np.log2(max_sq * len(graph.layers[-1].bias) + 1))) - frac + 1
    return f"fixed<{int_bits + frac},{int_bits}>"


def hls_config(model: Any, graph: FixedGraph, settings: HLSSettings) -> dict[str, Any]:
    """The hls4ml configuration dictionary that makes the conversion bit-exact."""
    import hls4ml

    with contextlib.redirect_stdout(io.StringIO()):
        config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend=settings.backend)
    config["Model"]["Strategy"] = settings.strategy
    config["Model"]["ReuseFactor"] = settings.reuse_factor
    layers = config["LayerName"]
    layers["inputs"]["Precision"] = {"result": graph.input_type.hls()}
    for spec in graph.layers:
        if spec.activation == "quant":
            layers[spec.name]["Precision"]["result"] = spec.out_type.hls("RND_CONV", "SAT")
    if graph.score == "mu2":
        t = score_type(graph)
        layers["score_mu2"] = {"Precision": {"accum": t, "result": t}, "Trace": False}
    for name in layers:
        layers[name]["Trace"] = True
    return config


def convert(model: Any, graph: FixedGraph, settings: HLSSettings, output_dir: Path,
            x_tb: np.ndarray, y_tb: np.ndarray) -> Any:
    """Write and compile the hls4ml project in ``output_dir``; returns the compiled hls4ml model.

    ``tb_data/`` receives the test-bench events (``x_tb``) and the expected scores (``y_tb``)
    at full precision, and the testbench is patched to log its results at full precision.
    """
    import hls4ml

    config = hls_config(model, graph, settings)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            hls_model = hls4ml.converters.convert_from_keras_model(
                model, hls_config=config, output_dir=str(output_dir), project_name=PROJECT,
                backend=settings.backend, part=settings.part, clock_period=1000.0 / settings.clock_mhz,
                io_type=settings.io_type)
    except Exception as exc:  # hls4ml raises bare Exceptions for unsupported layers
        raise AATriggerError(f"hls4ml cannot convert the model: {str(exc).splitlines()[0]}") from None
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            hls_model.compile()  # writes the project, then builds the emulation library
        except Exception as exc:
            raise AATriggerError(f"compiling the hls4ml C++ emulation failed: {str(exc).splitlines()[0]}") from None
    write_tb_data(Path(output_dir), x_tb, y_tb)
    _patch_testbench_precision(Path(output_dir))
    return hls_model


def write_tb_data(project: Path, x: np.ndarray, y: np.ndarray) -> None:
    """Test-bench inputs and expected outputs, one event per line, shortest exact decimal form."""
    tb = project / "tb_data"
    tb.mkdir(exist_ok=True)
    for name, arr in (("tb_input_features.dat", x), ("tb_output_predictions.dat", y)):
        arr = np.asarray(arr, np.float64).reshape(len(arr), -1)
        (tb / name).write_text("".join(" ".join(repr(float(v)) for v in row) + " \n" for row in arr))


def _patch_testbench_precision(project: Path) -> None:
    """The generated testbench logs results with 6 significant digits; raise it to full precision."""
    tb = project / f"{PROJECT}_test.cpp"
    text = tb.read_text()
    marker = "std::ofstream fout(RESULTS_LOG);"
    if marker not in text:
        raise AATriggerError(f"{tb}: unexpected testbench layout (no '{marker}')")
    if "fout.precision(30);" not in text:
        tb.write_text(text.replace(marker, marker + "\n    fout.precision(30);", 1))


def predict(hls_model: Any, x: np.ndarray) -> np.ndarray:
    """hls4ml's C++ emulation (float64 in and out, so wide outputs keep every bit)."""
    with contextlib.redirect_stdout(io.StringIO()):
        y = hls_model.predict(np.ascontiguousarray(x, dtype=np.float64))
    return np.asarray(y, np.float64).reshape(len(x), -1)[:, 0]


def trace(hls_model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """Per-layer outputs of the C++ emulation (for locating a divergence)."""
    with contextlib.redirect_stdout(io.StringIO()):
        _, tr = hls_model.trace(np.ascontiguousarray(x, dtype=np.float64))
    return {k: np.asarray(v, np.float64).reshape(len(x), -1) for k, v in tr.items()}


def csim(project: Path, timeout: int = 1800) -> np.ndarray:
    """Build and run the generated testbench with g++ (stand-in for HLS C simulation).

    Reads ``tb_data/tb_input_features.dat`` and returns the full-precision results logged to
    ``tb_data/csim_results.log``.
    """
    project = Path(project)
    if not (project / "tb_data" / "tb_input_features.dat").is_file():
        raise AATriggerError(f"{project}: no tb_data/tb_input_features.dat; not a converted project")
    cmd = ["g++", "-O2", "-std=c++14", "-Ifirmware", "-Ifirmware/ap_types",
           "-DWEIGHTS_DIR=\"firmware/weights\"", f"{PROJECT}_test.cpp", f"firmware/{PROJECT}.cpp", "-o", "csim"]
    try:
        build = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise AATriggerError("g++ not found; install it (e.g. apt-get install g++) to run the C simulation") from None
    if build.returncode != 0:
        raise AATriggerError(f"C simulation build failed: {build.stderr.strip().splitlines()[-1:]}")
    log = project / "tb_data" / "csim_results.log"
    log.unlink(missing_ok=True)
    run = subprocess.run(["./csim"], cwd=project, capture_output=True, text=True, timeout=timeout)
    (project / "csim").unlink(missing_ok=True)
    if run.returncode != 0 or not log.is_file():
        raise AATriggerError(f"C simulation failed (exit {run.returncode}): {run.stdout[-200:]}")
    return np.loadtxt(log, dtype=np.float64, ndmin=2)[:, 0]


def vendor_commands(backend: str) -> list[str]:
    if backend == "Vitis":
        return ["vitis-run --mode hls --tcl build_prj.tcl   # options (csim, synth, cosim, export) in build_opt.tcl"]
    return ['vivado_hls -f build_prj.tcl "csim=1 synth=1 cosim=0 export=1 vsynth=0"']


def hls_type_of(hls_model: Any, layer: str) -> str:
    """The C++ result type hls4ml chose for a layer (for the report)."""
    node = hls_model.graph.get(layer)
    if node is None:
        return "?"
    t = node.get_output_variable().type.precision
    return re.sub(r"\s+", "", str(t.definition_cpp() if hasattr(t, "definition_cpp") else t))
