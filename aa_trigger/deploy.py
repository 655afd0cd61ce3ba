"""The deployable graph: encoder mean + latent score, as a Keras model hls4ml converts exactly.

Only what the trigger needs goes to firmware: the encoder's hidden layers, its mean
``mu`` (quantised to the latent type) and then either

* ``mu2``: sum of mu_i^2 (AXOL1TL), a ``Dot(axes=1)([mu, mu])`` layer, or
* ``surrogate``: the learned head regressing log(reconstruction error) from mu.

No sampling, no log-variance, no decoder. R_z (sum mu^2 / sigma^2) needs exp() of the
log-variance, which hls4ml cannot map exactly; it is refused.

The :class:`FixedGraph` description (integer weights and fixed-point types per layer) is the
single source for the hls4ml configuration and for the numpy emulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aa_trigger.errors import AATriggerError
from aa_trigger.model import ModelConfig
from aa_trigger.runfolder import Run

SCORE_TYPES = ("mu2", "surrogate")


@dataclass(frozen=True)
class Fixed:
    """An ``ap_fixed<width, int_bits>`` (or ``ap_ufixed``) type; ``frac = width - int_bits``."""

    width: int
    int_bits: int
    signed: bool = True

    @property
    def frac(self) -> int:
        return self.width - self.int_bits

    def hls(self, rounding: str = "", saturation: str = "") -> str:
        name = "fixed" if self.signed else "ufixed"
        extra = "".join(f",{m}" for m in (rounding, saturation) if m)
        return f"{name}<{self.width},{self.int_bits}{extra}>"


@dataclass
class DenseSpec:
    """One dense layer: integer weights in units of 2**-w_frac, output handling."""

    name: str
    kernel: np.ndarray  # int64 (n_in, n_out), value * 2**w_frac
    bias: np.ndarray  # int64 (n_out,), value * 2**b_frac
    w_frac: int
    b_frac: int
    activation: str  # "relu" (quantized_relu), "quant" (quantized_bits on the result) or "linear"
    out_type: Fixed | None  # type after the activation/quantiser; None = exact ('auto')


@dataclass
class FixedGraph:
    """Integer description of the deployable network."""

    input_type: Fixed
    layers: list[DenseSpec]
    score: str
    n_features: int


def _quantised_weights(layer: Any, cfg: ModelConfig) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The layer's weights as QKeras quantises them, as exact integers."""
    kernel_q = layer.kernel_quantizer_internal
    bias_q = layer.bias_quantizer_internal
    k = np.asarray(kernel_q(layer.kernel).numpy(), np.float64)
    b = np.asarray(bias_q(layer.bias).numpy(), np.float64)
    w_frac = cfg.kernel_q[0] - cfg.kernel_q[1] - 1
    b_frac = cfg.bias_q[0] - cfg.bias_q[1] - 1
    ki, bi = k * 2.0**w_frac, b * 2.0**b_frac
    if not (np.array_equal(ki, np.round(ki)) and np.array_equal(bi, np.round(bi))):
        raise AATriggerError(f"layer {layer.name}: quantised weights are not on the expected grid "
                             "(alpha must be 1 for an exact mapping)")
    return ki.astype(np.int64), bi.astype(np.int64), w_frac, b_frac


def fixed_graph(run: Run, score: str) -> FixedGraph:
    """Describe the deployable graph of a run's AA model in integers and fixed-point types."""
    cfg = run.model_config
    if score == "rz":
        raise AATriggerError("score 'rz' needs exp(log-variance), which hls4ml cannot map exactly; "
                             "use --score mu2 or --score surrogate")
    if score not in SCORE_TYPES:
        raise AATriggerError(f"unknown score {score!r}; choose one of {', '.join(SCORE_TYPES)}")
    if cfg.quantize == 0:
        raise AATriggerError(f"run {run.path.name} is a float model (--quantize 0); only quantised runs "
                             "convert bit-exactly")
    relu = Fixed(cfg.relu_q[0], cfg.relu_q[1], signed=False)
    latent = Fixed(cfg.latent_q[0], cfg.latent_q[1] + 1)
    enc = run.aa.encoder
    layers: list[DenseSpec] = []
    for i in range(len(cfg.widths)):
        k, b, wf, bf = _quantised_weights(enc.get_layer(f"enc_dense{i}"), cfg)
        layers.append(DenseSpec(f"enc_dense{i}", k, b, wf, bf, "relu", relu))
    k, b, wf, bf = _quantised_weights(enc.get_layer("mu_dense"), cfg)
    layers.append(DenseSpec("mu_dense", k, b, wf, bf, "quant", latent))
    if score == "surrogate":
        sur = run.aa.surrogate
        k, b, wf, bf = _quantised_weights(sur.get_layer("sur_dense0"), cfg)
        layers.append(DenseSpec("sur_dense0", k, b, wf, bf, "relu", relu))
        k, b, wf, bf = _quantised_weights(sur.get_layer("sur_out"), cfg)
        layers.append(DenseSpec("sur_out", k, b, wf, bf, "linear", None))
    sc = run.scaler
    return FixedGraph(Fixed(sc.width, sc.int_bits), layers, score, cfg.n_features)


def build_keras_model(run: Run, score: str):
    """The deployable Keras/QKeras model (same layer names and weights as the trained run)."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    fixed_graph(run, score)  # validates
    cfg = run.model_config
    enc, sur = run.aa.encoder, run.aa.surrogate

    def qdense(src, units):
        layer = QDense(units, kernel_quantizer=quantized_bits(*cfg.kernel_q, alpha=1),
                       bias_quantizer=quantized_bits(*cfg.bias_q, alpha=1), name=src.name)
        return layer

    x = inp = tf.keras.Input((cfg.n_features,), name="inputs")
    copies = []
    for i, w in enumerate(cfg.widths):
        d = qdense(enc.get_layer(f"enc_dense{i}"), w)
        x = QActivation(quantized_relu(*cfg.relu_q), name=f"enc_relu{i}")(d(x))
        copies.append((d, enc.get_layer(f"enc_dense{i}")))
    d = qdense(enc.get_layer("mu_dense"), cfg.latent)
    mu = QActivation(quantized_bits(*cfg.latent_q, alpha=1), name="mu")(d(x))
    copies.append((d, enc.get_layer("mu_dense")))
    if score == "mu2":
        out = tf.keras.layers.Dot(axes=1, name="score_mu2")([mu, mu])
    else:
        d0 = qdense(sur.get_layer("sur_dense0"), cfg.surrogate_width)
        h = QActivation(quantized_relu(*cfg.relu_q), name="sur_relu0")(d0(mu))
        d1 = qdense(sur.get_layer("sur_out"), 1)
        out = d1(h)
        copies += [(d0, sur.get_layer("sur_dense0")), (d1, sur.get_layer("sur_out"))]
    model = tf.keras.Model(inp, out, name=f"aa_trigger_{score}")
    for new, old in copies:
        new.set_weights(old.get_weights())
    return model
