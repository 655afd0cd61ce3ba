"""Scans on the real engines: Optuna studies in SQLite, trials on Dask worker processes."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from aa_trigger.errors import AATriggerError
from aa_trigger.scans.results import pareto
from aa_trigger.scans.space import parse_grid

TINY = ["--n-background-train", "4000", "--n-background-test", "4000", "--n-signal", "1500", "--n-finetune", "500",
        "--epochs-pretrain", "1", "--epochs-finetune", "1", "--epochs-surrogate", "1", "--batch-size", "256",
        "--signals", "Ato4l", "leptoquark", "--widths", "8", "--latent", "2", "--quantize", "6",
        "--rate-khz", "400"]


def _scan(tmp_path, *args, timeout=900, **kw):
    cmd = [sys.executable, "-m", "aa_trigger.scan", "--scan-dir", str(tmp_path / "scans"), "--scan-name", "s",
           "--cache-dir", str(tmp_path / "cache"), *TINY, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def _completed(tmp_path):
    db = sqlite3.connect(tmp_path / "scans" / "s" / "study.db")
    rows = db.execute("SELECT t.trial_id, t.state FROM trials t").fetchall()
    params = db.execute("SELECT trial_id, param_name, param_value FROM trial_params").fetchall()
    db.close()
    return rows, params


def test_grid_and_seeds_parse_into_train_options():
    space = parse_grid(["lambda-max=0,0.5", "widths=32 16,16 8", "quantize=4,8"], seeds=3)
    assert space.dims["lambda_max"] == [0.0, 0.5] and space.dims["widths"] == [[32, 16], [16, 8]]
    assert space.dims["seed"] == [0, 1, 2] and len(space.text_points()) == 2 * 2 * 2 * 3
    assert space.values({"widths": "16 8", "seed": "2"}) == {"widths": [16, 8], "seed": 2}


@pytest.mark.parametrize("items, message", [
    (["lambda=1"], "not a train option"),
    (["n-signal=1,2"], "changes the data set"),
    (["output=a,b"], "not a train option that can be scanned"),
    (["quantize=eight"], "--quantize takes 0"),
    (["quantize=8:3"], "between 4 and 16 bits"),
    (["lambda-max"], "takes NAME=V1,V2"),
])
def test_bad_dimensions_are_one_line(items, message):
    with pytest.raises(AATriggerError, match=message):
        parse_grid(items)


def test_pareto_front():
    assert pareto([(0.5, 10), (0.6, 20), (0.4, 5), (0.5, 12), (float("nan"), 1)]) == [0, 1, 2]


@pytest.mark.slow
def test_local_cluster_scan_resumes_and_reproduces(tmp_path):
    """Two Dask worker processes; rerunning the command redoes nothing; a fresh scan gives the same numbers."""
    res = _scan(tmp_path, "--grid", "lambda-max=0,1", "--seeds", "2", "--workers", "2", "--export-best")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "scan: 4 trials to run" in res.stderr and "(4 completed, 0 failed)" in res.stdout
    folder = tmp_path / "scans" / "s"
    for f in ("trials.csv", "trials.parquet", "summary.md", "study.db", "scan.json", "pareto_lut_estimate.png",
              "pareto_latency_ns.png", "scan_lambda_max_mu2_tpr_400kHz.png", "scan_lambda_max_recon_auc.png"):
        assert (folder / f).is_file(), f
    import pandas as pd

    from aa_trigger.runfolder import load_run

    best = [p for p in folder.iterdir() if p.name.startswith("best-")]
    assert len(best) == 1 and load_run(best[0]).model_config.quantize == "6"  # ready for convert
    from aa_trigger.scans.choice import score_from_scan

    run = load_run(best[0])
    score, why = score_from_scan(folder, run.config, ("mu2", "surrogate"))
    rows = pd.read_csv(folder / "trials.csv")
    mine = rows[rows.lambda_max == float(run.config["lambda_max"])]
    expect = max(("mu2", "surrogate"), key=lambda s: (mine[f"{s}.tpr_400kHz"].mean(), s == "mu2"))
    assert score == expect and "over 2 seed(s)" in why, why
    with pytest.raises(AATriggerError, match="no completed trial of this run's configuration"):
        score_from_scan(folder, {**run.config, "kl_weight": 7.0}, ("mu2", "surrogate"))
    summary = (folder / "summary.md").read_text()
    assert "| lambda_max | seeds |" in summary and " +- " in summary
    # each signal apart, seen ones marked, efficiencies with their binomial uncertainty; seen means apart
    assert "`mu2` per signal: tpr_400kHz in %" in summary and "| leptoquark (seen) |" in summary
    assert "(stat. " in summary and "means over the signals used in fine-tuning (seen)" in summary
    assert (folder / "signals_mu2_tpr_400kHz.png").is_file() and (folder / "signals_recon_auc.png").is_file()
    header = (folder / "trials.csv").read_text().splitlines()[0].split(",")
    assert "recon.auc" in header and "recon.lut_estimate" not in header  # the float full VAE, for comparison
    assert {"mu2.seen_auc", "mu2.tpr_400kHz_err", "mu2.Ato4l.tpr_400kHz_err", "mu2.Ato4l.n", "finetune"} <= set(header)
    objectives = pd.read_csv(folder / "trials.csv")
    assert (objectives["finetune"] == "leptoquark").all()
    cmp = subprocess.run([sys.executable, "-m", "aa_trigger.compare", str(folder), "--plot", str(tmp_path / "c.png")],
                         capture_output=True, text=True)
    assert cmp.returncode == 0, cmp.stderr
    assert (tmp_path / "c.png").stat().st_size > 1000  # efficiency and AUC against the LUT estimate
    lam1 = objectives[objectives.lambda_max == 1]
    row = next(line for line in cmp.stdout.splitlines() if line.startswith("| s lambda_max=1 | mu2 | 2 |"))
    assert f"{100 * lam1['mu2.Ato4l.tpr_400kHz'].mean():.2f} +- " in row  # the one unseen signal's mean
    bad = subprocess.run([sys.executable, "-m", "aa_trigger.compare", str(folder), "--baseline", str(folder)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "2 configurations; give a scan of one" in bad.stderr
    assert sorted(p.name for p in (folder / "graphs").iterdir()) == [f"trial-{i}.json" for i in range(4)]
    again = _scan(tmp_path, "--grid", "lambda-max=0,1", "--seeds", "2", "--workers", "2", "--estimate", "yosys")
    assert again.returncode == 0 and "scan: 0 trials to run" in again.stderr, again.stderr[-3000:]
    assert "yosys: synthesising" in again.stderr and "| yosys LUT |" in again.stdout
    synthesised = list((folder / "yosys").iterdir())
    assert synthesised and all(json.loads(p.read_text())["lut"] > 0 for p in synthesised)
    third = _scan(tmp_path, "--grid", "lambda-max=0,1", "--seeds", "2", "--workers", "1", "--estimate", "yosys")
    assert third.returncode == 0 and "yosys: synthesising" not in third.stderr  # kept, not redone
    assert "yosys_lut" in (folder / "trials.csv").read_text()
    other = tmp_path / "other"
    fresh = _scan(other, "--grid", "lambda-max=0,1", "--seeds", "2", "--workers", "1")
    assert fresh.returncode == 0, fresh.stderr[-3000:]

    a = pd.read_csv(folder / "trials.csv").sort_values(["lambda_max", "seed"]).drop(columns=["trial", "seconds"])
    a = a[[c for c in a.columns if ".yosys_" not in c]]
    b = pd.read_csv(other / "scans" / "s" / "trials.csv").sort_values(["lambda_max", "seed"]).drop(
        columns=["trial", "seconds"])
    assert a.reset_index(drop=True).equals(b.reset_index(drop=True)), (a, b)


@pytest.mark.slow
def test_a_float_scan_completes_without_firmware_cost(tmp_path):
    res = _scan(tmp_path, "--grid", "lambda-max=0,1", "--quantize", "0", "--workers", "1")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "(2 completed, 0 failed)" in res.stdout and "of a float model (no firmware" in res.stdout


@pytest.mark.slow
def test_a_failing_trial_is_recorded_and_the_scan_goes_on(tmp_path):
    res = _scan(tmp_path, "--grid", "kl-weight=1,1e38", "--workers", "2")  # 1e38: the loss overflows
    assert res.returncode == 0, res.stderr[-3000:]
    assert "(1 completed, 1 failed)" in res.stdout and "1 failed trial(s)" in res.stdout
    assert "training diverged" in res.stdout


@pytest.mark.slow
def test_killed_scan_resumes_without_repeating_or_losing_a_trial(tmp_path):
    """SIGKILL midway (no cleanup at all); the next run marks the orphans failed and runs every missing point."""
    cmd = [sys.executable, "-m", "aa_trigger.scan", "--scan-dir", str(tmp_path / "scans"), "--scan-name", "s",
           "--cache-dir", str(tmp_path / "cache"), *TINY, "--grid", "lambda-max=0,0.5,1", "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 600
    while time.time() < deadline:
        line = proc.stderr.readline()
        if "1 done" in line:
            break
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its Dask workers
    proc.wait(timeout=60)
    res = _scan(tmp_path, "--grid", "lambda-max=0,0.5,1", "--workers", "1")
    assert res.returncode == 0, res.stderr[-3000:]
    rows, params = _completed(tmp_path)
    complete = {tid for tid, state in rows if state == "COMPLETE"}
    done_points = sorted(v for tid, name, v in params if tid in complete and name == "lambda_max")
    assert len(done_points) == 3 and len(set(done_points)) == 3  # every point once, none repeated


@pytest.mark.slow
def test_scan_through_an_existing_dask_cluster(tmp_path):
    """Real `dask scheduler` and `dask worker` processes on localhost; the scan connects with --scheduler."""
    sched_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    scheduler = subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", "0", "--dashboard-address", ":0",
                                  "--scheduler-file", str(sched_file)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.time() + 60
        while not sched_file.is_file() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                   "--nworkers", "1", "--no-dashboard"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        res = _scan(tmp_path, "--grid", "lambda-max=0,1", "--scheduler", address)
        assert res.returncode == 0, res.stderr[-3000:]
        assert "(2 completed, 0 failed)" in res.stdout
    finally:
        for p in (worker, scheduler):
            if p is not None:
                p.terminate()
                p.wait(timeout=60)


def test_unreachable_scheduler_is_one_line(tmp_path):
    res = _scan(tmp_path, "--grid", "lambda-max=0", "--scheduler", "tcp://127.0.0.1:9", timeout=300)
    assert res.returncode == 2 and "cannot connect" in res.stderr.strip().splitlines()[-1]


def test_lut_calibration_on_trial_graphs(tmp_path, tiny_graph, need_tool):
    """benchmark --calibrate-luts reads a scan trial's graphs file and fits LUTs against yosys."""
    need_tool("yosys")
    from aa_trigger.firmware.graph import graph_to_dict
    from aa_trigger.jobs.benchmark import calibrate_luts
    from aa_trigger.jsonio import write_json

    path = tmp_path / "s" / "graphs" / "trial-0.json"
    path.parent.mkdir(parents=True)
    write_json(path, {s: graph_to_dict(tiny_graph(s)) for s in ("mu2", "surrogate", "wmu2")})
    rows, (per_bit, per_adder) = calibrate_luts([path])
    assert [r["design"] for r in rows] == ["s-trial-0-mu2", "s-trial-0-surrogate", "s-trial-0-wmu2"]
    assert all(r["LUT"] > 0 and r["adders"] > 0 for r in rows)
    fit = [per_bit * r["adder_bits"] + per_adder * r["adders"] for r in rows]
    assert all(abs(f / r["LUT"] - 1) < 0.5 for f, r in zip(fit, rows)), (fit, rows)
    res = subprocess.run([sys.executable, "-m", "aa_trigger.benchmark", "--calibrate-luts",
                          str(tmp_path / "nope.json")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "no such" in res.stderr.lower(), res.stderr
