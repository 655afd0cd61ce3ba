import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from aa_trigger.config import TrainConfig  # noqa: E402
from aa_trigger.model.training import aa_loss, batch_composition, linear_ramp, train_vae  # noqa: E402
from aa_trigger.model.vae import ModelConfig, VAEParts  # noqa: E402


def test_linear_ramp():
    sched = linear_ramp(2.0, 5)
    assert [sched(e) for e in range(5)] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert linear_ramp(3.0, 1)(0) == 3.0


def test_batch_composition():
    assert batch_composition(1024, 0.1) == (922, 102)
    assert batch_composition(8, 0.01) == (7, 1)  # at least one anomaly
    assert batch_composition(100, 0.0) == (100, 0)


def test_aa_loss_sign_and_clipping():
    vae_bg = tf.constant([10.0, 20.0])
    err = tf.constant([50.0, 500.0])
    loss, term = aa_loss(vae_bg, err, lam=0.5, clip=200.0)
    assert float(term) == pytest.approx((50 + 200) / 2)  # clipped at 200
    assert float(loss) == pytest.approx(15.0 - 0.5 * 125.0)
    # a larger anomaly error lowers the loss (the AA term is subtracted) until the clip
    loss2, _ = aa_loss(vae_bg, tf.constant([60.0, 500.0]), lam=0.5, clip=200.0)
    assert float(loss2) < float(loss)
    loss3, _ = aa_loss(vae_bg, tf.constant([50.0, 900.0]), lam=0.5, clip=200.0)
    assert float(loss3) == float(loss)
    loss0, _ = aa_loss(vae_bg, err, lam=0.0, clip=200.0)
    assert float(loss0) == pytest.approx(15.0)


def test_margin_term_stops_above_the_threshold():
    from aa_trigger.model.training import margin_term

    log_thr = float(np.log(100.0))
    assert float(margin_term(tf.constant([100.0 * np.exp(0.5) * 1.01, 1e4]), log_thr, 0.5)) == 0.0
    below = float(margin_term(tf.constant([10.0, 1e4]), log_thr, 0.5))
    assert below == pytest.approx((100.0 * np.exp(0.5) - 10.0) / 2, rel=1e-5)


def test_anchor_term():
    from aa_trigger.model.training import anchor_term

    assert float(anchor_term(tf.constant(30.0), 20.0, 2.0)) == 0.0
    assert float(anchor_term(tf.constant(50.0), 20.0, 2.0)) == pytest.approx(0.5)


def _data(n=4096, d=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32)


