"""RTL back end: Verilog from the integer graph, Verilator simulation, yosys estimate."""

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import REFERENCE_RUN, assert_bit_exact

from aa_trigger import deploy, fixedpoint, netlist, rtl
from aa_trigger.deploy import DenseSpec, Fixed, FixedGraph
from aa_trigger.errors import AATriggerError

REQUIRE = os.environ.get("AA_TRIGGER_REQUIRE_RTL") == "1"  # set by .ci/run: CI must not skip these


def _need(tool):
    if shutil.which(tool) is None:
        if REQUIRE:
            pytest.fail(f"{tool} is required here ({rtl.INSTALL_HINT})")
        pytest.skip(f"{tool} not installed ({rtl.INSTALL_HINT})")


def tiny_graph(score="surrogate", seed=0):
    """A small graph whose rounding hits ties, negative values and both saturation limits."""
    rng = np.random.default_rng(seed)
    l0 = DenseSpec("d0", rng.integers(-40, 40, (6, 5)), rng.integers(-60, 60, 5), 5, 3, "relu", Fixed(6, 3, False))
    l1 = DenseSpec("mu_dense", rng.integers(-40, 40, (5, 3)), rng.integers(-60, 60, 3), 5, 3, "quant", Fixed(7, 3))
    layers = [l0, l1]
    if score == "surrogate":
        layers.append(DenseSpec("out", rng.integers(-40, 40, (3, 1)), rng.integers(-60, 60, 1), 5, 3, "linear", None))
    return FixedGraph(Fixed(8, 4), layers, score, 6)


@pytest.mark.parametrize("score", ["surrogate", "mu2"])
@pytest.mark.parametrize("levels", [1, 2, 3, 64])
def test_verilator_matches_numpy_on_tiny_design(tmp_path, score, levels):
    _need("verilator")
    graph = tiny_graph(score)
    # negative powers of two as biases: a literal like -11'sd1024 would silently be +1024
    graph.layers[0].bias[:2] = [-64, -32]
    design = rtl.generate(graph, levels)
    if levels == 64:  # every layer's adder tree fits in one stage
        assert design.latency_cycles == len(graph.layers) + (score == "mu2")
    assert len(design.stages) == design.latency_cycles
    rtl.write_project(tmp_path, design, "xcvu9p-flga2104-2L-e", 240.0)
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (20000, 6))
    x[:4] = [[-128] * 6, [127] * 6, [0] * 6, [1, -1, 2, -2, 3, -3]]
    sim, _ = rtl.simulate(tmp_path, design, x)
    _, layers = fixedpoint.run_graph(graph, x, trace=True, exact_int=True)
    # the graph exercises both saturation limits of the latent type
    lat = layers["mu_dense"].v
    assert (lat == 63).any() and (lat == -64).any()
    assert_bit_exact(f"verilator tiny {score}, {levels} levels", sim, fixedpoint.score(graph, x))
    assert "create_clock -period 4.1667" in (tmp_path / "constraints.xdc").read_text()


def test_fewer_levels_per_stage_deepen_the_pipeline():
    graph = deploy.FixedGraph(Fixed(14, 6), [DenseSpec("d0", np.ones((57, 4), np.int64) * 85, np.zeros(4, np.int64),
                                                       6, 4, "quant", Fixed(12, 6))], "mu2", 57)
    depth = [rtl.generate(graph, n).latency_cycles for n in (1, 2, 3, 4, 100)]
    assert depth == sorted(depth, reverse=True) and depth[0] > depth[-1] == 2
    assert rtl.levels_per_stage(240.0) == 3 and rtl.levels_per_stage(40.0) == 24
    with pytest.raises(AATriggerError, match="must be >= 1"):
        rtl.generate(graph, 0)


def test_negative_literals_carry_their_sign_bit():
    assert netlist.lit(-1024, 11) == "-12'sd1024"
    assert netlist.lit(-1023, 11) == "-11'sd1023"
    assert netlist.lit(5, 2) == "4'sd5"


