"""Trigger metrics: the threshold rule is the firmware's (accept strictly above), rates to FPR."""

import numpy as np
import pytest

from aa_trigger.evaluation import metrics


def test_threshold_accepts_at_most_the_rate_strictly_above():
    bg = np.arange(1000, dtype=np.float64)  # 0..999
    thr = metrics.threshold_at_fpr(bg, 0.01)
    assert thr == 989.0 and np.sum(bg > thr) == 10  # 990..999: exactly 1% strictly above
    assert metrics.tpr_at_fpr(bg, np.array([989.0, 989.5, 2000.0]), 0.01) == pytest.approx(2 / 3)


def test_unresolvable_rate_is_nan():
    assert np.isnan(metrics.threshold_at_fpr(np.arange(10.0), 0.05))
    assert np.isnan(metrics.tpr_at_fpr(np.arange(10.0), np.arange(3.0), 0.05))


def test_auc_counts_ties_half_and_rates_map_to_fpr():
    assert metrics.auc(np.array([0.0, 1.0]), np.array([1.0, 2.0])) == pytest.approx(0.875)
    assert metrics.rate_to_fpr(1.0, 40_000.0) == 2.5e-5


def test_roc_curve_is_monotone():
    rng = np.random.default_rng(0)
    fpr, tpr = metrics.roc_curve(rng.normal(size=5000), rng.normal(1.0, size=2000))
    assert np.all(np.diff(fpr) > 0) and np.all(np.diff(tpr) >= 0)


def test_clopper_pearson_interval():
    from aa_trigger.evaluation.metrics import efficiency_interval, tpr_uncertainty

    lo, hi = efficiency_interval(0, 100)  # no event passes: an upper limit, 1 - 0.1587^(1/n)
    assert lo == 0.0 and hi == pytest.approx(1 - ((1 - 0.6827) / 2) ** (1 / 100), rel=1e-6)
    lo, hi = efficiency_interval(50, 100)
    assert lo < 0.5 < hi and (hi - lo) / 2 == pytest.approx(0.0547, abs=0.0005)  # a bit wider than sqrt(p(1-p)/n)
    assert efficiency_interval(100, 100)[1] == 1.0
    bg = np.arange(1000.0)
    sig = np.r_[np.full(30, 2000.0), np.zeros(70)]
    assert tpr_uncertainty(bg, sig, 0.01) == pytest.approx(np.sqrt(0.3 * 0.7 / 100), rel=0.15)
    assert np.isnan(tpr_uncertainty(bg, sig, 1e-5))
