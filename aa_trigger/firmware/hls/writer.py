"""hls4ml projects of the deployable graph, configured for bit-exactness.

Configuration (see ../shared/notes/conversion-facts.md for why each choice matters):

* ``granularity='name'``; every Dense keeps ``accum``/``result`` at 'auto' (exact widths), except
  a quantised linear output (the latent mean), whose result type is its quantiser's
  ``fixed<W,I,RND_CONV,SAT>`` (hls4ml would otherwise merge the linear QActivation away);
* the input layer carries the real input type (the preprocessing's ``ap_fixed``);
* quantised ReLUs map to ``ufixed<W,I,RND_CONV,SAT>`` by hls4ml itself;
* the sum of squares (a ``Dot`` layer) gets an explicit accumulator and result type wide enough
  never to wrap (exact by construction); element-wise squares (a ``Multiply`` layer) get the exact
  type of their value interval.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aa_trigger.errors import AATriggerError
from aa_trigger.firmware.graph import Dense, FixedGraph, Squares, SumSquares, exact_type, intervals, score_type

STRATEGIES = ("Latency", "Resource", "distributed_arithmetic")  # the last: da4ml's CMVM per dense layer
IO_TYPES = ("io_parallel", "io_stream")
PROJECT = "aa_trigger_score"


@dataclass
class HLSSettings:
    part: str  # full part string
    backend: str  # hls4ml back end: "Vitis" or "Vivado"
    clock_mhz: float
    reuse_factor: int
    strategy: str
    io_type: str


def hls_config(model: Any, graph: FixedGraph, settings: HLSSettings) -> dict[str, Any]:
    """The hls4ml configuration dictionary that makes the conversion bit-exact."""
    import hls4ml

    with contextlib.redirect_stdout(io.StringIO()):
        config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend=settings.backend)
    config["Model"]["Strategy"] = settings.strategy
    config["Model"]["ReuseFactor"] = settings.reuse_factor
    layers = config["LayerName"]
    layers[graph.input_name]["Precision"] = {"result": graph.input_type.hls()}
    wide = False
    for node in graph.nodes:
        if isinstance(node, Dense) and wide:  # a plain Keras Dense: every type given explicitly
            lo, hi, frac = intervals(graph)[graph.nodes.index(node)]
            exact = exact_type(lo, hi, frac).hls()
            layers[node.name]["Precision"] = {"weight": node.kernel_q.fixed().hls(False),
                                              "bias": node.bias_q.fixed().hls(False), "accum": exact, "result": exact}
            if node.name + "_linear" in layers:  # its linear activation would take the default precision
                layers[node.name + "_linear"]["Precision"]["result"] = exact
        elif isinstance(node, Dense) and not node.relu and node.out_type is not None:
            layers[node.name]["Precision"]["result"] = node.out_type.hls()
        elif isinstance(node, SumSquares):
            t = score_type(graph).hls()
            layers[node.name] = {"Precision": {"accum": t, "result": t}}
        elif isinstance(node, Squares):
            lo, hi, frac = intervals(graph)[graph.nodes.index(node)]
            layers[node.name] = {"Precision": {"result": exact_type(lo, hi, frac).hls()}}
            wide = True
    for name in layers:
        layers[name]["Trace"] = True
    return config


def write_project(model: Any, graph: FixedGraph, settings: HLSSettings, folder: Path,
                  x_tb: np.ndarray, y_tb: np.ndarray) -> Any:
    """Write and compile the hls4ml project in ``folder``; returns the compiled hls4ml model.

    ``tb_data/`` receives the test-bench events (``x_tb``) and the expected scores (``y_tb``) at
    full precision, and the testbench is patched to log its results at full precision."""
    import hls4ml

    config = hls_config(model, graph, settings)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            hls_model = hls4ml.converters.convert_from_keras_model(
                model, hls_config=config, output_dir=str(folder), project_name=PROJECT,
                backend=settings.backend, part=settings.part, clock_period=1000.0 / settings.clock_mhz,
                io_type=settings.io_type)
    except Exception as exc:  # hls4ml raises bare Exceptions for unsupported layers
        raise AATriggerError(f"hls4ml cannot convert the model: {str(exc).splitlines()[0]}") from None
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            hls_model.compile()  # writes the project, then builds the emulation library
        except Exception as exc:
            raise AATriggerError(f"compiling the hls4ml C++ emulation failed: {str(exc).splitlines()[0]}") from None
    write_tb_data(Path(folder), x_tb, y_tb)
    _patch_testbench_precision(Path(folder))
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


def vendor_commands(backend: str) -> list[str]:
    if backend == "Vitis":
        return ["vitis-run --mode hls --tcl build_prj.tcl   # options (csim, synth, cosim, export) in build_opt.tcl"]
    return ['vivado_hls -f build_prj.tcl "csim=1 synth=1 cosim=0 export=1 vsynth=0"']