@pytest.mark.parametrize("quantize", [0, 8])
def test_training_is_deterministic(quantize):
    cfg = ModelConfig(n_features=12, widths=[8], latent=3, quantize=quantize, surrogate_width=4, recon="mse")
    runs = []
    for _ in range(2):
        tf.keras.utils.set_random_seed(1)
        parts = VAEParts.build(cfg)
        s = TrainConfig(epochs_finetune=2, batch_size=256, lambda_max=1.0, anomaly_fraction=0.1, seed=1,
                        aa_target="recon")
        hist = train_vae(parts, _data(), s, x_anom=_data(512, seed=1) + 3.0)
        runs.append((hist, [w.copy() for w in parts.encoder.get_weights()]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        assert np.array_equal(a, b)
    assert runs[0][0][0]["lambda"] == 0.0 and runs[0][0][1]["lambda"] == 1.0
    assert runs[0][0][1]["aa_term_anom"] > 0


def _finetune(**kw):
    cfg = ModelConfig(n_features=12, widths=[8], latent=3, quantize=0, surrogate_width=4, recon="mse")
    tf.keras.utils.set_random_seed(2)
    parts = VAEParts.build(cfg)
    train_vae(parts, _data(), TrainConfig(epochs_pretrain=3, batch_size=256, seed=2))
    s = TrainConfig(epochs_finetune=8, batch_size=256, anomaly_fraction=0.1, seed=2, learning_rate=1e-2,
                    **{"aa_target": "recon", **kw})
    return train_vae(parts, _data(), s, x_anom=_data(512, seed=1) * 0.2)


def test_aa_target_auto_resolves_per_data_kind_and_training_refuses_it_unresolved():
    assert TrainConfig().with_model_defaults("trigger").aa_target == "recon"
    assert TrainConfig().with_model_defaults("image").aa_target == "surrogate"
    assert TrainConfig().with_model_defaults("tabular").aa_target == "latent"
    assert TrainConfig(aa_target="surrogate").with_model_defaults("tabular").aa_target == "surrogate"
    cfg = ModelConfig(n_features=12, widths=[8], latent=3, quantize=0, surrogate_width=4, recon="mse")
    with pytest.raises(ValueError, match="not resolved"):
        train_vae(VAEParts.build(cfg), _data(), TrainConfig(epochs_finetune=1), x_anom=_data(64, seed=1))


def test_background_anchor_keeps_the_background_loss_near_its_pretrained_value():
    free = _finetune(lambda_max=5.0, clip=1e6)
    anchored = _finetune(lambda_max=5.0, clip=1e6, bg_anchor=1.2, anchor_weight=100.0)
    ref = anchored[-1]["anchor_reference"]
    assert free[-1]["vae_loss_bg"] > 1.5 * ref  # AA alone trades background loss for the anomalies
    assert anchored[-1]["vae_loss_bg"] < 1.35 * ref, (anchored[-1], ref)
    assert all("anchor_excess" in row for row in anchored)


def test_margin_loss_logs_its_threshold_and_is_deterministic():
    a = _finetune(lambda_max=2.0, aa_loss="margin", margin=0.5, rate_khz=[400.0])
    b = _finetune(lambda_max=2.0, aa_loss="margin", margin=0.5, rate_khz=[400.0])
    assert a == b
    assert all(row["margin_threshold"] > 0 and row["margin_fpr"] == pytest.approx(0.01) for row in a)
    assert a[0]["aa_term_anom"] > 0  # the anomalies start below the background's quantile


def test_save_reload_identity(tmp_path):
    from aa_trigger.model.scores import compute_scores
    from aa_trigger.runfolder import load_parts, save_parts

    cfg = ModelConfig(n_features=12, widths=[8], latent=3, quantize=6, surrogate_width=4, recon="mse")
    tf.keras.utils.set_random_seed(2)
    parts = VAEParts.build(cfg)
    train_vae(parts, _data(), TrainConfig(epochs_pretrain=1, batch_size=256))
    save_parts(tmp_path, parts)
    again = load_parts(tmp_path, cfg)
    x = _data(2000, seed=5)
    a, b = compute_scores(parts, x), compute_scores(again, x)
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_weighting_is_fitted_to_the_full_vae_score():
    from aa_trigger.model.training import fit_weighting, recon_error

    cfg = ModelConfig(n_features=12, widths=[8], latent=3, quantize=8, surrogate_width=4, recon="mse")
    tf.keras.utils.set_random_seed(3)
    parts = VAEParts.build(cfg)
    train_vae(parts, _data(), TrainConfig(epochs_pretrain=3, batch_size=256, seed=3))
    x = np.r_[_data(2000, seed=4), _data(200, seed=5) * 3]
    row = fit_weighting(parts, x)
    w, b = parts.weighting.get_layer("wmu2_out").get_weights()
    assert row["stage"] == "weighting" and np.all(w >= 0) and np.any(w > 0) and b[0] == 0.0
    mu, _ = parts.encoder.predict(x, verbose=0)
    score = parts.weighting.predict(mu, verbose=0)[:, 0]
    assert np.corrcoef(score, recon_error(parts, x))[0, 1] > 0.3  # it follows the full VAE score


def test_joint_surrogate_learns_inside_the_aa_loop():
    """--aa-target surrogate: the head regresses log(recon) in the AA loop and AA pushes its output up on
    the anomalies (more with lambda than without)."""
    def gap(lam):
        cfg = ModelConfig(n_features=12, widths=[8], latent=3, quantize=0, surrogate_width=4, recon="mse")
        tf.keras.utils.set_random_seed(2)
        parts = VAEParts.build(cfg)
        train_vae(parts, _data(), TrainConfig(epochs_pretrain=3, batch_size=256, seed=2))
        anom = _data(512, seed=1) * 0.2
        rows = train_vae(parts, _data(), TrainConfig(epochs_finetune=6, batch_size=256, anomaly_fraction=0.1, seed=2,
                                                     lambda_max=lam, aa_target="surrogate", clip=1e3), x_anom=anom)
        assert all("surrogate_mse" in r for r in rows)
        score = lambda x: parts.surrogate.predict(parts.encoder.predict(x, verbose=0)[0], verbose=0)[:, 0]  # noqa
        return float(score(anom).mean() - score(_data(2000, seed=6)).mean()), rows

    g0, rows0 = gap(0.0)
    g1, _ = gap(1.0)
    assert rows0[-1]["surrogate_mse"] < rows0[0]["surrogate_mse"]  # without AA it just learns the regression
    assert g1 > g0, (g0, g1)
