"""The training job end to end on a small built-in data set, and its refusals of bad input."""

import json
import subprocess
import sys

import pytest

from aa_trigger.config import TrainConfig

SMALL = dict(n_background_train=40_000, n_background_test=40_000, n_signal=12_000, n_finetune=4_000,
             epochs_pretrain=4, epochs_finetune=4, epochs_surrogate=2, batch_size=512, quantize=8,
             signals=["Ato4l", "leptoquark", "hChToTauNu"], finetune_signal="leptoquark", lambda_max=1.0)


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "aa_trigger.train", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.mark.slow
def test_end_to_end_aa_raises_finetune_score(tmp_path):
    from aa_trigger.data.dataset import load_dataset
    from aa_trigger.jobs.train import run_training
    from aa_trigger.runfolder import load_run
    from aa_trigger.model.scores import compute_scores

    cfg = TrainConfig(**SMALL, output=str(tmp_path / "models"), cache_dir=str(tmp_path / "cache"), run_name="t")
    res = run_training(cfg)
    run = load_run(res.path)
    for f in ("metrics.json", "summary.md", "history.json", "roc_mu2.png", "scores_recon.png", "working_points.png"):
        assert (res.path / f).is_file(), f
    prov = json.loads((res.path / "provenance.json").read_text())
    assert prov["seed"] == 0 and set(prov["data_sha256"]) == {"background", *SMALL["signals"]}
    env = prov["environment"]  # what float results depend on beyond the seed (kernels chosen by the CPU)
    assert env["cpu_count"] >= 1 and "TF_ENABLE_ONEDNN_OPTS" in env and "tf_intra_op_threads" in env
    hist = json.loads((res.path / "history.json").read_text())
    aa_rows = [h for h in hist if h["stage"] == "aa"]
    assert [h["lambda"] for h in aa_rows] == pytest.approx([0, 1 / 3, 2 / 3, 1])

    data = load_dataset(cfg)
    x_sig = data.signals_test["leptoquark"]
    ratios = {}
    for stage, parts in (("plain", run.pretrained), ("aa", run.aa)):
        bg, sig = compute_scores(parts, data.x_test), compute_scores(parts, x_sig)
        ratios[stage] = sig["recon"].mean() / bg["recon"].mean()
    # the AA stage pushes the fine-tuning class's reconstruction error up relative to background
    assert ratios["aa"] > ratios["plain"] * 1.05, ratios
    # loading the run back gives the very predictions that were evaluated
    metrics = json.loads((res.path / "metrics.json").read_text())
    from aa_trigger.evaluation.metrics import auc
    again = auc(compute_scores(run.aa, data.x_test)["mu2"], compute_scores(run.aa, x_sig)["mu2"])
    assert again == metrics["aa"]["leptoquark"]["scores"]["mu2"]["auc"]


@pytest.mark.parametrize("args, message", [
    (["--data-dir", "/nonexistent/folder"], "no such folder"),
    (["--signals", "Ato4l", "nosuch", "--finetune-signal", "Ato4l"], "unknown signal 'nosuch'"),
    (["--finetune-signal", "Ato4l", "--signals", "leptoquark"], "is not among --signals"),
    (["--quantize", "33"], "--quantize must be"),
    (["--anomaly-fraction", "1.5"], "--anomaly-fraction must be in"),
    (["--n-finetune", "200000"], "must be smaller than --n-signal"),
    (["--learning-rate", "nan"], "--learning-rate must be a finite number"),
    (["--rate-khz", "nan"], "--rate-khz must be a finite number"),
    (["--rate-khz", "0"], "--rate-khz must be > 0"),
    (["--rate-khz", "-1"], "--rate-khz must be > 0"),
    (["--rate-khz", "50000"], "below the bunch-crossing rate"),
    (["--seed", "-1"], "--seed must be 0 to"),
    (["--seed", str(2**40)], "--seed must be 0 to"),
    (["--latent", "65"], "--latent must be between 1 and 64"),
    (["--run-name", "../x"], "plain folder name"),
])
def test_bad_input_one_line_no_folder(tmp_path, args, message):
    out = tmp_path / "models"
    res = _cli(*args, "--output", str(out), "--cache-dir", str(tmp_path / "cache"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], res.stderr
    assert not out.exists() or not any(out.iterdir())


def test_unwritable_output_fails_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = _cli("--output", str(blocker / "models"), "--cache-dir", str(tmp_path / "cache"))
    assert res.returncode == 2 and "cannot write into" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cache").exists()  # nothing generated: the check came first


def test_corrupt_data_file_leaves_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "background_for_training.h5").write_text("garbage")
    from aa_trigger.data.generator import SAMPLE_FILES
    for name in ("Ato4l", "leptoquark"):
        (data / SAMPLE_FILES[name]).write_text("garbage")
    out = tmp_path / "models"
    res = _cli("--data-dir", str(data), "--signals", "Ato4l", "leptoquark", "--output", str(out))
    assert res.returncode == 2 and "not a readable HDF5 file" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_help_lists_every_option():
    res = _cli("--help")
    assert res.returncode == 0
    for flag in ("--lambda-max", "--anomaly-fraction", "--finetune-signal", "--quantize", "--aa-target",
                 "--rate-khz", "--seed", "--output", "--latent", "--widths"):
        assert flag in res.stdout


