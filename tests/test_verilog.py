"""RTL back end: Verilog from the graph, Verilator simulation, yosys estimate, test benches."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aa_trigger.errors import AATriggerError
from aa_trigger.firmware import emulator
from aa_trigger.firmware.graph import Dense, FixedGraph, SumSquares
from aa_trigger.firmware.parts import resolve_part
from aa_trigger.firmware.rtl import netlist, project, tools, verilog
from aa_trigger.model.quant import FixedType, QuantSpec

VU9P = "xcvu9p-flga2104-2L-e"
LEGACY = Path(__file__).parent / "data" / "format1"


@pytest.mark.parametrize("score", ["surrogate", "mu2", "wmu2"])
@pytest.mark.parametrize("levels", [1, 2, 3, 64])
def test_verilator_matches_numpy_on_tiny_design(tmp_path, tiny_graph, need_tool, assert_bit_exact, score, levels):
    need_tool("verilator")
    graph = tiny_graph(score)
    # negative powers of two as biases: a literal like -11'sd1024 would silently be +1024
    graph.nodes[0].bias[:2] = [-64, -32]
    design = verilog.generate(graph, levels)
    if levels == 64:  # the whole network fits in one stage, then the output register
        assert design.latency_cycles == 1
    assert design.latency_cycles == verilog.stages_for(design.depth, levels)
    assert len(design.stages) == design.latency_cycles
    project.write_project(tmp_path, design, VU9P, 240.0)
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (20000, 6))
    x[:4] = [[-128] * 6, [127] * 6, [0] * 6, [1, -1, 2, -2, 3, -3]]
    sim, _ = tools.simulate(tmp_path, design, x)
    _, layers = emulator.run_graph(graph, x, trace=True, exact_int=True)
    # the graph exercises both saturation limits of the latent type
    lat = layers["mu_dense"].v
    assert (lat == 63).any() and (lat == -64).any()
    assert_bit_exact(f"verilator tiny {score}, {levels} levels", sim, emulator.score(graph, x))
    assert "create_clock -period 4.1667" in (tmp_path / "constraints.xdc").read_text()


def test_fewer_levels_per_stage_deepen_the_pipeline():
    d0 = Dense("d0", np.ones((57, 4), np.int64) * 85, np.zeros(4, np.int64), QuantSpec("bits", 8, 1),
               QuantSpec("bits", 8, 3), False, QuantSpec("bits", 12, 5))
    graph = FixedGraph("inputs", FixedType(14, 6), 57, [d0, SumSquares("score_mu2")], "mu2")
    depth = [verilog.generate(graph, n).latency_cycles for n in (1, 2, 3, 4, 100)]
    assert depth == sorted(depth, reverse=True) and depth[0] > depth[-1] == 1
    assert verilog.levels_per_stage(240.0) == 3 and verilog.levels_per_stage(40.0) == 24
    with pytest.raises(AATriggerError, match="must be >= 1"):
        verilog.generate(graph, 0)


def test_negative_literals_carry_their_sign_bit():
    assert netlist.lit(-1024, 11) == "-12'sd1024"
    assert netlist.lit(-1023, 11) == "-11'sd1023"
    assert netlist.lit(5, 2) == "4'sd5"


@pytest.mark.parametrize("score", ["mu2", "wmu2"])
def test_raw_input_scaling_in_verilog(tmp_path, tiny_graph, need_tool, assert_bit_exact, score):
    """The Global-Trigger scaling in front of the network: raw integers in, every offset/shift case (left and
    right net shifts, zero offset, both saturation limits), bit-exact with the numpy emulator."""
    from aa_trigger.firmware.graph import FixedType, with_scaling

    need_tool("verilator")
    graph = with_scaling(tiny_graph(score), [0, 49, -3, 7, 0, 1200], [0, 5, 2, 9, 4, 1], FixedType(12, 12))
    design = verilog.generate(graph, 2)
    project.write_project(tmp_path, design, VU9P, 240.0)
    x = np.random.default_rng(2).integers(-2048, 2048, (20000, 6))
    x[:2] = [[-2048] * 6, [2047] * 6]
    sim, _ = tools.simulate(tmp_path, design, x)
    _, layers = emulator.run_graph(graph, x, trace=True, exact_int=True)
    scaled = layers["input_scaling"].v
    assert (scaled == 127).any() and (scaled == -128).any()  # both limits of the network input type
    assert_bit_exact(f"verilator raw input {score}", sim, emulator.score(graph, x))


@pytest.mark.slow
@pytest.mark.parametrize("score", ["mu2", "surrogate"])
def test_verilator_matches_golden(tmp_path, reference_graph, golden, need_tool, assert_bit_exact, score):
    need_tool("verilator")
    design = verilog.generate(reference_graph(score))
    project.write_project(tmp_path, design, VU9P, 200.0)
    sim, _ = tools.simulate(tmp_path, design, golden["x_int"].astype(np.int64))
    assert_bit_exact(f"verilator reference {score}", sim, golden[score])


def test_yosys_estimate_on_tiny_design(tmp_path, tiny_graph, need_tool):
    need_tool("yosys")
    design = verilog.generate(tiny_graph())
    project.write_project(tmp_path, design, VU9P, 200.0)
    est = tools.yosys_estimate(tmp_path, resolve_part("xcvu9p"))
    assert est.counts["LUT"] > 0 and est.counts["FF"] > 0
    assert 0 < est.percent_of_part["LUT"] < 1


def test_missing_tools_say_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(AATriggerError, match="verilator not found; install it with `apt-get install verilator"):
        tools.require_tools()
    with pytest.raises(AATriggerError, match="yosys not found"):
        tools.yosys_estimate(tmp_path, resolve_part("xcvu9p"))


def test_relative_project_folder(tmp_path, monkeypatch, tiny_graph, need_tool, assert_bit_exact):
    need_tool("verilator")
    monkeypatch.chdir(tmp_path)
    graph = tiny_graph("mu2", seed=3)
    design = verilog.generate(graph)
    project.write_project(Path("fw") / "rtl", design, VU9P, 200.0)
    x = np.random.default_rng(2).integers(-128, 128, (500, 6))
    sim, _ = tools.simulate(Path("fw") / "rtl", design, x)
    assert_bit_exact("relative folder", sim, emulator.score(graph, x))


def test_testbench_files_round_trip(tmp_path, tiny_graph):
    graph = tiny_graph("mu2", seed=4)
    design = verilog.generate(graph, 2)
    project.write_project(tmp_path, design, VU9P, 240.0)
    project.save_design(tmp_path, design, VU9P, 240.0)
    x = np.random.default_rng(5).integers(-128, 128, (300, 6))
    expected, frac = emulator.score_int(graph, x)
    assert frac == design.output_frac
    project.write_testbench(tmp_path, design, x, expected, 240.0)
    back = project.load_design(tmp_path)
    assert back == design
    assert verilog.generate(graph, 2).verilog == design.verilog  # deterministic
    meta = json.loads((tmp_path / "design.json").read_text())
    assert meta["verilog_sha256"] == hashlib.sha256((tmp_path / f"{verilog.TOP}.v").read_bytes()).hexdigest()
    x2, e2 = project.read_testbench(tmp_path, back)
    assert np.array_equal(x2, x) and np.array_equal(e2, expected)
    (tmp_path / "design.json").write_text("{")
    with pytest.raises(AATriggerError, match="not a complete RTL folder"):
        project.load_design(tmp_path)


@pytest.mark.parametrize("score", ["surrogate", "mu2", "wmu2"])
def test_verilog_testbench_passes_in_icarus(tmp_path, tiny_graph, need_tool, score):
    """The self-checking test bench written for vendor simulators, run with Icarus Verilog."""
    need_tool("iverilog")
    graph = tiny_graph(score, seed=6)
    graph.nodes[0].bias[:2] = [-64, -32]
    design = verilog.generate(graph, 2)
    project.write_project(tmp_path, design, VU9P, 240.0)
    x = np.random.default_rng(7).integers(-128, 128, (400, 6))
    expected, _ = emulator.score_int(graph, x)
    project.write_testbench(tmp_path, design, x, expected, 240.0)
    build = subprocess.run(["iverilog", "-o", "tb", f"tb_{verilog.TOP}.v", f"{verilog.TOP}.v"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    res = subprocess.run(["vvp", "tb"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert "PASS: 400 of 400 events equal" in res.stdout, res.stdout[-2000:]
    # and it can fail: a wrong expected score is reported
    bad = expected.copy()
    bad[17] += 1
    project.write_testbench(tmp_path, design, x, bad, 240.0)
    res = subprocess.run(["vvp", "tb"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert "FAIL: 1 of 400 events differ" in res.stdout and "event 17:" in res.stdout, res.stdout[-2000:]


def test_frozen_format1_design_json_still_loads(tmp_path):
    """design.json written before the redesign (tests/data/format1) loads into the same design type."""
    shutil.copy(LEGACY / "design.json", tmp_path / "design.json")
    (tmp_path / f"{verilog.TOP}.v").write_text("// verilog\n")
    design = project.load_design(tmp_path)
    assert design.latency_cycles == 13 and design.output_frac == 10 and design.n_inputs == 57


_SIM_IN_FOLDER = """
import sys
import numpy as np
from pathlib import Path
from aa_trigger.firmware.graph import Dense, FixedGraph
from aa_trigger.firmware.rtl import project, tools, verilog
from aa_trigger.firmware import emulator
from aa_trigger.model.quant import FixedType, QuantSpec
rng = np.random.default_rng(0)
d = Dense("d0", rng.integers(-40, 40, (6, 3)), rng.integers(-60, 60, 3), QuantSpec("bits", 8, 2),
          QuantSpec("bits", 6, 2), True, QuantSpec("relu", 6, 3))
