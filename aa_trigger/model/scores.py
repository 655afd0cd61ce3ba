"""Anomaly scores of one model: the full VAE's and the encoder-only deployable ones."""

from __future__ import annotations

import numpy as np

from aa_trigger.model.vae import VAEParts, reconstruction_error

#: score name -> what it is (also the order of tables and plots)
SCORES = {
    "recon": "full VAE: reconstruction error (squared or BCE), z = mu (needs the decoder)",
    "mu2": "encoder only: sum of mu^2 (AXOL1TL)",
    "rz": "encoder only: R_z = sum mu^2 / sigma^2",
    "surrogate": "encoder + learned head regressing log(recon) from mu",
    "wmu2": "encoder only: sum w_i mu_i^2, w >= 0 fitted to the full VAE score",
}


def compute_scores(parts: VAEParts, x: np.ndarray, batch: int = 16384) -> dict[str, np.ndarray]:
    """All scores of ``x`` (float64 arrays, one value per event); ``wmu2`` only when the parts have it."""
    mu, logvar = parts.encoder.predict(x, batch_size=batch, verbose=0)
    mu = mu.astype(np.float64)
    xhat = parts.decoder.predict(mu, batch_size=batch, verbose=0)
    sur = parts.surrogate.predict(mu, batch_size=batch, verbose=0)[:, 0]
    var = np.exp(np.clip(logvar.astype(np.float64), -10.0, 10.0))
    out = {
        "recon": reconstruction_error(x.astype(np.float64), xhat.astype(np.float64), parts.config.recon, np),
        "mu2": np.sum(mu**2, axis=1),
        "rz": np.sum(mu**2 / var, axis=1),
        "surrogate": sur.astype(np.float64),
    }
    if parts.weighting is not None:
        wmu2 = parts.weighting.predict(mu.astype(np.float32), batch_size=batch, verbose=0)
        out["wmu2"] = wmu2[:, 0].astype(np.float64)
    return out
