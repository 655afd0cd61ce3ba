"""The HLS back end: an hls4ml project (Vitis or Vivado HLS), its C++ emulation and C simulation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aa_trigger.firmware import emulator
from aa_trigger.firmware.backend import Backend, Description, Emulation, Events, Latency, Progress
from aa_trigger.firmware.graph import FixedGraph
from aa_trigger.firmware.hls import scaling, writer
from aa_trigger.firmware.hls.csim import csim

FOLDER = "hls4ml_prj"


class HLSBackend(Backend):
    """hls4ml project in ``hls4ml_prj/``: ``predict()`` on the sample events, g++ C simulation on the
    test bench."""

    folder = FOLDER

    def __init__(self, settings: writer.HLSSettings, n_predict: int, run_csim: bool = True) -> None:
        self.settings = settings
        self.name = settings.backend.lower()
        self.n_predict = n_predict
        self.run_csim = run_csim
        self._model: Any = None

    def check(self) -> None:
        import shutil

        from aa_trigger.errors import AATriggerError

        if shutil.which("g++") is None:
            raise AATriggerError("g++ not found; hls4ml compiles its C++ emulation with it (apt-get install g++)")

    def write(self, graph: FixedGraph, root: Path, events: Events, progress: Progress) -> None:
        from aa_trigger.firmware.keras_model import keras_model

        progress(f"writing and compiling the hls4ml project ({events.n_tb} test-bench events)")
        tb = events.tb
        net, x_tb = emulator.network_inputs(graph, events.x_int[tb])  # hls4ml's model starts after the scaling
        frac = net.input_type.frac
        self._model = writer.write_project(keras_model(net), net, self.settings, root / FOLDER,
                                           x_tb * 2.0**-frac, events.expected[tb])
        if net is not graph:  # raw inputs: the scaling top in front of the hls4ml top, with its own test bench
            scaling.write_raw_top(root / FOLDER, writer.PROJECT, graph)
            scaling.write_raw_tb(root / FOLDER, events.x_int[tb])

    def emulate(self, graph: FixedGraph, root: Path, events: Events, progress: Progress) -> list[Emulation]:
        sample = events.sample[: self.n_predict]
        progress(f"hls4ml predict() on {len(sample)} events")
        net, x = emulator.network_inputs(graph, events.x_int[sample])
        out = [Emulation("hls4ml_predict", sample, writer.predict(self._model, x * 2.0**-net.input_type.frac))]
        if self.run_csim:
            progress("C simulation of the generated testbench with g++")
            out.append(Emulation("csim", events.tb, csim(root / FOLDER)))
            if net is not graph:
                progress("C simulation of the raw-input top (input scaling + network) with g++")
                out.append(Emulation("csim_raw", events.tb, scaling.csim_raw(root / FOLDER, writer.PROJECT)))
        return out

    def diagnose(self, graph: FixedGraph, events: Events, bad: np.ndarray) -> dict[str, Any] | None:
        """The first node whose hls4ml trace differs from the numpy emulator's."""
        idx = bad[:20]
        graph, x = emulator.network_inputs(graph, events.x_int[idx])
        tr = writer.trace(self._model, x * 2.0**-graph.input_type.frac)
        _, ours = emulator.run_graph(graph, x, trace=True)
        for node in graph.nodes:
            if node.name not in tr:
                continue
            mine = ours[node.name].to_float()
            diff = np.flatnonzero(np.any(tr[node.name] != mine, axis=1))
            if len(diff):
                i = diff[0]
                return {"layer": node.name, "event": int(idx[i]), "hls4ml": tr[node.name][i].tolist(),
                        "numpy": mine[i].tolist()}
        return {"layer": "score", "note": "all traced layers agree; the final score step differs"}

    def describe(self, graph: FixedGraph, root: Path, final: Path, progress: Progress) -> Description:
        s = self.settings
        latency = Latency(s.clock_mhz, None, None,
                          "not computed: hls4ml 1.3 has no latency/resource estimator that works without Vitis/Vivado "
                          "HLS. Run the synthesis command in README.md; the csynth report gives cycles, II and "
                          "LUT/FF/DSP.")
        cmds = "\n    ".join(writer.vendor_commands(s.backend))
        readme = f"""## {FOLDER}/: hls4ml project ({s.backend}, {s.io_type}, {s.strategy}, reuse factor {s.reuse_factor})

`hls4ml_config.yml` is the resolved configuration; `tb_data/` holds real test events and the
expected scores. C simulation, synthesis and export with vendor tools (from `{FOLDER}/`):

    {cmds}

C simulation without vendor tools (g++ only): `python -m aa_trigger.emulate {final}`
"""
        details = {"hls4ml_backend": s.backend, "io_type": s.io_type, "strategy": s.strategy,
                   "reuse_factor": s.reuse_factor}
        return Description(self.name, FOLDER, latency, None, details, readme)

    def cleanup(self, root: Path, final: Path) -> None:
        yml = root / FOLDER / "hls4ml_config.yml"
        if yml.is_file():  # record the final location, not the temporary one
            yml.write_text(yml.read_text().replace(str(root), str(final)))
