"""The emulator library's source tree, its build with g++ and make, and its checks through ``dlopen``
(a C++ driver, as CMSSW's ``ModelLoader`` does) and Python ``ctypes``."""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import numpy as np

from aa_trigger.errors import AATriggerError

#: a minimal stand-in for the hls4mlEmulatorExtras header with the documented interface (three virtual
#: methods, two factory types), so the library builds and is checked where that package is not installed
INTERFACE_HEADER = """// Minimal stand-in for hls4mlEmulatorExtras' include/hls4ml/emulator.h (the documented interface
// only); build against the installed package with make HLS4ML_EMULATOR_EXTRAS=<its prefix>.
#ifndef AA_TRIGGER_HLS4ML_EMULATOR_INTERFACE_H
#define AA_TRIGGER_HLS4ML_EMULATOR_INTERFACE_H
#include <any>
namespace hls4mlEmulator {
class Model {
public:
    virtual void prepare_input(std::any input) = 0;
    virtual void predict() = 0;
    virtual void read_result(std::any result) = 0;
    virtual ~Model() = default;
};
typedef Model* create_model_cls();
typedef void destroy_model_cls(Model*);
}  // namespace hls4mlEmulator
#endif
"""

DRIVER = """// Loads <library>.so with dlopen as CMSSW's ModelLoader does, scores the events of a binary file of
// int64 inputs (n x N) through the hls4mlEmulator::Model interface and writes the int64 scores.
// usage: driver ./LIB.so N_INPUTS events.bin scores.bin
#include <dlfcn.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "hls4ml/emulator.h"

int main(int argc, char** argv) {
    if (argc != 5) { std::fprintf(stderr, "usage: %s LIB.so N_INPUTS events.bin scores.bin\\n", argv[0]); return 2; }
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { std::fprintf(stderr, "dlopen: %s\\n", dlerror()); return 3; }
    auto* create = reinterpret_cast<hls4mlEmulator::create_model_cls*>(dlsym(lib, "create_model"));
    auto* destroy = reinterpret_cast<hls4mlEmulator::destroy_model_cls*>(dlsym(lib, "destroy_model"));
    if (!create || !destroy) { std::fprintf(stderr, "dlsym: %s\\n", dlerror()); return 4; }
    const long n_in = std::atol(argv[2]);
    FILE* in = std::fopen(argv[3], "rb");
    FILE* out = std::fopen(argv[4], "wb");
    if (!in || !out) { std::fprintf(stderr, "cannot open the event files\\n"); return 5; }
    hls4mlEmulator::Model* model = create();
    std::vector<int64_t> x(n_in);
    while (std::fread(x.data(), sizeof(int64_t), n_in, in) == size_t(n_in)) {
        int64_t score = 0;
        model->prepare_input(x);
        model->predict();
        model->read_result(&score);
        std::fwrite(&score, sizeof(int64_t), 1, out);
    }
    destroy(model);
    std::fclose(in);
    std::fclose(out);
    dlclose(lib);
    return 0;
}
"""


def makefile(lib: str) -> str:
    return f"""# Builds {lib}.so, the emulator library CMSSW loads by name (hls4mlEmulator::ModelLoader("{lib}")).
# make HLS4ML_EMULATOR_EXTRAS=<prefix of an installed hls4mlEmulatorExtras, holding include/hls4ml/emulator.h>
# (default: check/, the minimal interface header shipped here for the bit-exact check)
HLS4ML_EMULATOR_EXTRAS ?= check
CXX ?= g++
CXXFLAGS ?= -O2 -std=c++17 -fPIC -Wall
LIB := {lib}.so

.PHONY: all clean check
all: $(LIB)

$(LIB): src/{lib}.cc
\t$(CXX) $(CXXFLAGS) -I$(HLS4ML_EMULATOR_EXTRAS)/include -shared $< -o $@

check/driver: check/driver.cc
\t$(CXX) -O2 -std=c++17 -I$(HLS4ML_EMULATOR_EXTRAS)/include $< -o $@ -ldl

clean:
\trm -f $(LIB) check/driver
"""


def write_project(folder: Path, lib: str, source: str) -> None:
    """``src/<lib>.cc``, ``Makefile`` and ``check/`` (interface header, dlopen driver)."""
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / f"{lib}.cc").write_text(source)
    (folder / "Makefile").write_text(makefile(lib))
    (folder / "check" / "include" / "hls4ml").mkdir(parents=True, exist_ok=True)
    (folder / "check" / "include" / "hls4ml" / "emulator.h").write_text(INTERFACE_HEADER)
    (folder / "check" / "driver.cc").write_text(DRIVER)