def test_interrupt_during_data_generation_stops_the_job(tmp_path):
    """SIGINT stops the job even when it was started with SIGINT ignored (a background job of a script)."""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "aa_trigger.train", "--cache-dir", str(tmp_path / "cache"),
                             "--output", str(tmp_path / "models")], stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    first = proc.stderr.readline()
    assert "generating the built-in data set" in first
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130 and "interrupted; no run folder was written" in rest
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())
    cache = list((tmp_path / "cache").rglob("*"))
    assert not [p for p in cache if p.name.endswith(".part") or p.name == "manifest.json"], cache


TINY = ["--n-background-train", "20000", "--n-background-test", "20000", "--n-signal", "6000", "--n-finetune",
        "2000", "--signals", "Ato4l", "leptoquark", "--finetune-signal", "leptoquark", "--epochs-pretrain", "2",
        "--epochs-finetune", "3", "--epochs-surrogate", "1", "--batch-size", "512", "--rate-khz", "400"]


@pytest.mark.slow
@pytest.mark.parametrize("variant, logged", [
    ([], []),
    (["--aa-loss", "margin", "--margin", "0.5"], ["margin_threshold", "margin_fpr"]),
    (["--bg-anchor", "1.5"], ["anchor_excess", "anchor_reference"]),
    (["--aa-target", "latent"], []),
    (["--aa-target", "surrogate", "--aa-loss", "margin"], ["surrogate_mse", "margin_threshold"]),
], ids=["clip", "margin", "anchor", "latent", "surrogate-margin"])
def test_each_aa_variant_end_to_end(tmp_path, variant, logged):
    """Every AA variant trains through the CLI, logs its own terms per epoch, records its options, and
    reports the working points with binomial uncertainties, seen and unseen signals apart."""
    res = _cli(*TINY, *variant, "--output", str(tmp_path), "--run-name", "v", "--cache-dir", str(tmp_path / "c"))
    assert res.returncode == 0, res.stderr[-2000:]
    run = tmp_path / "v"
    hist = [h for h in json.loads((run / "history.json").read_text()) if h["stage"] == "aa"]
    assert len(hist) == 3 and hist[0]["lambda"] == 0 and hist[-1]["lambda"] == 1.0
    for key in ["vae_loss_bg", "aa_term_anom", *logged]:
        assert all(isinstance(h[key], float) and h[key] == h[key] for h in hist), key
    if "margin_threshold" in logged:  # the trigger threshold at 400 kHz (FPR 1%), re-measured each epoch
        assert all(h["margin_threshold"] > 0 and h["margin_fpr"] == pytest.approx(0.01) for h in hist)
    cfg = json.loads((run / "config.json").read_text())
    for flag, value in zip(variant[::2], variant[1::2]):
        assert str(cfg[flag[2:].replace("-", "_")]) == value
    metrics = json.loads((run / "metrics.json").read_text())
    mu2 = metrics["aa"]["Ato4l"]["scores"]["mu2"]
    assert 0 < mu2["tpr_400kHz_err"] < 0.05 and 0 <= mu2["tpr_400kHz"] <= 1
    summary = (run / "summary.md").read_text()
    assert "unseen" in summary and "seen" in summary
