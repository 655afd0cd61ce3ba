"""The convert job end to end on the committed reference run: back ends, report, refusals."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LEGACY = Path(__file__).parent / "data" / "format1"


def _cli(*args, verb="convert"):
    return subprocess.run([sys.executable, "-m", f"aa_trigger.{verb}", *args], capture_output=True, text=True,
                          timeout=900)


def _strict(path):
    def refuse(name):
        raise AssertionError(f"{path}: non-standard JSON constant {name}")

    return json.loads(Path(path).read_text(), parse_constant=refuse)


@pytest.mark.slow
def test_convert_end_to_end(tmp_path, reference_path):
    out = tmp_path / "fw"
    res = _cli("--run", str(reference_path), "--part", "xcvu9p", "--output", str(out), "--n-tb", "500",
               "--n-hls", "4000")
    assert res.returncode == 0, res.stderr
    report = _strict(out / "report.json")
    assert report["format"] == 2 and report["all_bit_exact"]
    assert [c["b"] for c in report["bit_exact"]] == ["qkeras", "hls4ml_predict", "csim"]
    for c in report["bit_exact"]:
        assert c["equal"] == c["events"] > 0
    for sig, row in report["auc"]["emulated_firmware"].items():
        assert row["auc"] == report["auc"]["qkeras"][sig]["auc"]  # bit-exact -> identical AUC
    assert report["part"] == "xcvu9p-flga2104-2L-e" and [d["backend"] for d in report["designs"]] == ["vitis"]
    lo, hi = report["score_range_seen"]
    for t in report["thresholds"]:
        assert t["threshold_int"] == round(t["threshold"] * 2 ** report["score_frac_bits"])
        assert lo <= t["threshold"] <= hi
    assert report["designs"][0]["latency"]["cycles"] is None  # no estimate without vendor tools: null, not NaN
    for f in ("README.md", "report.md", "conversion.json", "hls4ml_prj/hls4ml_config.yml",
              "hls4ml_prj/tb_data/tb_input_features.dat", "hls4ml_prj/build_prj.tcl"):
        assert (out / f).is_file(), f
    assert str(tmp_path / ".fw") not in (out / "hls4ml_prj" / "hls4ml_config.yml").read_text()
    assert not list(tmp_path.glob(".*partial*"))
    emu = _cli(str(out), verb="emulate")
    assert emu.returncode == 0, emu.stderr
    assert "expected vs csim: 500 of 500 events equal" in emu.stdout
    again = _cli("--run", str(reference_path), "--output", str(out))
    assert again.returncode == 2 and "exists" in again.stderr


@pytest.mark.slow
def test_hls_and_rtl_cross_checked(tmp_path, reference_path, need_tool):
    need_tool("verilator")
    out = tmp_path / "fw"
    res = _cli("--run", str(reference_path), "--backend", "vitis", "rtl", "--clock-mhz", "240", "--output", str(out),
               "--n-tb", "300", "--n-hls", "3000", "--no-csim")
    assert res.returncode == 0, res.stderr[-2000:]
    report = _strict(out / "report.json")
    pairs = [(c["a"], c["b"]) for c in report["bit_exact"]]
    assert pairs == [("numpy", "qkeras"), ("numpy", "hls4ml_predict"), ("numpy", "verilator_rtl"),
                     ("hls4ml_predict", "verilator_rtl")]
    assert all(c["bit_exact"] and c["events"] > 0 for c in report["bit_exact"])
    assert report["bit_exact"][2]["events"] == report["n_background_test"] + sum(report["n_signal_test"].values())
    rtl = report["designs"][1]
    assert rtl["latency"]["cycles"] == len(rtl["latency"]["stages"]) >= 4
    assert rtl["latency"]["ns"] == pytest.approx(rtl["latency"]["cycles"] * 1000 / 240)
    assert rtl["details"]["adder_levels_per_stage"] == 3
    for f in ("aa_trigger_score.v", "build_vivado.tcl", "constraints.xdc", "harness.cpp", "design.json",
              "tb_aa_trigger_score.v", "tb_inputs.mem", "tb_expected.mem"):
        assert (out / "rtl" / f).is_file(), f
    assert not (out / "rtl" / "obj_dir").exists()
    md = (out / "report.md").read_text()
    assert "Pipeline stages: 1. " in md and "timing closure NOT verified" in md
    emu = _cli(str(out), "--no-csim", verb="emulate")
    assert emu.returncode == 0, emu.stderr
    assert "expected vs verilator_rtl: 300 of 300 events equal" in emu.stdout
    assert "numpy vs verilator_rtl: 300 of 300 events equal" in emu.stdout


@pytest.mark.slow
def test_rtl_backend_alone_never_imports_hls4ml(tmp_path, reference_path, need_tool):
    need_tool("verilator")
    out = tmp_path / "fw"
    code = ("import sys; from aa_trigger.convert import main; "
            f"rc = main(['--run', {str(reference_path)!r}, '--backend', 'rtl', '--score', 'mu2', '--output', "
            f"{str(out)!r}, '--n-tb', '100']); print('hls4ml imported:', 'hls4ml' in sys.modules); sys.exit(rc)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "hls4ml imported: False" in res.stdout
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "conversion.json", "model.json", "report.json",
                                                      "report.md", "rtl"]
    assert [c["b"] for c in _strict(out / "report.json")["bit_exact"]] == ["qkeras", "verilator_rtl"]


def test_cmssw_backend_converts_checks_and_re_emulates(tmp_path, reference_path, need_tool):
    """--backend cmssw: the emulator library source tree, bit-exact with the numpy model and QKeras on every
    test event through dlopen and ctypes, no binaries left; emulate rebuilds and re-checks it."""
    need_tool("g++")
    need_tool("make")
    out = tmp_path / "fw"
    res = _cli("--run", str(reference_path), "--backend", "cmssw", "--score", "mu2", "--emulator-name", "GTADModel",
               "--emulator-version", "7", "--output", str(out), "--n-tb", "300")
    assert res.returncode == 0, res.stderr[-2000:]
    report = _strict(out / "report.json")
    assert report["all_bit_exact"]
    checks = {c["b"]: c for c in report["bit_exact"]}
    assert {"cmssw_dlopen", "cmssw_ctypes"} <= set(checks)
    assert checks["cmssw_dlopen"]["equal"] == checks["cmssw_dlopen"]["events"] > 100_000  # every test event
    files = sorted(str(p.relative_to(out / "cmssw")) for p in (out / "cmssw").rglob("*") if p.is_file())
    assert files == ["Makefile", "check/driver.cc", "check/include/hls4ml/emulator.h", "check/tb_expected.txt",
                     "check/tb_inputs.txt", "src/GTADModel_v7.cc"]
    assert "hls4mlEmulator::ModelLoader loader(\"GTADModel_v7\")" in (out / "README.md").read_text()
    assert _strict(out / "conversion.json")["options"]["raw_input"]  # what the Global Trigger delivers
    assert "the Global-Trigger object integers in ADC2021 order" in (out / "cmssw" / "src" / "GTADModel_v7.cc").read_text()
    again = _cli(str(out), verb="emulate")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "cmssw_dlopen" in again.stdout and "300 of 300" in again.stdout
    assert not (out / "cmssw" / "GTADModel_v7.so").exists()


def test_raw_input_is_bit_exact_through_hls_rtl_and_the_emulator_library(tmp_path, reference_path, need_tool):
    """--raw-input: the raw object integers go in and the firmware scales them ((x - offset) >> shift with the
    run's constants): the HLS raw top (C simulation), the Verilog and the CMSSW library agree with the numpy
    model on every event they score; emulate re-checks all of them from the project."""
    for tool in ("g++", "make", "verilator"):
        need_tool(tool)
    out = tmp_path / "fw"
    res = _cli("--run", str(reference_path), "--raw-input", "--backend", "vitis", "rtl", "cmssw", "--score", "mu2",
               "--output", str(out), "--n-tb", "400", "--n-hls", "4000")
    assert res.returncode == 0, res.stderr[-2000:]
    report = _strict(out / "report.json")
    checks = {c["b"]: c for c in report["bit_exact"] if c["a"] == "numpy"}
    assert report["all_bit_exact"] and {"qkeras", "hls4ml_predict", "csim", "csim_raw", "verilator_rtl",
                                        "cmssw_dlopen", "cmssw_ctypes"} <= set(checks)
    assert checks["csim_raw"]["equal"] == 400 and checks["verilator_rtl"]["equal"] > 100_000
    conversion = _strict(out / "conversion.json")
    assert conversion["raw_input_type"] == "fixed<16,16>" and conversion["input_frac_bits"] == 8
    raw_tb = (out / "hls4ml_prj" / "tb_data" / "tb_raw_inputs.dat").read_text().split("\n")[0].split()
    assert all(v.lstrip("-").isdigit() for v in raw_tb) and len(raw_tb) == 57  # integers, not scaled values
    assert "set_top aa_trigger_score_raw" in (out / "hls4ml_prj" / "build_raw.tcl").read_text()
    again = _cli(str(out), verb="emulate")
    assert again.returncode == 0, again.stderr[-2000:]
    for name in ("csim_raw", "verilator_rtl", "cmssw_dlopen"):
        assert f"numpy vs {name}: 400 of 400 events equal" in again.stdout, again.stdout
    # one archive: project, run, thresholds, manifest; verified from the archive alone
    pkg = _cli(str(out), "--output", str(tmp_path / "pkg" / "ad.tar.xz"), verb="package")
    assert pkg.returncode == 0, pkg.stderr[-2000:]
    twice = _cli(str(out), "--output", str(tmp_path / "pkg" / "ad.tar.xz"), verb="package")
    assert twice.returncode == 2 and "--force replaces it" in twice.stderr
    import tarfile

    with tarfile.open(tmp_path / "pkg" / "ad.tar.xz") as tar:
        names = tar.getnames()
        thresholds = json.load(tar.extractfile("fw/thresholds.json"))
    assert {"fw/manifest.json", "fw/project/cmssw/src/aat_mu2_v1.cc", "fw/run/aa/encoder.weights.h5",
            "fw/project/rtl/aa_trigger_score.v"} <= set(names) and not [n for n in names if n.endswith(".so")]
    assert thresholds["thresholds"] and all(isinstance(t["integer"], int) for t in thresholds["thresholds"]
                                            if t["threshold"] is not None)
    shutil.rmtree(out)  # the archive alone
    ok = _cli("--verify", str(tmp_path / "pkg" / "ad.tar.xz"), verb="package")
    assert ok.returncode == 0 and "bit-exact checks all pass" in ok.stdout, ok.stderr[-2000:]
    assert "numpy vs cmssw_dlopen: 400 of 400 events equal" in ok.stdout


@pytest.mark.parametrize("args, message", [
    (["--emulator-name", "ad"], "--emulator-name needs --backend cmssw"),
    (["--backend", "cmssw", "--emulator-name", "9ad"], "starting with a letter"),
    (["--part", "xc7z020"], "unknown part 'xc7z020'; known parts: xcvu9p"),
    (["--backend", "quartus"], "invalid choice: 'quartus'"),
    (["--score", "rz"], "cannot map exactly"),
    (["--clock-mhz", "-5"], "--clock-mhz must be > 0"),
    (["--clock-mhz", "nan"], "--clock-mhz must be a finite number"),
    (["--adder-levels", "3"], "--adder-levels needs --backend rtl"),
    (["--backend", "rtl", "--adder-levels", "-1"], "--adder-levels must be >= 0"),
    (["--backend", "vitis", "vivado"], "one HLS back end"),
    (["--estimate"], "--estimate needs --backend rtl"),
    (["--rate-khz", "40000"], "below the bunch-crossing rate"),
])
def test_convert_bad_input(tmp_path, reference_path, args, message):
    out = tmp_path / "fw"
    res = _cli("--run", str(reference_path), "--output", str(out), *args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert not out.exists() and not list(tmp_path.iterdir())


def test_raw_input_needs_hardware_scaling(tmp_path, reference_path):
    """A table run is standardised in float upstream of the firmware: no raw integers to scale in firmware."""
    run = tmp_path / "table-run"
    shutil.copytree(reference_path, run)
    n = 57
    (run / "preprocessing.json").write_text(json.dumps({
        "kind": "float", "clip_features": [False] * n, "log_features": [False] * n, "mean": [0.0] * n,
        "std": [1.0] * n, "width": 14, "int_bits": 6}))
    res = _cli("--run", str(run), "--raw-input", "--output", str(tmp_path / "fw"))
    assert res.returncode == 2 and "--raw-input needs a run with hardware input scaling" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "fw").exists()


def test_convert_bad_run_folder(tmp_path):
    res = _cli("--run", str(tmp_path / "nope"), "--output", str(tmp_path / "fw"))
    assert res.returncode == 2 and "no such folder" in res.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    res = _cli("--run", str(broken), "--output", str(tmp_path / "fw"))
    assert res.returncode == 2 and "incomplete" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "fw").exists()


def test_frozen_format1_project_metadata_reads(tmp_path):
    from aa_trigger.jobs.emulate import read_meta

    shutil.copy(LEGACY / "conversion.json", tmp_path / "conversion.json")
    meta = read_meta(tmp_path)
    assert meta.hls_folder == "hls4ml_prj" and meta.score == "surrogate" and meta.input_frac_bits == 8
    (tmp_path / "conversion.json").write_text(json.dumps({"format": 9, "run": "x"}))
    from aa_trigger.errors import AATriggerError

    with pytest.raises(AATriggerError, match="project format 9"):
        read_meta(tmp_path)


def test_emulate_refuses_a_broken_project(tmp_path):
    (tmp_path / "conversion.json").write_text("{")
    res = _cli(str(tmp_path), verb="emulate")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "not valid JSON" in res.stderr


@pytest.mark.parametrize("where", ["run", "inside", "parent"])
def test_convert_never_writes_over_its_run(tmp_path, reference_path, where):
    run = tmp_path / "runs" / "ref"
    shutil.copytree(reference_path, run)
    out = {"run": run, "inside": run / "fw", "parent": tmp_path / "runs"}[where]
    res = _cli("--run", str(run), "--output", str(out), "--force")
    assert res.returncode == 2 and "overlaps the run folder" in res.stderr
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in reference_path.iterdir())


def test_convert_force_replaces_only_a_project(tmp_path, reference_path):
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "thesis.tex").write_text("x")
    res = _cli("--run", str(reference_path), "--output", str(precious), "--force")
    assert res.returncode == 2 and "not an aa_trigger firmware project" in res.stderr
    assert (precious / "thesis.tex").is_file()


@pytest.fixture(scope="module")
def small_project(tmp_path_factory, reference_path):
    out = tmp_path_factory.mktemp("proj") / "fw"
    res = _cli("--run", str(reference_path), "--output", str(out), "--n-tb", "50", "--n-hls", "200", "--score", "mu2")
    assert res.returncode == 0, res.stderr[-2000:]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("damage, message", [
    (lambda tb: (tb / "tb_input_features.dat").write_text("nan " * 57 + "\n"), "NaN or Inf in event 0"),
    (lambda tb: (tb / "tb_input_features.dat").write_text(("0.001 " * 57 + "\n") * 50), "not on the input grid"),
    (lambda tb: (tb / "tb_input_features.dat").write_text("1 2 3\n4 5\n"), "unreadable test-bench data"),
    (lambda tb: (tb / "tb_output_predictions.dat").unlink(), "unreadable test-bench data"),
    (lambda tb: (tb.parent / "firmware" / "aa_trigger_score.cpp").write_text("int broken(;\n"),
     "C simulation build failed: firmware/aa_trigger_score.cpp:1:"),
])
def test_emulate_bad_test_bench_is_bad_input(tmp_path, small_project, damage, message):
    proj = tmp_path / "fw"
    shutil.copytree(small_project, proj)
    damage(proj / "hls4ml_prj" / "tb_data")
    res = _cli(str(proj), verb="emulate")
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert res.returncode == 2 and len(errors) == 1 and message in errors[0], res.stderr  # progress lines aside


@pytest.mark.parametrize("args, message", [
    (["--events", "0"], "--events must be positive"),
    (["--hls-events", "-3"], "--hls-events between 1 and --events"),
    (["--events", "100", "--hls-events", "200"], "--hls-events between 1 and --events"),
    (["--run", "/nonexistent/run"], "no such folder"),
])
def test_benchmark_bad_input(reference_path, args, message):
    full = args if "--run" in args else ["--run", str(reference_path), *args]
    res = _cli(*full, verb="benchmark")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and message in res.stderr, res.stderr


@pytest.mark.slow
def test_weighted_mu2_is_bit_exact_through_every_back_end(tmp_path, need_tool):
    """sum w_i mu_i^2 of a freshly trained run: numpy == QKeras == hls4ml == C simulation == Verilator."""
    need_tool("verilator")
    train = _cli("--n-background-train", "20000", "--n-background-test", "20000", "--n-signal", "3000",
                 "--n-finetune", "1000", "--epochs-pretrain", "2", "--epochs-finetune", "2", "--epochs-surrogate", "1",
                 "--batch-size", "512", "--signals", "Ato4l", "leptoquark", "--rate-khz", "100", "--output",
                 str(tmp_path), "--run-name", "r", "--cache-dir", str(tmp_path / "cache"), verb="train")
    assert train.returncode == 0, train.stderr[-3000:]
    assert "| wmu2 |" in (tmp_path / "r" / "summary.md").read_text()
    res = _cli("--run", str(tmp_path / "r"), "--score", "wmu2", "--backend", "vitis", "rtl", "--n-hls", "4000",
               "--n-tb", "500", "--output", str(tmp_path / "fw"))
    assert res.returncode == 0, res.stderr[-3000:]
    report = _strict(tmp_path / "fw" / "report.json")
    assert report["all_bit_exact"] and report["score"] == "wmu2"
    checks = {(c["a"], c["b"]): (c["equal"], c["events"]) for c in report["bit_exact"]}
    assert checks[("numpy", "qkeras")] == (25000, 25000) and checks[("numpy", "verilator_rtl")] == (25000, 25000)
    assert checks[("numpy", "hls4ml_predict")] == (4000, 4000) and checks[("numpy", "csim")] == (500, 500)


def test_auto_score_follows_the_working_point_then_the_auc():
    """--score auto: the higher mean unseen efficiency at the first resolved trigger rate (the AA study's
    criterion for trigger data); where no rate is resolved (small tables), the higher mean unseen AUC."""
    from types import SimpleNamespace

    from aa_trigger.jobs.convert import choose_score

    def sig(seen, mu2, sur, wmu2):
        return {"used_in_finetuning": seen, "scores": {
            s: {"auc": v[0], "tpr_1kHz": v[1], "tpr_1kHz_err": 0.001, "tpr_fpr_1e-05": 0.5}
            for s, v in (("mu2", mu2), ("surrogate", sur), ("wmu2", wmu2))}}

    metrics = {"aa": {"a": sig(False, (0.9, 0.01), (0.7, 0.02), (0.8, 0.03)),
                      "b": sig(False, (0.8, 0.00), (0.6, 0.00), (0.7, 0.00)),
                      "seen": sig(True, (0.5, 0.9), (0.5, 0.9), (0.5, 0.0))}}
    run = SimpleNamespace(metrics=metrics, aa=SimpleNamespace(weighting=object()), config={})
    score, why = choose_score(run, "auto")
    assert score == "wmu2" and "1kHz" in why and "wmu2 1.50%" in why
    for r in metrics["aa"].values():  # too little background for 1 kHz: n/a (NaN) for every score
        for v in r["scores"].values():
            v["tpr_1kHz"] = float("nan")
    score, why = choose_score(run, "auto")
    assert score == "mu2" and "higher mean AUC" in why
    assert choose_score(run, "surrogate") == ("surrogate", "chosen with --score")


@pytest.mark.slow
def test_hgq_is_bit_exact_through_every_back_end(tmp_path, need_tool):
    """A freshly trained HGQ model (per-weight widths, per-neuron types): HGQ's own proxy model == numpy == hls4ml
    == C simulations == Verilator == the CMSSW library, raw object integers in; then emulate re-checks the
    project, and a latency target the design misses is refused in one line."""
    need_tool("verilator")
    train = _cli("--quantize", "hgq", "--hgq-beta", "1e-5", "--n-background-train", "20000", "--n-background-test",
                 "20000", "--n-signal", "3000", "--n-finetune", "1000", "--epochs-pretrain", "2", "--epochs-finetune",
                 "2", "--epochs-surrogate", "1", "--batch-size", "512", "--signals", "Ato4l", "leptoquark",
                 "--rate-khz", "100", "--output", str(tmp_path), "--run-name", "r", "--cache-dir",
                 str(tmp_path / "cache"), verb="train")
    assert train.returncode == 0, train.stderr[-3000:]
    model = json.loads((tmp_path / "r" / "model.json").read_text())
    assert model["quantize"] == "hgq" and model["hgq_beta"] == 1e-5
    assert (tmp_path / "r" / "aa" / "hgq_ranges.json").is_file()
    history = json.loads((tmp_path / "r" / "history.json").read_text())
    assert all(row["bops"] > 0 for row in history if row["stage"] in ("pretrain", "aa"))
    res = _cli("--run", str(tmp_path / "r"), "--score", "mu2", "--backend", "vitis", "rtl", "cmssw", "--n-hls",
               "4000", "--n-tb", "500", "--latency-target-ns", "200", "--clock-mhz", "240", "--output",
               str(tmp_path / "fw"))
    assert res.returncode == 0, res.stderr[-3000:]
    report = _strict(tmp_path / "fw" / "report.json")
    assert report["all_bit_exact"]
    checks = {(c["a"], c["b"]): (c["equal"], c["events"]) for c in report["bit_exact"]}
    for b, n in (("hgq_proxy", 25000), ("verilator_rtl", 25000), ("cmssw_dlopen", 25000), ("hls4ml_predict", 4000),
                 ("csim", 500), ("csim_raw", 500)):
        assert checks[("numpy", b)] == (n, n), b
    emu = _cli(str(tmp_path / "fw"), verb="emulate")
    assert emu.returncode == 0, emu.stderr[-2000:]
    tight = _cli("--run", str(tmp_path / "r"), "--score", "mu2", "--backend", "rtl", "--latency-target-ns", "10",
                 "--clock-mhz", "240", "--output", str(tmp_path / "fw2"))
    assert tight.returncode == 2 and "--latency-target-ns 10: the design is" in tight.stderr
    assert not (tmp_path / "fw2").exists() and not list(tmp_path.glob(".fw2*"))
