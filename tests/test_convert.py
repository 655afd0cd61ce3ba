"""Conversion of the committed reference run: golden scores, three emulators, C simulation."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import REFERENCE_RUN, assert_bit_exact

from aa_trigger import deploy, fixedpoint
from aa_trigger.errors import AATriggerError
from aa_trigger.fixedpoint import round_half_even_shift


@pytest.fixture(scope="module")
def run():
    from aa_trigger.runfolder import load_run

    return load_run(REFERENCE_RUN)


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(REFERENCE_RUN / "golden.npz"))


def test_round_half_even_matches_python():
    v = np.arange(-4096, 4097, dtype=np.int64)
    for shift in (1, 2, 3, 5):
        got = round_half_even_shift(v, shift)
        ref = [round(int(x) / 2**shift) for x in v]  # Python's round() is half-to-even
        assert got.tolist() == ref
    assert round_half_even_shift(v, -2).tolist() == (v * 4).tolist()


def test_fixed_types_saturate():
    from aa_trigger.deploy import DenseSpec, Fixed, FixedGraph

    layer = DenseSpec("d", np.array([[64]], np.int64), np.array([0], np.int64), 6, 2, "quant", Fixed(6, 3))
    g = FixedGraph(Fixed(8, 4), [layer], "surrogate", 1)
    x = np.array([[100], [-100], [3], [5], [7]], np.int64)  # input units 2^-4
    out, _ = fixedpoint.run_graph(g, x)
    # value = x/16, fixed<6,3> has 3 fractional bits, range [-4, 3.875]; 3/16 -> 0.1875 -> 0.25 (half-even: 1.5 -> 2)
    assert out.to_float()[:, 0].tolist() == [3.875, -4.0, 0.25, 0.25, 0.5]


@pytest.mark.parametrize("score", deploy.SCORE_TYPES)
def test_numpy_emulator_matches_golden(run, golden, score):
    graph = deploy.fixed_graph(run, score)
    assert_bit_exact(f"numpy {score}", fixedpoint.score(graph, golden["x_int"].astype(np.int64)), golden[score])


@pytest.mark.parametrize("score", deploy.SCORE_TYPES)
def test_qkeras_matches_golden(run, golden, score):
    model = deploy.build_keras_model(run, score)
    x = golden["x_int"] * 2.0 ** -int(golden["input_frac_bits"])
    got = model.predict(x.astype(np.float32), verbose=0)[:, 0].astype(np.float64)
    assert_bit_exact(f"QKeras {score}", got, golden[score])


def test_rz_and_float_runs_are_refused(run):
    with pytest.raises(AATriggerError, match="exp"):
        deploy.fixed_graph(run, "rz")
    with pytest.raises(AATriggerError, match="unknown score"):
        deploy.fixed_graph(run, "kl")


@pytest.mark.slow
@pytest.mark.parametrize("score", deploy.SCORE_TYPES)
def test_hls4ml_and_csim_match_golden(run, golden, score, tmp_path):
    from aa_trigger import hls

    graph = deploy.fixed_graph(run, score)
    model = deploy.build_keras_model(run, score)
    x = golden["x_int"] * 2.0 ** -int(golden["input_frac_bits"])
    hls_model = hls.convert(model, graph, hls.HLSSettings(hls.resolve_part("xcvu9p")), tmp_path / "prj",
                            x, golden[score])
    assert_bit_exact(f"hls4ml predict {score}", hls.predict(hls_model, x), golden[score])
    assert_bit_exact(f"g++ csim {score}", hls.csim(tmp_path / "prj"), golden[score])


def _convert_cli(*args):
    return subprocess.run([sys.executable, "-m", "aa_trigger.convert", *args], capture_output=True, text=True,
                          timeout=900)


@pytest.mark.slow
def test_convert_end_to_end(tmp_path):
    out = tmp_path / "fw"
    res = _convert_cli("--run", str(REFERENCE_RUN), "--part", "xcvu9p", "--output", str(out), "--n-tb", "500",
                       "--n-hls", "4000")
    assert res.returncode == 0, res.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["all_bit_exact"]
    assert {c["b"] for c in report["bit_exact"]} == {"qkeras", "hls4ml_predict", "csim"}
    for c in report["bit_exact"]:
        assert c["equal"] == c["events"] > 0
    for sig, row in report["auc"]["emulated_firmware"].items():
        assert row["auc"] == report["auc"]["qkeras"][sig]["auc"]  # bit-exact -> identical AUC
    assert report["part"] == "xcvu9p-flga2104-2L-e" and report["backend"] == "Vitis"
    for t in report["thresholds"]:
        assert t["threshold_int"] == round(t["threshold"] * 2 ** report["score_frac_bits"])
    lo, hi = report["score_range_seen"]
    for f in ("README.md", "report.md", "conversion.json", "hls4ml_prj/hls4ml_config.yml",
              "hls4ml_prj/tb_data/tb_input_features.dat", "hls4ml_prj/build_prj.tcl"):
        assert (out / f).is_file(), f
    assert not list(tmp_path.glob(".*partial*"))
    # the C simulation on its own, through the emulate entry point
    emu = subprocess.run([sys.executable, "-m", "aa_trigger.emulate", str(out)], capture_output=True, text=True,
                         timeout=600)
    assert emu.returncode == 0, emu.stderr
    assert "500 of 500 events equal" in emu.stdout
    # an existing project is refused without --force
    again = _convert_cli("--run", str(REFERENCE_RUN), "--output", str(out))
    assert again.returncode == 2 and "exists" in again.stderr


@pytest.mark.parametrize("args, message", [
    (["--part", "xc7z020"], "unknown part 'xc7z020'; known parts: xcvu9p"),
    (["--backend", "quartus"], "unknown back end 'quartus'"),
    (["--score", "rz"], "cannot map exactly"),
    (["--clock-mhz", "-5"], "must be positive"),
    (["--adder-levels", "3"], "--adder-levels needs --backend rtl"),
    (["--backend", "rtl", "--adder-levels", "0"], "must be a positive integer or auto"),
])
def test_convert_bad_input(tmp_path, args, message):
    out = tmp_path / "fw"
    res = _convert_cli("--run", str(REFERENCE_RUN), "--output", str(out), *args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert not out.exists() and not list(tmp_path.iterdir())


def test_convert_bad_run_folder(tmp_path):
    res = _convert_cli("--run", str(tmp_path / "nope"), "--output", str(tmp_path / "fw"))
    assert res.returncode == 2 and "no such folder" in res.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    res = _convert_cli("--run", str(broken), "--output", str(tmp_path / "fw"))
    assert res.returncode == 2 and "incomplete" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "fw").exists()


@pytest.mark.parametrize("score", deploy.SCORE_TYPES)
def test_float64_fast_path_equals_int64_path(run, score):
    from aa_trigger import generator, preprocess

    graph = deploy.fixed_graph(run, score)
    assert fixedpoint.accumulator_bits(graph) <= fixedpoint.FLOAT64_EXACT_BITS
    x_int = run.scaler.transform_int(preprocess.to_hardware(generator.generate_sample("Ato4l", 5000, seed=4)))
    fast, fast_layers = fixedpoint.run_graph(graph, x_int, trace=True)
    exact, exact_layers = fixedpoint.run_graph(graph, x_int, trace=True, exact_int=True)
    assert fast.v.dtype == np.float64 and exact.v.dtype == np.int64
    assert_bit_exact(f"{score} float64 vs int64", fast.to_float()[:, 0], exact.to_float()[:, 0])
    for name in exact_layers:
        assert np.array_equal(fast_layers[name].v, exact_layers[name].v.astype(np.float64)), name


@pytest.mark.slow
def test_convert_rtl_backend(tmp_path):
    if subprocess.run(["which", "verilator"], capture_output=True).returncode != 0:
        pytest.skip("verilator not installed")
    out = tmp_path / "fw"
    res = _convert_cli("--run", str(REFERENCE_RUN), "--backend", "rtl", "--clock-mhz", "240", "--output", str(out),
                       "--n-tb", "300", "--n-hls", "3000", "--no-csim")
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    rtl_checks = [c for c in report["bit_exact"] if c["b"] == "verilator_rtl"]
    assert len(rtl_checks) == 2 and all(c["bit_exact"] and c["events"] > 0 for c in rtl_checks)
    assert rtl_checks[0]["events"] == report["n_background_test"] + sum(report["n_signal_test"].values())
    assert report["latency"]["latency_cycles"] == report["rtl"]["latency_cycles"] >= 4
    assert report["latency"]["latency_ns"] == pytest.approx(report["rtl"]["latency_cycles"] * 1000 / 240)
    for f in ("aa_trigger_score.v", "build_vivado.tcl", "constraints.xdc", "harness.cpp", "design.json",
              "tb_aa_trigger_score.v", "tb_inputs.mem", "tb_expected.mem"):
        assert (out / "rtl" / f).is_file(), f
    assert not (out / "rtl" / "obj_dir").exists()
    assert report["rtl"]["adder_levels_per_stage"] == 3 and len(report["rtl"]["stages"]) == report["rtl"]["latency_cycles"]
    md = (out / "report.md").read_text()
    assert "Pipeline stages: 1. " in md and "timing closure NOT verified" in md
    # the RTL test bench re-simulated on its own, through the emulate entry point
    emu = subprocess.run([sys.executable, "-m", "aa_trigger.emulate", str(out), "--no-csim"], capture_output=True,
                         text=True, timeout=1200)
    assert emu.returncode == 0, emu.stderr
    assert "expected vs verilator_rtl: 300 of 300 events equal" in emu.stdout
    assert "numpy vs verilator_rtl: 300 of 300 events equal" in emu.stdout
    assert not (out / "rtl" / "obj_dir").exists()


def test_estimate_needs_rtl_backend(tmp_path):
    res = _convert_cli("--run", str(REFERENCE_RUN), "--estimate", "--output", str(tmp_path / "fw"))
    assert res.returncode == 2 and "--estimate needs --backend rtl" in res.stderr
