"""The supervised ceiling: classifiers per signal, measured at the working points on held-out events."""

import json
import subprocess
import sys

import numpy as np
import pytest

from aa_trigger.evaluation.ceiling import ClassifierSettings, signal_ceiling, summarise
from aa_trigger.evaluation.metrics import signal_metrics, working_points
from aa_trigger.scans.results import efficiency_order
from aa_trigger.scans.trial import signal_means


def test_signal_metrics_and_means():
    rng = np.random.default_rng(0)
    bg = rng.normal(size=100_000)
    points = working_points([1e-3], [400.0], 40_000)
    per = {"a": signal_metrics(bg, rng.normal(3, 1, 4000), points, count=True),
           "b": signal_metrics(bg, bg[:4000], points, count=True)}
    a, b = per["a"], per["b"]
    assert a["n"] == 4000 and a["auc"] > 0.95 and 0.45 < b["auc"] < 0.55
    assert b["tpr_fpr_0p001"] < 0.005 < a["tpr_fpr_0p001"]  # the same distribution passes about the FPR
    p = a["tpr_fpr_0p001"]
    assert a["tpr_fpr_0p001_err"] == pytest.approx(np.sqrt(p * (1 - p) / 4000), rel=0.05)  # ~ binomial
    m = signal_means(per, ["a", "b"])
    assert m["auc"] == pytest.approx((a["auc"] + b["auc"]) / 2) and "n" not in m
    assert m["tpr_400kHz_err"] == pytest.approx(np.hypot(a["tpr_400kHz_err"], b["tpr_400kHz_err"]) / 2)
    assert all(np.isnan(v) for v in signal_means(per, []).values())
    assert efficiency_order(m) == ["tpr_400kHz", "tpr_fpr_0p001"]  # rates first; never an uncertainty


def test_classifier_separates_what_is_separable_and_nothing_else():
    rng = np.random.default_rng(1)
    x_train, x_test = rng.normal(size=(20_000, 4)), rng.normal(size=(50_000, 4))
    signals = {"far": rng.normal(size=(4000, 4)) + [2.5, 0, 0, 0], "same": rng.normal(size=(4000, 4))}
    points = working_points([1e-3], [], 40_000)
    runs = [signal_ceiling(x_train, x_test, signals, points, seed, ClassifierSettings((8,), 10, 20_000, 256))
            for seed in (0, 1)]
    s = summarise(runs)
    assert s["far"]["auc"][0] > 0.9 and s["far"]["tpr_fpr_0p001"][0] > 0.05
    assert 0.4 < s["same"]["auc"][0] < 0.6 and s["same"]["tpr_fpr_0p001"][0] < 0.01
    assert len(s["far"]["auc"]) == 2 and s["far"]["auc"][1] >= 0  # mean and std over the two seeds


@pytest.mark.slow
def test_ceiling_cli_on_builtin_data(tmp_path):
    out = tmp_path / "c.json"
    res = subprocess.run([sys.executable, "-m", "aa_trigger.ceiling", "--seeds", "2", "--classifier-epochs", "1",
                          "--n-background-train", "8000", "--n-background-test", "20000", "--n-signal", "3000",
                          "--n-finetune", "1000", "--signals", "Ato4l", "leptoquark", "--rate-khz", "400",
                          "--cache-dir", str(tmp_path / "cache"), "--json", str(out)],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "| leptoquark (seen) |" in res.stdout and "tpr_400kHz (%)" in res.stdout
    doc = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert len(doc["per_seed"]) == 2 and set(doc["summary"]) == {"Ato4l", "leptoquark"}
    assert doc["fingerprint"] and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("args, message", [
    (["--seeds", "0"], "--seeds must be"),
    (["--hidden", "0"], "--hidden must be"),
    (["--lambda-max", "1"], "unrecognized arguments: --lambda-max"),  # not a data option: refused
])
def test_ceiling_bad_options_are_one_line(tmp_path, args, message):
    res = subprocess.run([sys.executable, "-m", "aa_trigger.ceiling", *args, "--cache-dir", str(tmp_path / "c")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not (tmp_path / "c").exists()
