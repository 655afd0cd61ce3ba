"""The CMSSW back end: the emulator library source tree in ``cmssw/``, built and checked bit for bit
through ``dlopen`` (a C++ driver using the ``hls4mlEmulator::Model`` interface) and ``ctypes`` on every
event; the built binaries are removed, the sources stay."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from aa_trigger.errors import AATriggerError
from aa_trigger.firmware.backend import Backend, Description, Emulation, Events, Latency, Progress
from aa_trigger.firmware.cmssw import project
from aa_trigger.firmware.cmssw.source import library_name, library_source
from aa_trigger.firmware.graph import FixedGraph, score_type

FOLDER = "cmssw"


class CMSSWBackend(Backend):
    """``<name>_v<version>``: the library CMSSW's ``hls4mlEmulator::ModelLoader`` opens by that name."""

    name = "cmssw"
    folder = FOLDER

    def __init__(self, model_name: str, version: int, clock_mhz: float) -> None:
        self.model_name = model_name
        self.version = version
        self.clock_mhz = clock_mhz
        self.lib = ""

    def check(self) -> None:
        for tool in ("g++", "make"):
            if shutil.which(tool) is None:
                raise AATriggerError(f"--backend cmssw: {tool} not found; install g++ and make")
        if self.model_name:
            library_name(self.model_name, self.version)

    def write(self, graph: FixedGraph, root: Path, events: Events, progress: Progress) -> None:
        self.lib = library_name(self.model_name or f"aat_{graph.score}", self.version)
        folder = root / FOLDER
        project.write_project(folder, self.lib, library_source(graph, self.lib))
        project.write_testbench(folder, events.x_int[events.tb], events.expected_int[events.tb])
        progress(f"CMSSW: building {self.lib}.so with g++ against the interface header in {FOLDER}/check/")
        project.build(folder, self.lib)

    def emulate(self, graph: FixedGraph, root: Path, events: Events, progress: Progress) -> list[Emulation]:
        folder = root / FOLDER
        frac = score_type(graph).frac
        progress(f"CMSSW: scoring {len(events.x_int)} events through dlopen and ctypes")
        every = np.arange(len(events.x_int))
        via_dlopen = project.score_dlopen(folder, self.lib, events.x_int) * 2.0 ** -frac
        via_ctypes = project.score_ctypes(folder / f"{self.lib}.so", self.lib, events.x_int) * 2.0 ** -frac
        return [Emulation("cmssw_dlopen", every, via_dlopen), Emulation("cmssw_ctypes", every, via_ctypes)]

    def describe(self, graph: FixedGraph, root: Path, final: Path, progress: Progress) -> Description:
        latency = Latency(self.clock_mhz, None, None, "CMSSW emulator library: software, no latency")
        t, st = graph.input_type, score_type(graph)
        details = {"library": f"{self.lib}.so", "namespace": self.lib, "input_type": t.hls(),
                   "input_frac_bits": t.frac, "score_type": st.hls(False), "score_frac_bits": st.frac}
        return Description(self.name, FOLDER, latency, None, details, self._readme(graph, final))

    def _readme(self, graph: FixedGraph, final: Path) -> str:
        t, st = graph.input_type, score_type(graph)
        return f"""## {FOLDER}/: the CMSSW emulator library `{self.lib}`

- `src/{self.lib}.cc`: class `{self.lib}::Model` derived from `hls4mlEmulator::Model`, with the
  `extern "C"` factories `create_model` / `destroy_model`. It computes the firmware's score bit for bit in
  64-bit integers. `Makefile`: `make HLS4ML_EMULATOR_EXTRAS=<prefix of hls4mlEmulatorExtras>` builds
  `{self.lib}.so` (default: `check/`, a minimal interface header for the check).
- Input (`prepare_input`): the {graph.n_features} firmware input integers of one event, `{t.hls()}` in units of
  2^-{t.frac}, as `std::vector<int32_t>` / `std::vector<int64_t>` or a pointer to them.
- Output (`read_result`): `int64_t*` receives the score integer (units of 2^-{st.frac}; `{st.hls(False)}`),
  the value the menu threshold compares: the trigger fires when `score > threshold`, with the integer
  thresholds of `report.json` (`thresholds[].integer`). `double*` receives its value.
- In CMSSW: install `{self.lib}.so` where the L1 trigger emulator's model loader finds it (the
  library path of the release, e.g. via an external `.xml` tool file, as the AXOL1TL `GTADModel_vN`
  libraries are), and load it with `hls4mlEmulator::ModelLoader loader("{self.lib}"); auto model =
  loader.load_model();`. Two versions (`_v1`, `_v2`) load side by side: their file, namespace and
  symbols differ.
- Check: `make check/driver` builds a driver that loads the library with `dlopen` as `ModelLoader` does;
  `check/tb_inputs.txt` / `check/tb_expected.txt` hold test events and their exact score integers;
  `python -m aa_trigger.emulate {final}` rebuilds both and compares them with these and the numpy model.
"""

    def cleanup(self, root: Path, final: Path) -> None:
        project.remove_builds(root / FOLDER, self.lib)
