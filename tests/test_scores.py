"""Scores of one model: every score per event, deterministic, the deployable ones from mu only."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from aa_trigger.model.scores import SCORES, compute_scores  # noqa: E402
from aa_trigger.model.vae import ModelConfig, VAEParts  # noqa: E402


def test_scores_follow_their_definitions():
    tf.keras.utils.set_random_seed(0)
    parts = VAEParts.build(ModelConfig(n_features=6, widths=[5], latent=2, quantize=0, surrogate_width=3,
                                       recon="mse"))
    x = np.random.default_rng(1).normal(size=(300, 6)).astype(np.float32)
    s = compute_scores(parts, x)
    assert set(s) == set(SCORES) and all(v.shape == (300,) for v in s.values())
    mu, logvar = parts.encoder.predict(x, batch_size=16384, verbose=0)  # the batch size can change the floats
    mu = mu.astype(np.float64)
    assert np.array_equal(s["mu2"], np.sum(mu**2, axis=1))
    assert np.allclose(s["rz"], np.sum(mu**2 / np.exp(logvar.astype(np.float64)), axis=1))
    xhat = parts.decoder.predict(mu, verbose=0).astype(np.float64)
    assert np.allclose(s["recon"], np.sum((x - xhat) ** 2, axis=1))
    w, b = parts.weighting.get_layer("wmu2_out").get_weights()
    assert np.allclose(s["wmu2"], mu**2 @ w[:, 0] + b[0], rtol=1e-5, atol=1e-6)
    fitted, parts.weighting = parts.weighting, None  # a run written before the weighted score: the others
    assert set(compute_scores(parts, x)) == set(SCORES) - {"wmu2"}
    parts.weighting = fitted
    again = compute_scores(parts, x)
    assert all(np.array_equal(s[k], again[k]) for k in s)
