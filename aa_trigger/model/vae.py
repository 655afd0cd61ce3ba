"""The VAE: encoder (mu, log-variance), mirrored decoder, latent-score surrogate head.

The three parts are separate functional Keras models, so nothing needs a Lambda layer or pickle:
the sampling step lives in the training loop, and a run folder stores the architecture as JSON
(:class:`ModelConfig`) plus one HDF5 weights file per part. This module is the only place that
spells the networks' layer names; :func:`deployable_layers` hands the deployable ones to the
firmware graph in order.

Quantisers (``quantize = N`` bits, or one width per encoder layer; 0 gives the float model) come from
:meth:`aa_trigger.model.quant.Quantisation.uniform`, chosen so that hls4ml maps them exactly; with
``quantize = "hgq"`` the deployable layers are HGQ's (:mod:`aa_trigger.model.hgq`) and the decoder is float.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from aa_trigger.errors import AATriggerError
from aa_trigger.model.quant import QuantMode, QuantSpec, Quantisation

#: architecture defaults per data kind: encoder widths, latent dimension, reconstruction loss
#: (trigger: AXOL1TL v2-v4 deploy 8 latent means; tabular and images: the AA paper's networks)
KIND_DEFAULTS: dict[str, tuple[list[int], int, str]] = {
    "trigger": ([32, 16], 8, "mse"),
    "tabular": ([16], 2, "mse"),
    "image": ([400], 20, "bce"),
}
#: What AA pushes up when ``--aa-target auto`` (the default), per data kind: the target the study over
#: 5 seeds measured best with the default loss (README, "Anomaly Awareness at the working point"): on trigger
#: data the paper's reconstruction error (highest mean unseen efficiency at 1 kHz of a deployed score, the
#: weighted sum of mu^2); on the network-flow table the deployable sum mu^2 itself (highest mean unseen AUC
#: of a deployed score with no unseen class lowered by more than its seed spread); on images the jointly
#: trained surrogate head (mean unseen AUC 0.95 against 0.85 without AA).
AA_TARGET_BY_KIND = {"trigger": "recon", "tabular": "latent", "image": "surrogate"}
RECON_LOSSES = ("mse", "bce")

# the layer names (written into weight files and hls4ml projects)
INPUT = "inputs"
MU_DENSE, MU, LOGVAR_DENSE = "mu_dense", "mu", "logvar_dense"
SUR_DENSE, SUR_RELU, SUR_OUT = "sur_dense0", "sur_relu0", "sur_out"
INPUT_Q, SUR_IN_Q = "inputs_q", "sur_in_q"  # HGQ: the per-input quantisers of the encoder and surrogate head
SCORE_MU2 = "score_mu2"
W_SQUARES, W_OUT = "mu_squares", "wmu2_out"  # the weighted sum of mu^2: squares, then a 1-output dense


def enc_dense(i: int) -> str:
    return f"enc_dense{i}"


def enc_relu(i: int) -> str:
    return f"enc_relu{i}"


@dataclass
class ModelConfig:
    """Architecture of the VAE and the surrogate head (``model.json`` of a run folder)."""

    n_features: int
    widths: list[int]
    latent: int
    quantize: int | str  # see QuantMode: 0, N, "N,N,...", "hgq"
    surrogate_width: int
    #: decoder output and reconstruction error: "mse" (linear output, sum of squared errors)
    #: or "bce" (sigmoid output, summed binary cross-entropy; images in [0, 1])
    recon: str
    #: with quantize "hgq": the resource regularisation strength (weight of the BOPs in the loss)
    hgq_beta: float = 0.0

    def validate(self) -> None:
        if self.n_features < 1:
            raise AATriggerError(f"n_features must be positive, got {self.n_features}")
        if not self.widths or any(w < 1 for w in self.widths):
            raise AATriggerError(f"--widths must be positive integers, got {self.widths}")
        if not 1 <= self.latent <= 64:
            raise AATriggerError(f"--latent must be between 1 and 64, got {self.latent}")
        self.mode.layer_bits(len(self.widths) + 1) if self.mode.kind == "qkeras" else None
        if self.hgq_beta < 0:
            raise AATriggerError(f"--hgq-beta must be >= 0, got {self.hgq_beta}")
        if self.recon not in RECON_LOSSES:
            raise AATriggerError(f"unknown reconstruction loss {self.recon!r}")
        if self.surrogate_width < 1:
            raise AATriggerError(f"--surrogate-width must be positive, got {self.surrogate_width}")

    @property
    def mode(self) -> QuantMode:
        return QuantMode.parse(self.quantize)

    @property
    def quant(self) -> Quantisation | None:
        """QKeras: the quantisers of the decoder, the surrogate head and the weighting (the widest layer's
        width); None for float and HGQ models."""
        m = self.mode
        return Quantisation.uniform(max(m.bits)) if m.kind == "qkeras" else None

    def layer_quant(self, i: int) -> Quantisation | None:
        """QKeras: the quantisers of encoder dense layer ``i`` (``len(widths)``: the latent mean)."""
        m = self.mode
        return Quantisation.uniform(m.layer_bits(len(self.widths) + 1)[i]) if m.kind == "qkeras" else None

    @property
    def hgq(self) -> bool:
        return self.mode.kind == "hgq"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _dense(q: Quantisation | None, units: int, name: str) -> Any:
    import tensorflow as tf

    if q is None:
        return tf.keras.layers.Dense(units, name=name)
    from qkeras import QDense

    return QDense(units, kernel_quantizer=q.kernel.qkeras(), bias_quantizer=q.bias.qkeras(), name=name)


def _activation(spec: QuantSpec | None, float_kind: str, name: str) -> Any:
    import tensorflow as tf

    if spec is None:
        return tf.keras.layers.Activation(float_kind, name=name)
    from qkeras import QActivation

    return QActivation(spec.qkeras(), name=name)


def build_encoder(cfg: ModelConfig) -> Any:
    """Input -> Dense/ReLU stack -> (mu, log-variance); mu is quantised to the latent type."""
    import tensorflow as tf

    x = inp = tf.keras.Input((cfg.n_features,), name=INPUT)
    if cfg.hgq:
        from aa_trigger.model import hgq

        x = hgq.quantize_input(INPUT_Q, cfg.hgq_beta)(x)
        for i, w in enumerate(cfg.widths):
            x = hgq.dense(w, enc_dense(i), True, cfg.hgq_beta)(x)
        mu = hgq.dense(cfg.latent, MU_DENSE, False, cfg.hgq_beta)(x)
        return tf.keras.Model(inp, [mu, _dense(None, cfg.latent, LOGVAR_DENSE)(x)], name="encoder")
    for i, w in enumerate(cfg.widths):
        q = cfg.layer_quant(i)
        x = _activation(q and q.relu, "relu", enc_relu(i))(_dense(q, w, enc_dense(i))(x))
    q = cfg.layer_quant(len(cfg.widths))
    mu = _activation(q and q.latent, "linear", MU)(_dense(q, cfg.latent, MU_DENSE)(x))
    logvar = _dense(q, cfg.latent, LOGVAR_DENSE)(x)
    return tf.keras.Model(inp, [mu, logvar], name="encoder")


def build_decoder(cfg: ModelConfig) -> Any:
    """Latent -> mirrored Dense/ReLU stack -> linear (or sigmoid) reconstruction of the inputs."""
    import tensorflow as tf

    q = cfg.quant
    x = inp = tf.keras.Input((cfg.latent,), name="z")
    for i, w in enumerate(reversed(cfg.widths)):
        x = _activation(q and q.relu, "relu", f"dec_relu{i}")(_dense(q, w, f"dec_dense{i}")(x))
    out = _dense(q, cfg.n_features, "reconstruction")(x)
    if cfg.recon == "bce":
        out = tf.keras.layers.Activation("sigmoid", name="sigmoid")(out)
    return tf.keras.Model(inp, out, name="decoder")


def build_surrogate(cfg: ModelConfig) -> Any:
    """Latent mean -> Dense/ReLU -> Dense(1): regresses the full VAE score from mu alone."""
    import tensorflow as tf

    q = cfg.quant
    x = inp = tf.keras.Input((cfg.latent,), name="mu_in")
    if cfg.hgq:
        from aa_trigger.model import hgq

        x = hgq.quantize_input(SUR_IN_Q, cfg.hgq_beta)(x)
        x = hgq.dense(cfg.surrogate_width, SUR_DENSE, True, cfg.hgq_beta)(x)
        return tf.keras.Model(inp, hgq.dense(1, SUR_OUT, False, cfg.hgq_beta)(x), name="surrogate")
    x = _activation(q and q.relu, "relu", SUR_RELU)(_dense(q, cfg.surrogate_width, SUR_DENSE)(x))
    out = _dense(q, 1, SUR_OUT)(x)
    return tf.keras.Model(inp, out, name="surrogate")


def build_weighting(cfg: ModelConfig) -> Any:
    """Latent mean -> mu_i^2 -> Dense(1): sum_i w_i mu_i^2 (+ b); the weights are fitted, not trained
    by gradient (:func:`aa_trigger.model.training.fit_weighting`)."""
    import tensorflow as tf

    x = inp = tf.keras.Input((cfg.latent,), name="mu_w_in")
    squares = tf.keras.layers.Multiply(name=W_SQUARES)([x, x])
    return tf.keras.Model(inp, _dense(cfg.quant, 1, W_OUT)(squares), name="weighting")


def reconstruction_error(x: Any, xhat: Any, recon: str, xp: Any) -> Any:
    """Per-event reconstruction error: sum of squared errors or of binary cross-entropies.

    ``xp`` is the array module (``numpy`` or ``tensorflow.experimental.numpy``)."""
    if recon == "bce":
        eps = 1e-7
        xhat = xp.clip(xhat, eps, 1.0 - eps)
        return -xp.sum(x * xp.log(xhat) + (1.0 - x) * xp.log(1.0 - xhat), axis=1)
    return xp.sum((x - xhat) ** 2, axis=1)


@dataclass
class VAEParts:
    """The trained networks of one model (``weighting`` is None for runs written before it existed)."""

    config: ModelConfig
    encoder: Any
    decoder: Any
    surrogate: Any
    weighting: Any = None

    @classmethod
    def build(cls, cfg: ModelConfig) -> "VAEParts":
        cfg.validate()
        return cls(cfg, build_encoder(cfg), build_decoder(cfg), build_surrogate(cfg),
                   None if cfg.hgq else build_weighting(cfg))

    def copy(self) -> "VAEParts":
        other = VAEParts.build(self.config)
        if self.weighting is None:
            other.weighting = None
        for mine, theirs in zip(self.models(), other.models()):
            theirs.set_weights(mine.get_weights())
        if self.config.hgq:
            from aa_trigger.model import hgq

            hgq.copy_ranges(self, other)
        return other

    def models(self) -> tuple[Any, ...]:
        return (self.encoder, self.decoder, self.surrogate) + (() if self.weighting is None else (self.weighting,))


@dataclass
class DeployableLayer:
    """A trained dense layer that goes to the FPGA, with what follows it."""

    layer: Any  # the trained QDense
    kernel_q: QuantSpec
    bias_q: QuantSpec
    relu: bool
    out_q: QuantSpec | None  # quantiser of its output (None: exact)
    act_name: str


#: the latent-space scores that can go to the FPGA
DEPLOYABLE_SCORES = ("mu2", "surrogate", "wmu2")


@dataclass
class Squares:
    """Element-wise squares of the previous layer's output, summed (``total``) or kept per element."""

    name: str
    total: bool