g = FixedGraph("inputs", FixedType(8, 4), 6, [d], "surrogate")
design = verilog.generate(g, 2)
folder = Path(sys.argv[1]) / "rtl"
project.write_project(folder, design, "xcvu9p-flga2104-2L-e", 200.0)
x = rng.integers(-128, 128, (500, 6))
sim, _ = tools.simulate(folder, design, x)
print("equal", int(np.sum(sim == emulator.score(g, x))))
"""


@pytest.mark.parametrize("name", ["with space", "ünïcødé földer"])
def test_rtl_flow_in_awkward_folders_under_a_c_locale(tmp_path, need_tool, name):
    need_tool("verilator")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}
    res = subprocess.run([sys.executable, "-c", _SIM_IN_FOLDER, str(tmp_path / name)], capture_output=True,
                         text=True, encoding="utf-8", env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-1500:]
    assert "equal 500" in res.stdout


@pytest.mark.parametrize("score", ["mu2", "surrogate"])
def test_hgq_graph_in_verilator(tmp_path, tiny_hgq, need_tool, assert_bit_exact, score):
    """Per-weight widths (pruned weights), per-input and per-neuron types (TRN and RND, saturating): the
    Verilog equals the numpy emulator, which equals HGQ's own proxy model."""
    from aa_trigger.firmware.graph import Quantize

    need_tool("verilator")
    parts, graph = tiny_hgq(score, seed=11)
    quant = [n for n in graph.nodes if isinstance(n, Quantize)]
    assert {n.rounding for n in quant} == {"TRN", "RND"} and len({int(w) for n in quant for w in n.width}) > 3
    assert any((n.kernel == 0).any() for n in graph.dense)  # pruned weights
    x = np.random.default_rng(3).integers(-128, 128, (20000, 6))
    x[:2] = [[-128] * 6, [127] * 6]
    _, layers = emulator.run_graph(graph, x, trace=True)
    first = quant[0]
    assert (layers[first.name].v == (first.elem_max << (first.frac - first.elem_frac))).any()  # saturates
    for levels in (1, 3):
        design = verilog.generate(graph, levels)
        folder = tmp_path / str(levels)
        project.write_project(folder, design, VU9P, 240.0)
        sim, _ = tools.simulate(folder, design, x)
        assert_bit_exact(f"verilator HGQ {score}, {levels} levels", sim, emulator.score(graph, x))


def test_latency_target(tiny_graph):
    graph = tiny_graph("mu2")
    design = verilog.generate(graph, verilog.levels_per_stage(240.0))
    ns = design.latency_cycles * 1000.0 / 240.0
    verilog.check_latency_target(design, 240.0, ns)  # met exactly
    with pytest.raises(AATriggerError, match=rf"--latency-target-ns 4: the design is {design.depth} adder levels "
                                             rf"deep; at 240 MHz with 3 levels per stage it needs "
                                             rf"{design.latency_cycles} stages"):
        verilog.check_latency_target(design, 240.0, 4.0)
    with pytest.raises(AATriggerError, match="not even one stage fits"):
        verilog.check_latency_target(design, 240.0, 1.0)
    # registers fall every N adder levels across layers: the stage count follows the depth alone
    assert design.latency_cycles == verilog.stages_for(design.depth, 3)
