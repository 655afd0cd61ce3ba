"""Two-stage training: VAE pretraining on background, Anomaly-Awareness fine-tuning, surrogate.

Stage 1 minimises the VAE loss on background, per event
``L_VAE = sum_i (x_i - xhat_i)^2 + beta * KL(q(z|x) || N(0, I))``.

Stage 2 (Anomaly Awareness, Khosa & Sanz; Banda, Khosa, Sanz 2025) mixes a fraction of
labelled anomalies into every batch and minimises ``mean_bg(L_VAE) + lambda_e * T`` where
``lambda_e`` rises linearly from 0 at the first fine-tuning epoch to ``lambda_max`` at the last,
``E`` is the reconstruction error (``aa_target="recon"``, the paper), the deployable latent
score sum mu^2 (``aa_target="latent"``), or the deployable surrogate head's estimate of it
(``aa_target="surrogate"``: the head regresses log(recon) on background and anomalies inside the
loop, its squared error added to the loss, and AA acts on its output end to end), and the AA term
``T`` is

* ``aa_loss="clip"`` (the paper): ``-mean_anom(min(E(x), clip))``;
* ``aa_loss="margin"``: ``mean_anom(relu(q * exp(margin) - E(x)))`` with ``q`` the background's
  ``E`` quantile at the target trigger rate, re-measured on the training background before each
  epoch: the penalty stops once an anomaly would fire the trigger, so AA no longer buys
  anomalies far above threshold with background loss. Up to a constant this is the paper's term
  with the clip moved from a fixed value to the trigger threshold, so ``lambda`` has the same
  scale in both.

With ``bg_anchor = k > 1`` the loss also gets ``anchor_weight * L0 * relu(mean_bg(L_VAE) / L0 - k)``,
``L0`` the pretrained model's background loss: background reconstruction stays within ``k``
times its pretrained value.

All randomness is seeded: batches come from a numpy generator, the reparametrisation noise
from ``tf.random.stateless_normal`` keyed by (seed, step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from aa_trigger.model import hgq
from aa_trigger.model.vae import W_OUT, VAEParts, reconstruction_error

if TYPE_CHECKING:
    from aa_trigger.config import TrainConfig

Progress = Callable[[str], None]


def linear_ramp(lambda_max: float, epochs: int) -> Callable[[int], float]:
    """Schedule ``epoch -> lambda``: 0 at epoch 0, ``lambda_max`` at epoch ``epochs - 1``."""

    def schedule(epoch: int) -> float:
        if epochs <= 1:
            return float(lambda_max)
        return float(lambda_max) * epoch / (epochs - 1)

    return schedule


def batch_composition(batch_size: int, anomaly_fraction: float) -> tuple[int, int]:
    """(background, anomaly) events per AA batch; at least one anomaly when the fraction is > 0."""
    n_anom = int(round(batch_size * anomaly_fraction))
    if anomaly_fraction > 0:
        n_anom = max(n_anom, 1)
    return batch_size - n_anom, n_anom


def _losses(parts: VAEParts, training: bool, x, eps):
    """Per-event reconstruction error and KL of a batch, and its latent means."""
    import tensorflow as tf
    import tensorflow.experimental.numpy as tnp

    mu, logvar = parts.encoder(x, training=training)
    logvar = tf.clip_by_value(logvar, -10.0, 10.0)
    z = mu + tf.exp(0.5 * logvar) * eps
    xhat = parts.decoder(z, training=training)
    recon = reconstruction_error(x, xhat, parts.config.recon, tnp)
    kl = -0.5 * tf.reduce_sum(1.0 + logvar - tf.square(mu) - tf.exp(logvar), axis=1)
    return recon, kl, mu


def aa_loss(vae_bg, err_anom, lam: float, clip: float):
    """The paper's Anomaly-Awareness loss: mean background VAE loss minus lambda times the clipped
    anomaly error; returns (loss, the clipped anomaly error's mean)."""
    import tensorflow as tf

    aa_term = tf.reduce_mean(tf.minimum(err_anom, clip)) if err_anom.shape[0] else tf.constant(0.0)
    return tf.reduce_mean(vae_bg) - lam * aa_term, aa_term


def margin_term(err_anom, log_threshold, margin: float):
    """Mean hinge ``relu(exp(log_threshold + margin) - E)``: zero for every anomaly above the threshold
    times ``exp(margin)``."""
    import tensorflow as tf

    return tf.reduce_mean(tf.nn.relu(tf.exp(log_threshold + margin) - tf.cast(err_anom, tf.float32)))


def anchor_term(vae_bg_mean, reference: float, factor: float):
    """``relu(mean / reference - factor)``: how far the background loss has left its anchor."""
    import tensorflow as tf

    return tf.nn.relu(vae_bg_mean / reference - factor)


MARGIN_SAMPLE = 400_000  # training background events on which the margin's quantile is measured


def _background_scores(parts: VAEParts, x: np.ndarray, target: str) -> np.ndarray:
    """The AA target's score of background (z = mu): reconstruction error, or sum mu^2."""
    mu, _ = parts.encoder.predict(x, batch_size=16384, verbose=0)
    if target == "latent":
        return np.sum(mu.astype(np.float64) ** 2, axis=1)
    if target == "surrogate":
        return np.exp(np.minimum(parts.surrogate.predict(mu, batch_size=16384, verbose=0)[:, 0].astype(np.float64), 30))
    xhat = parts.decoder.predict(mu, batch_size=16384, verbose=0)
    return reconstruction_error(x.astype(np.float64), xhat.astype(np.float64), parts.config.recon, np)


def margin_log_threshold(parts: VAEParts, x: np.ndarray, target: str, fpr: float) -> tuple[float, float]:
    """log of the background quantile at ``fpr`` (or at 10 events above it when the sample is too small
    to resolve ``fpr``) and the FPR actually used."""
    from aa_trigger.evaluation.metrics import threshold_at_fpr

    scores = _background_scores(parts, x, target)
    used = max(fpr, 10.0 / len(scores))
    return float(np.log(max(threshold_at_fpr(scores, used), 1e-6))), used


def train_vae(parts: VAEParts, x_bg: np.ndarray, s: "TrainConfig", x_anom: np.ndarray | None = None,
              progress: Progress | None = None) -> list[dict[str, float]]:
    """Train encoder and decoder in place; returns one log row per epoch.

    With ``x_anom`` this is the AA fine-tuning stage (``s.epochs_finetune`` epochs), otherwise
    plain VAE training on ``x_bg`` (``s.epochs_pretrain`` epochs).
    """
    import tensorflow as tf

    aa = x_anom is not None
    if aa and s.aa_target not in ("recon", "latent", "surrogate"):  # 'auto' is resolved per data kind beforehand
        raise ValueError(f"aa_target {s.aa_target!r} is not resolved (TrainConfig.with_model_defaults)")
    stage, epochs = ("aa", s.epochs_finetune) if aa else ("pretrain", s.epochs_pretrain)
    n_bg_batch, n_anom_batch = batch_composition(s.batch_size, s.anomaly_fraction if aa else 0.0)
    schedule = linear_ramp(s.lambda_max if aa else 0.0, epochs)
    rng = np.random.default_rng([s.seed, 1 if aa else 0])
    optimizer = tf.keras.optimizers.Adam(s.learning_rate)
    joint = aa and s.aa_target == "surrogate"  # the surrogate head learns inside the AA loop
    variables = parts.encoder.trainable_variables + parts.decoder.trainable_variables
    if joint:
        variables = variables + parts.surrogate.trainable_variables
    latent = parts.config.latent
    seed_base = tf.constant([s.seed, 2 if aa else 1], tf.int64)

    sample = x_bg[:MARGIN_SAMPLE]
    eps0 = tf.random.stateless_normal((len(sample), latent), tf.constant([s.seed, 5], tf.int64))
    reference = 1.0
    if aa and s.bg_anchor:  # the pretrained model's background VAE loss, the anchor's unit
        r0, k0, _ = _losses(parts, False, tf.constant(sample), eps0)
        reference = max(float(tf.reduce_mean(r0 + s.kl_weight * k0)), 1e-6)
    margin = aa and s.aa_loss == "margin"
    hgq_models = (parts.encoder, parts.surrogate) if joint else (parts.encoder,)
    if not parts.config.hgq:
        hgq_models = ()

    @tf.function
    def step(xb, xa, lam, step_no, log_thr):
        key = tf.stack([seed_base[0] * 1_000_003 + step_no, seed_base[1]])
        eps_b = tf.random.stateless_normal((tf.shape(xb)[0], latent), key)
        eps_a = tf.random.stateless_normal((tf.shape(xa)[0], latent), key + tf.constant([0, 17], tf.int64))
        with tf.GradientTape() as tape:
            recon, kl, mu_b = _losses(parts, True, xb, eps_b)
            vae = recon + s.kl_weight * kl
            anchor = tf.constant(0.0)
            fit = tf.constant(0.0)
            if aa:
                r_a, _, mu_a = _losses(parts, True, xa, eps_a)
                if joint:  # the deployed head regresses log(recon) and AA acts on its output
                    pred = parts.surrogate(tf.concat([mu_b, mu_a], 0), training=True)[:, 0]
                    target = tf.stop_gradient(tf.math.log(tf.maximum(tf.concat([recon, r_a], 0), 1e-6)))
                    fit = tf.reduce_mean(tf.square(pred - target))
                    err = tf.exp(tf.minimum(pred[tf.shape(mu_b)[0]:], 30.0))
                else:
                    err = r_a if s.aa_target == "recon" else tf.reduce_sum(tf.square(mu_a), axis=1)
                if margin:
                    aa_term = margin_term(err, log_thr, s.margin)
                    loss = tf.reduce_mean(vae) + lam * aa_term
                else:
                    loss, aa_term = aa_loss(vae, err, lam, s.clip)
                if s.bg_anchor:
                    anchor = anchor_term(tf.reduce_mean(vae), reference, s.bg_anchor)
                    loss += s.anchor_weight * reference * anchor
                loss += fit
            else:
                loss, aa_term = tf.reduce_mean(vae), tf.constant(0.0)
            if hgq_models:  # HGQ's resource regulariser (BOPs times beta) and L1 on the bit widths
                loss += hgq.regularisation(*hgq_models)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return tf.reduce_mean(vae), tf.reduce_mean(recon), tf.reduce_mean(kl), aa_term, anchor, loss, fit

    history = []
    step_no = 0
    xa_empty = np.zeros((0, x_bg.shape[1]), np.float32)
    for epoch in range(epochs):
        lam = schedule(epoch)
        log_thr, used_fpr = (margin_log_threshold(parts, sample, s.aa_target, s.target_fpr()) if margin
                             else (0.0, float("nan")))
        order = rng.permutation(len(x_bg))
        sums = np.zeros(7)
        n_steps = 0
        for start in range(0, len(order) - n_bg_batch + 1, n_bg_batch):
            xb = x_bg[order[start:start + n_bg_batch]]
            xa = x_anom[rng.integers(0, len(x_anom), n_anom_batch)] if aa else xa_empty
            out = step(tf.constant(xb), tf.constant(xa), tf.constant(lam, tf.float32), tf.constant(step_no, tf.int64),
                       tf.constant(log_thr, tf.float32))
            sums += [float(v) for v in out]
            n_steps += 1
            step_no += 1
        vae, recon, kl, aa_term, anchor, total, fit = sums / max(n_steps, 1)
        row = {"stage": stage, "epoch": epoch, "lambda": lam, "vae_loss_bg": vae, "recon_bg": recon,
               "kl_bg": kl, "aa_term_anom": aa_term, "total": total}
        if margin:
            row.update(margin_threshold=float(np.exp(log_thr)), margin_fpr=used_fpr)
        if aa and s.bg_anchor:
            row.update(anchor_excess=anchor, anchor_reference=reference)
        if joint:
            row.update(surrogate_mse=fit)
        if hgq_models:  # the BOPs of the last step; the recorded output ranges restart every epoch
            row.update(bops=hgq.bops(*hgq_models))
            hgq.reset_ranges(*hgq_models)
        history.append(row)
        if progress:
            extra = f"  threshold={np.exp(log_thr):.4g}" if margin else ""
            extra += f"  anchor excess={anchor:.3f}" if aa and s.bg_anchor else ""
            extra += f"  BOPs={row['bops']:.4g}" if hgq_models else ""
            progress(f"[{stage}] epoch {epoch + 1}/{epochs}  lambda={lam:.3g}  vae_bg={vae:.3f} "
                     f"(recon {recon:.3f}, kl {kl:.3f})  aa_anom={aa_term:.3f}{extra}")
    return history


def recon_error(parts: VAEParts, x: np.ndarray, batch: int = 16384) -> np.ndarray:
    """Deterministic full-VAE score: the reconstruction error with z = mu."""
    mu, _ = parts.encoder.predict(x, batch_size=batch, verbose=0)
    xhat = parts.decoder.predict(mu, batch_size=batch, verbose=0)
    return reconstruction_error(x.astype(np.float64), xhat.astype(np.float64), parts.config.recon, np)


def surrogate_target(recon: np.ndarray) -> np.ndarray:
    """What the surrogate regresses: log of the full VAE reconstruction error."""
    return np.log(np.maximum(recon, 1e-6)).astype(np.float32)


SURROGATE_LEARNING_RATE = 3e-3


def train_surrogate(parts: VAEParts, x: np.ndarray, s: "TrainConfig",
                    progress: Progress | None = None) -> list[dict[str, float]]:
    """Fit the surrogate head (mu -> log reconstruction error) with the encoder frozen
    (``s.epochs_surrogate`` epochs of ``s.batch_size``)."""
    import tensorflow as tf

    mu, _ = parts.encoder.predict(x, batch_size=16384, verbose=0)
    target = surrogate_target(recon_error(parts, x))
    epochs, batch_size = s.epochs_surrogate, s.batch_size
    rng = np.random.default_rng([s.seed, 3])
    optimizer = tf.keras.optimizers.Adam(SURROGATE_LEARNING_RATE)
    model = parts.surrogate
    variables = model.trainable_variables

    regularised = parts.config.hgq

    @tf.function
    def step(m, t):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(m, training=True)[:, 0] - t))
            total = loss + hgq.regularisation(model) if regularised else loss
        optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        return loss

    history = []
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        losses = [float(step(tf.constant(mu[idx]), tf.constant(target[idx])))
                  for idx in (order[i:i + batch_size] for i in range(0, len(order), batch_size))]
        history.append({"stage": "surrogate", "epoch": epoch, "mse": float(np.mean(losses))})
        if regularised:
            history[-1]["bops"] = hgq.bops(model)
            hgq.reset_ranges(model)
        if progress:
            progress(f"[surrogate] epoch {epoch + 1}/{epochs}  mse={np.mean(losses):.4f}")
    return history