def available_scores(parts: VAEParts) -> tuple[str, ...]:
    """The deployable scores these parts have (runs written before the weighted score lack ``wmu2``)."""
    return tuple(s for s in DEPLOYABLE_SCORES if s != "wmu2" or parts.weighting is not None)


def check_score(parts: VAEParts, score: str) -> None:
    """Refuse, in one line, a score these parts cannot deploy."""
    if score == "rz":
        raise AATriggerError("score 'rz' needs exp(log-variance), which hls4ml cannot map exactly; "
                             "use --score mu2, surrogate or wmu2")
    if score not in DEPLOYABLE_SCORES:
        raise AATriggerError(f"unknown score {score!r}; choose one of {', '.join(DEPLOYABLE_SCORES)}")
    if score not in available_scores(parts):
        why = ("HGQ models deploy mu2 and surrogate (the weighted sum's fitted weights have no HGQ quantiser)"
               if parts.config.hgq else "this run was trained before the weighted sum of mu^2 existed; retrain it")
        raise AATriggerError(f"score {score!r}: {why}; use --score mu2 or surrogate")


def deployable_layers(parts: VAEParts, score: str) -> list[DeployableLayer | Squares]:
    """The steps from the inputs to the score: trained dense layers and squaring steps."""
    q = parts.config.quant
    if parts.config.hgq:
        raise ValueError("an HGQ model's graph comes from its proxy model (aa_trigger.model.hgq.graph_nodes)")
    if q is None:
        raise AATriggerError("a float model (--quantize 0) has no exact firmware; train with --quantize N or hgq")
    check_score(parts, score)
    enc, n = parts.encoder, len(parts.config.widths)
    lq = [parts.config.layer_quant(i) for i in range(n + 1)]
    steps: list[DeployableLayer | Squares] = [
        DeployableLayer(enc.get_layer(enc_dense(i)), lq[i].kernel, lq[i].bias, True, lq[i].relu, enc_relu(i))
        for i in range(n)]
    steps.append(DeployableLayer(enc.get_layer(MU_DENSE), lq[n].kernel, lq[n].bias, False, lq[n].latent, MU))
    if score == "mu2":
        return steps + [Squares(SCORE_MU2, True)]
    if score == "wmu2":
        return steps + [Squares(W_SQUARES, False),
                        DeployableLayer(parts.weighting.get_layer(W_OUT), q.kernel, q.bias, False, None, "")]
    sur = parts.surrogate
    return steps + [DeployableLayer(sur.get_layer(SUR_DENSE), q.kernel, q.bias, True, q.relu, SUR_RELU),
                    DeployableLayer(sur.get_layer(SUR_OUT), q.kernel, q.bias, False, None, "")]
