"""Before/after-AA evaluation tables, the strict metrics.json round trip, the paper's experiments table."""

import numpy as np
import pytest

from aa_trigger.evaluation import evaluate
from aa_trigger.jsonio import read_json, write_json
from aa_trigger.model.scores import SCORES


def _scores(rng, shift, n):
    return {name: rng.normal(shift, 1.0, n) for name in SCORES}


def test_evaluate_table_and_mean_unseen_auc(tmp_path):
    rng = np.random.default_rng(0)
    bg = _scores(rng, 0.0, 50_000)
    sig = {"seen": _scores(rng, 2.0, 5000), "far": _scores(rng, 3.0, 5000), "near": _scores(rng, 0.0, 5000)}
    from aa_trigger.evaluation.metrics import working_points

    points = working_points([1e-5], [1.0], 40_000.0)
    res = evaluate.evaluate(bg, sig, {"seen"}, points)
    assert res["seen"]["used_in_finetuning"] and not res["far"]["used_in_finetuning"]
    far = res["far"]["scores"]["mu2"]
    assert far["auc"] > 0.97 and res["near"]["scores"]["mu2"]["auc"] == pytest.approx(0.5, abs=0.02)
    assert np.isnan(far["tpr_fpr_1e-05"])  # 50,000 background events cannot resolve 1e-5
    assert 0 < far["tpr_1kHz"] < 1  # 2.5e-5 of 50,000 is one event above the cut
    mean = evaluate.mean_unseen_auc(res, "mu2")
    assert mean == pytest.approx((far["auc"] + res["near"]["scores"]["mu2"]["auc"]) / 2)
    # strict JSON on disk (NaN -> null), NaN again when read back
    write_json(tmp_path / "metrics.json", evaluate.RunMetrics(50_000, {"far": 5000}, 40_000.0, res, res))
    back = evaluate.nan_for_null(read_json(tmp_path / "metrics.json"))
    assert back["format"] == evaluate.METRICS_FORMAT and np.isnan(back["aa"]["far"]["scores"]["mu2"]["tpr_fpr_1e-05"])
    assert back["aa"]["far"]["scores"]["mu2"]["auc"] == far["auc"]
    md = evaluate.summary_markdown(res, res, 50_000, points, "40")
    assert "| seen (fine-tune) | mu2 |" in md and "| TPR@FPR 1e-05 | TPR@1 kHz |" in md
    assert "n/a: FPR 1e-05 needs at least 100000 background events." in md  # said once, per column
    assert "n/a -> n/a" in md and md.count("needs at least") == 1


def test_paper_table_lists_every_experiment():
    from aa_trigger.jobs.reproduce import PAPER
    from aa_trigger.reproduce import EXPERIMENTS

    assert sorted(PAPER) == sorted(EXPERIMENTS)
