"""The CMSSW emulator library: built with g++ against a minimal hls4mlEmulator interface header written
here, loaded with dlopen from a C++ driver and with ctypes, bit-exact with the numpy emulator."""

import numpy as np
import pytest

from aa_trigger.errors import AATriggerError
from aa_trigger.firmware import emulator
from aa_trigger.firmware.cmssw.project import build, score_ctypes, score_dlopen, write_project
from aa_trigger.firmware.cmssw.source import library_name, library_source

# the documented interface of hls4mlEmulatorExtras (three virtual methods, two factory types), written
# independently of the project's own stand-in header
HEADER = """#pragma once
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
}
"""


@pytest.fixture()
def extras(tmp_path, need_tool):
    need_tool("g++")
    need_tool("make")
    inc = tmp_path / "extras" / "include" / "hls4ml"
    inc.mkdir(parents=True)
    (inc / "emulator.h").write_text(HEADER)
    return str(tmp_path / "extras")


def _events(graph, n, seed=0):
    t = graph.input_type
    return np.random.default_rng(seed).integers(t.int_min, t.int_max + 1, (n, graph.n_features))


def _library(graph, folder, lib, extras):
    write_project(folder, lib, library_source(graph, lib))
    return build(folder, lib, extras)


@pytest.mark.parametrize("score", ["mu2", "surrogate", "wmu2"])
def test_library_is_bit_exact_through_dlopen_and_ctypes(tmp_path, extras, tiny_graph, assert_bit_exact, score):
    graph = tiny_graph(score)
    lib = library_name("tiny", 3)
    so = _library(graph, tmp_path / "p", lib, extras)
    x = _events(graph, 5000)
    x[0], x[1] = graph.input_type.int_min, graph.input_type.int_max  # both ends of the input range
    expected, _ = emulator.score_int(graph, x)
    assert_bit_exact(f"{score} dlopen", score_dlopen(tmp_path / "p", lib, x), expected)
    assert_bit_exact(f"{score} ctypes", score_ctypes(so, lib, x), expected)


@pytest.mark.parametrize("score", ["mu2", "surrogate"])
def test_hgq_graph_in_the_library(tmp_path, extras, tiny_hgq, assert_bit_exact, score):
    """Per-input and per-neuron types (TRN, RND, saturation, zero-width elements) in the C++ library."""
    _, graph = tiny_hgq(score, seed=11)
    lib = library_name("hgq", 1)
    so = _library(graph, tmp_path / "p", lib, extras)
    x = _events(graph, 20000, seed=2)
    expected, _ = emulator.score_int(graph, x)
    assert_bit_exact(f"HGQ {score} dlopen", score_dlopen(tmp_path / "p", lib, x), expected)
    assert_bit_exact(f"HGQ {score} ctypes", score_ctypes(so, lib, x), expected)


def test_golden_events_of_the_reference_run(tmp_path, extras, reference_graph, golden, assert_bit_exact):
    """The committed reference run's golden events and scores, as CMSSW would load the library."""
    for score in ("mu2", "surrogate"):
        graph = reference_graph(score)
        lib = library_name(f"ref_{score}", 1)
        so = _library(graph, tmp_path / score, lib, extras)
        got = score_dlopen(tmp_path / score, lib, golden["x_int"])
        _, frac = emulator.score_int(graph, golden["x_int"][:1])
        assert_bit_exact(f"{score} golden (dlopen)", got * 2.0 ** -frac, golden[score])
        assert_bit_exact(f"{score} golden (ctypes)", score_ctypes(so, lib, golden["x_int"]) * 2.0 ** -frac,
                         golden[score])


def test_raw_object_integers_are_scaled_in_the_library(tmp_path, extras, reference_graph, reference_run,
                                                        assert_bit_exact):
    """With the Global-Trigger scaling in front, the library takes the raw object integers: bit-exact with
    the numpy emulator of the same graph and with the run's scaler followed by the network."""
    from aa_trigger.firmware.graph import RAW_INPUT_TYPE, with_scaling

    s = reference_run.scaler
    graph = with_scaling(reference_graph("mu2"), s.offset, s.shift)
    rng = np.random.default_rng(5)
    raw = np.where(np.arange(57) % 3 == 0, rng.integers(0, 4096, (6000, 57)), rng.integers(-128, 128, (6000, 57)))
    raw[:50] = rng.integers(RAW_INPUT_TYPE.int_min, RAW_INPUT_TYPE.int_max + 1, (50, 57))  # saturating the scaling
    so = _library(graph, tmp_path / "raw", "raw_v1", extras)
    expected, _ = emulator.score_int(graph, raw)
    assert_bit_exact("numpy: scaling node == scaler + network", expected,
                     emulator.score_int(reference_graph("mu2"), s.transform_int(raw))[0])
    assert_bit_exact("raw dlopen", score_dlopen(tmp_path / "raw", "raw_v1", raw), expected)
    assert_bit_exact("raw ctypes", score_ctypes(so, "raw_v1", raw), expected)


def test_two_versions_load_side_by_side(tmp_path, extras, tiny_graph, assert_bit_exact):
    """<model>_v1 and <model>_v2 in one process: each keeps its own weights (own namespace and file)."""
    g1, g2 = tiny_graph("mu2", seed=1), tiny_graph("mu2", seed=2)
    so1 = _library(g1, tmp_path / "v1", library_name("ad", 1), extras)
    so2 = _library(g2, tmp_path / "v2", library_name("ad", 2), extras)
    x = _events(g1, 2000, seed=3)
    a, b = score_ctypes(so1, "ad_v1", x), score_ctypes(so2, "ad_v2", x)
    assert_bit_exact("v1", a, emulator.score_int(g1, x)[0])
    assert_bit_exact("v2", b, emulator.score_int(g2, x)[0])
    assert not np.array_equal(a, b)


def test_inputs_outside_the_input_type_are_refused(tmp_path, extras, tiny_graph):
    graph = tiny_graph("mu2")
    so = _library(graph, tmp_path / "p", "ad_v1", extras)
    x = _events(graph, 3)
    x[1, 2] = graph.input_type.int_max + 1
    with pytest.raises(AATriggerError, match="outside the input type"):
        score_ctypes(so, "ad_v1", x)
    with pytest.raises(AATriggerError, match="driver failed"):  # the Model throws; the driver exits non-zero
        score_dlopen(tmp_path / "p", "ad_v1", x)


@pytest.mark.parametrize("name, version, message", [("1ad", 1, "starting with a letter"), ("a-d", 1, "letters"),
                                                    ("ad", 0, "must be >= 1")])
def test_library_names(name, version, message):
    with pytest.raises(AATriggerError, match=message):
        library_name(name, version)


def test_relative_project_folder(tmp_path, monkeypatch, extras, tiny_graph, assert_bit_exact):
    """convert writes into a relative partial folder: the driver's event files must still be found."""
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    graph = tiny_graph("mu2")
    _library(graph, Path("fw") / "cmssw", "ad_v1", extras)
    x = _events(graph, 300)
    assert_bit_exact("relative", score_dlopen(Path("fw") / "cmssw", "ad_v1", x), emulator.score_int(graph, x)[0])
