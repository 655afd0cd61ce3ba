"""QKeras VAE builder: encoder (mu, log-variance), mirrored decoder, latent-score surrogate.

The three parts are separate functional Keras models, so nothing needs a Lambda layer or
pickle: the sampling step lives in the training loop, and a run folder stores the
architecture as JSON (:class:`ModelConfig`) plus one HDF5 weights file per part.

Quantisers (``quantize = N`` bits; 0 gives the float model) are chosen so that hls4ml maps
them exactly:

* kernels ``quantized_bits(N, 1, alpha=1)``   -> ``ap_fixed<N, 2>``
* biases  ``quantized_bits(N, 3, alpha=1)``   -> ``ap_fixed<N, 4>``
* hidden activations ``quantized_relu(N, 4)`` -> ``ap_ufixed<N, 4, RND_CONV, SAT>``
* latent mean ``quantized_bits(N + 4, 5, alpha=1)`` -> ``ap_fixed<N + 4, 6, RND_CONV, SAT>``
  (the type the deployed score is computed from).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from aa_trigger.errors import AATriggerError


@dataclass
class ModelConfig:
    """Architecture of the VAE and the surrogate head."""

    n_features: int = 57
    widths: list[int] = field(default_factory=lambda: [32, 16])
    latent: int = 8
    quantize: int = 8
    surrogate_width: int = 16
    #: decoder output and reconstruction error: "mse" (linear output, sum of squared errors)
    #: or "bce" (sigmoid output, summed binary cross-entropy; images in [0, 1])
    recon: str = "mse"

    def validate(self) -> None:
        if self.n_features < 1:
            raise AATriggerError(f"n_features must be positive, got {self.n_features}")
        if not self.widths or any(w < 1 for w in self.widths):
            raise AATriggerError(f"--widths must be positive integers, got {self.widths}")
        if not 1 <= self.latent <= 64:
            raise AATriggerError(f"--latent must be between 1 and 64, got {self.latent}")
        if self.quantize != 0 and not 4 <= self.quantize <= 16:
            raise AATriggerError(f"--quantize must be 0 (float) or between 4 and 16 bits, got {self.quantize}")
        if self.recon not in ("mse", "bce"):
            raise AATriggerError(f"unknown reconstruction loss {self.recon!r}")
        if self.surrogate_width < 1:
            raise AATriggerError(f"--surrogate-width must be positive, got {self.surrogate_width}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # quantiser parameters (bits, integer bits), also used by the firmware conversion
    @property
    def kernel_q(self) -> tuple[int, int]:
        return self.quantize, 1

    @property
    def bias_q(self) -> tuple[int, int]:
        return self.quantize, 3

    @property
    def relu_q(self) -> tuple[int, int]:
        return self.quantize, 4

    @property
    def latent_q(self) -> tuple[int, int]:
        return self.quantize + 4, 5


def _dense(cfg: ModelConfig, units: int, name: str):
    import tensorflow as tf

    if cfg.quantize == 0:
        return tf.keras.layers.Dense(units, name=name)
    from qkeras import QDense, quantized_bits

    return QDense(
        units,
        kernel_quantizer=quantized_bits(*cfg.kernel_q, alpha=1),
        bias_quantizer=quantized_bits(*cfg.bias_q, alpha=1),
        name=name,
    )


def _relu(cfg: ModelConfig, name: str):
    import tensorflow as tf

    if cfg.quantize == 0:
        return tf.keras.layers.Activation("relu", name=name)
    from qkeras import QActivation, quantized_relu

    return QActivation(quantized_relu(*cfg.relu_q), name=name)


def _latent_quant(cfg: ModelConfig, name: str):
    import tensorflow as tf

    if cfg.quantize == 0:
        return tf.keras.layers.Activation("linear", name=name)
    from qkeras import QActivation, quantized_bits

    return QActivation(quantized_bits(*cfg.latent_q, alpha=1), name=name)


def build_encoder(cfg: ModelConfig):
    """Input -> Dense/ReLU stack -> (mu, log-variance); mu is quantised to the latent type."""
    import tensorflow as tf

    x = inp = tf.keras.Input((cfg.n_features,), name="inputs")
    for i, w in enumerate(cfg.widths):
        x = _dense(cfg, w, f"enc_dense{i}")(x)
        x = _relu(cfg, f"enc_relu{i}")(x)
    mu = _latent_quant(cfg, "mu")(_dense(cfg, cfg.latent, "mu_dense")(x))
    logvar = _dense(cfg, cfg.latent, "logvar_dense")(x)
    return tf.keras.Model(inp, [mu, logvar], name="encoder")


def build_decoder(cfg: ModelConfig):
    """Latent -> mirrored Dense/ReLU stack -> linear reconstruction of the inputs."""
    import tensorflow as tf

    x = inp = tf.keras.Input((cfg.latent,), name="z")
    for i, w in enumerate(reversed(cfg.widths)):
        x = _dense(cfg, w, f"dec_dense{i}")(x)
        x = _relu(cfg, f"dec_relu{i}")(x)
    out = _dense(cfg, cfg.n_features, "reconstruction")(x)
    if cfg.recon == "bce":
        out = tf.keras.layers.Activation("sigmoid", name="sigmoid")(out)
    return tf.keras.Model(inp, out, name="decoder")


def reconstruction_error(x, xhat, recon: str, xp):
    """Per-event reconstruction error: sum of squared errors or of binary cross-entropies.

    ``xp`` is the array module (``numpy`` or ``tensorflow.experimental.numpy``)."""
    if recon == "bce":
        eps = 1e-7
        xhat = xp.clip(xhat, eps, 1.0 - eps)
        return -xp.sum(x * xp.log(xhat) + (1.0 - x) * xp.log(1.0 - xhat), axis=1)
    return xp.sum((x - xhat) ** 2, axis=1)


def build_surrogate(cfg: ModelConfig):
    """Latent mean -> Dense/ReLU -> Dense(1): regresses the full VAE score from mu alone."""
    import tensorflow as tf

    x = inp = tf.keras.Input((cfg.latent,), name="mu_in")
    x = _relu(cfg, "sur_relu0")(_dense(cfg, cfg.surrogate_width, "sur_dense0")(x))
    out = _dense(cfg, 1, "sur_out")(x)
    return tf.keras.Model(inp, out, name="surrogate")


@dataclass
class VAEParts:
    """The trained networks of one run."""

    config: ModelConfig
    encoder: Any
    decoder: Any
    surrogate: Any

    @classmethod
    def build(cls, cfg: ModelConfig) -> "VAEParts":
        cfg.validate()
        return cls(cfg, build_encoder(cfg), build_decoder(cfg), build_surrogate(cfg))

    def copy(self) -> "VAEParts":
        other = VAEParts.build(self.config)
        for mine, theirs in zip(self.models(), other.models()):
            theirs.set_weights(mine.get_weights())
        return other

    def models(self) -> tuple[Any, Any, Any]:
        return self.encoder, self.decoder, self.surrogate