def fit_weighting(parts: VAEParts, x: np.ndarray) -> dict[str, float]:
    """Fit the weighted sum of mu^2: ``w >= 0`` by non-negative least squares of the full VAE score
    (the reconstruction error, which carries what AA learned) on ``mu_i^2`` with a free offset, then
    scaled so the largest weight fills the kernel type (the ranking does not depend on the scale) and
    written into ``parts.weighting`` (its quantiser rounds the weights; the bias is 0). All weights zero
    (no mu_i^2 follows the score) falls back to equal weights, i.e. sum mu^2."""
    from scipy.optimize import nnls

    mu, _ = parts.encoder.predict(x, batch_size=16384, verbose=0)
    sq = mu.astype(np.float64) ** 2
    target = recon_error(parts, x)
    if not (np.all(np.isfinite(sq)) and np.all(np.isfinite(target))):
        from aa_trigger.errors import AATriggerError

        raise AATriggerError("the latent means or the reconstruction error are NaN or infinite (the training "
                             "diverged); lower --learning-rate, --lambda-max or --kl-weight")
    a, b = sq - sq.mean(axis=0), target - target.mean()
    w, _ = nnls(a, b, maxiter=50 * sq.shape[1])
    fallback = not np.any(w > 0)
    if fallback:
        w = np.ones(sq.shape[1])
    q = parts.config.quant
    top = q.kernel.fixed().int_max * 2.0 ** -q.kernel.fixed().frac if q is not None else 1.0
    w = w * (top / w.max())
    parts.weighting.get_layer(W_OUT).set_weights([w[:, None].astype(np.float32), np.zeros(1, np.float32)])
    fitted = a @ w
    r2 = 1.0 - float(np.sum((b - fitted * (b @ fitted) / max(fitted @ fitted, 1e-300)) ** 2) / max(b @ b, 1e-300))
    return {"stage": "weighting", "nonzero_weights": int(np.count_nonzero(w)), "r2": r2, "fallback": fallback}