@pytest.mark.slow
@pytest.mark.parametrize("score", deploy.SCORE_TYPES)
def test_verilator_matches_golden(tmp_path, score):
    _need("verilator")
    from aa_trigger.runfolder import load_run

    run = load_run(REFERENCE_RUN)
    golden = dict(np.load(REFERENCE_RUN / "golden.npz"))
    design = rtl.generate(deploy.fixed_graph(run, score))
    rtl.write_project(tmp_path, design, "xcvu9p-flga2104-2L-e", 200.0)
    sim, _ = rtl.simulate(tmp_path, design, golden["x_int"].astype(np.int64))
    assert_bit_exact(f"verilator reference {score}", sim, golden[score])


def test_yosys_estimate_on_tiny_design(tmp_path):
    _need("yosys")
    design = rtl.generate(tiny_graph())
    rtl.write_project(tmp_path, design, "xcvu9p-flga2104-2L-e", 200.0)
    est = rtl.yosys_estimate(tmp_path, "xcvu9p")
    assert est["LUT"] > 0 and est["FF"] > 0
    assert 0 < est["percent_of_part"]["LUT"] < 1


def test_missing_tools_say_how_to_install(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(AATriggerError, match="verilator not found; install it with `apt-get install verilator"):
        rtl.require_tools()
    with pytest.raises(AATriggerError, match="yosys not found"):
        rtl.yosys_estimate(REFERENCE_RUN, "xcvu9p")


def test_relative_project_folder(tmp_path, monkeypatch):
    _need("verilator")
    monkeypatch.chdir(tmp_path)
    graph = tiny_graph("mu2", seed=3)
    design = rtl.generate(graph)
    rtl.write_project(Path("fw") / "rtl", design, "xcvu9p-flga2104-2L-e", 200.0)
    x = np.random.default_rng(2).integers(-128, 128, (500, 6))
    sim, _ = rtl.simulate(Path("fw") / "rtl", design, x)
    assert_bit_exact("relative folder", sim, fixedpoint.score(graph, x))


def test_testbench_files_round_trip(tmp_path):
    graph = tiny_graph("mu2", seed=4)
    design = rtl.generate(graph, 2)
    rtl.write_project(tmp_path, design, "xcvu9p-flga2104-2L-e", 240.0)
    rtl.save_design(tmp_path, design, "xcvu9p-flga2104-2L-e", 240.0)
    x = np.random.default_rng(5).integers(-128, 128, (300, 6))
    expected, frac = fixedpoint.score_int(graph, x)
    assert frac == design.output_frac
    rtl.write_testbench(tmp_path, design, x, expected, 240.0)
    back = rtl.load_design(tmp_path)
    assert back == design
    assert rtl.generate(graph, 2).verilog == design.verilog  # deterministic
    meta = json.loads((tmp_path / "design.json").read_text())
    assert meta["verilog_sha256"] == hashlib.sha256((tmp_path / f"{rtl.TOP}.v").read_bytes()).hexdigest()
    x2, e2 = rtl.read_testbench(tmp_path, back)
    assert np.array_equal(x2, x) and np.array_equal(e2, expected)
    (tmp_path / "design.json").write_text("{")
    with pytest.raises(AATriggerError, match="not a complete RTL folder"):
        rtl.load_design(tmp_path)


@pytest.mark.parametrize("score", ["surrogate", "mu2"])
def test_verilog_testbench_passes_in_icarus(tmp_path, score):
    """The self-checking test bench written for vendor simulators, run with Icarus Verilog."""
    _need("iverilog")
    graph = tiny_graph(score, seed=6)
    graph.layers[0].bias[:2] = [-64, -32]
    design = rtl.generate(graph, 2)
    rtl.write_project(tmp_path, design, "xcvu9p-flga2104-2L-e", 240.0)
    x = np.random.default_rng(7).integers(-128, 128, (400, 6))
    expected, _ = fixedpoint.score_int(graph, x)
    rtl.write_testbench(tmp_path, design, x, expected, 240.0)
    build = subprocess.run(["iverilog", "-o", "tb", f"tb_{rtl.TOP}.v", f"{rtl.TOP}.v"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    res = subprocess.run(["vvp", "tb"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert "PASS: 400 of 400 events equal" in res.stdout, res.stdout[-2000:]
    # and it can fail: a wrong expected score is reported
    bad = expected.copy()
    bad[17] += 1
    rtl.write_testbench(tmp_path, design, x, bad, 240.0)
    res = subprocess.run(["vvp", "tb"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert "FAIL: 1 of 400 events differ" in res.stdout and "event 17:" in res.stdout, res.stdout[-2000:]