TB_INPUTS = "check/tb_inputs.txt"  # test-bench events: input integers, one event per line
TB_EXPECTED = "check/tb_expected.txt"  # their exact score integers


def write_testbench(folder: Path, x_int: np.ndarray, expected_int: np.ndarray) -> None:
    np.savetxt(folder / TB_INPUTS, np.asarray(x_int, np.int64), fmt="%d")
    np.savetxt(folder / TB_EXPECTED, np.asarray(expected_int, np.int64), fmt="%d")


def read_testbench(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The test-bench events and scores (integers), checked for shape and integer values."""
    try:
        x = np.loadtxt(folder / TB_INPUTS, dtype=np.int64, ndmin=2)
        expected = np.loadtxt(folder / TB_EXPECTED, dtype=np.int64, ndmin=1)
    except (OSError, ValueError) as exc:
        raise AATriggerError(f"{folder}/check: unreadable test-bench data ({str(exc).splitlines()[0]})") from None
    if len(x) != len(expected):
        raise AATriggerError(f"{folder}/check: {len(x)} test-bench events but {len(expected)} expected scores")
    return x, expected


def library_of(folder: Path) -> str:
    """The library name of a written project (its one source file)."""
    sources = sorted((folder / "src").glob("*.cc"))
    if len(sources) != 1:
        raise AATriggerError(f"{folder}/src: expected one library source, found {len(sources)}")
    return sources[0].stem


def remove_builds(folder: Path, lib: str) -> None:
    (folder / f"{lib}.so").unlink(missing_ok=True)
    (folder / "check" / "driver").unlink(missing_ok=True)


def _make(folder: Path, target: str, extras: str = "", timeout: int = 900) -> None:
    cmd = ["make", "-s", target] + ([f"HLS4ML_EMULATOR_EXTRAS={extras}"] if extras else [])
    try:
        res = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise AATriggerError("make not found; install make and g++ to build the emulator library") from None
    if res.returncode != 0:
        errors = [ln for ln in res.stderr.splitlines() if "error" in ln] or res.stderr.strip().splitlines()
        raise AATriggerError(f"emulator library build failed ({target}): {errors[0] if errors else 'no output'}")


def build(folder: Path, lib: str, extras: str = "") -> Path:
    """Build ``<lib>.so`` and the dlopen driver; returns the library."""
    _make(folder, f"{lib}.so", extras)
    _make(folder, "check/driver", extras)
    return folder / f"{lib}.so"


def _as_int64(x_int: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x_int, dtype=np.int64)


def score_dlopen(folder: Path, lib: str, x_int: np.ndarray, timeout: int = 1800) -> np.ndarray:
    """Scores (integers) of ``x_int`` through the driver: dlopen, create_model, the Model interface."""
    x = _as_int64(x_int)
    folder = Path(folder).resolve()  # the driver runs inside it: absolute paths for its files
    events, scores = folder / "check" / "events.bin", folder / "check" / "scores.bin"
    x.tofile(events)
    try:
        res = subprocess.run(["./check/driver", f"./{lib}.so", str(x.shape[1]), str(events), str(scores)],
                             cwd=folder, capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise AATriggerError(f"emulator library driver failed (exit {res.returncode}): {res.stderr.strip()[:200]}")
        out = np.fromfile(scores, dtype=np.int64)
    finally:
        events.unlink(missing_ok=True)
        scores.unlink(missing_ok=True)
    if len(out) != len(x):
        raise AATriggerError(f"emulator library driver scored {len(out)} of {len(x)} events")
    return out


def score_ctypes(library: Path, lib: str, x_int: np.ndarray) -> np.ndarray:
    """Scores (integers) of ``x_int`` through ``<lib>_score_batch`` of the library loaded with ctypes."""
    x = _as_int64(x_int)
    handle = ctypes.CDLL(str(Path(library).resolve()), mode=ctypes.RTLD_LOCAL)
    fn = getattr(handle, f"{lib}_score_batch")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
    fn.restype = ctypes.c_int
    out = np.zeros(len(x), np.int64)
    if fn(x.ctypes.data, len(x), out.ctypes.data) != 0:
        raise AATriggerError("emulator library: an input lies outside the input type")
    return out
