"""High-granularity quantisation (HGQ; Sun et al., the Keras-2 release ``hgq`` 0.2.x) of the deployable layers.

Every weight has its own trained bit width (zero-bit weights are pruned) and every neuron its own output type;
the loss gets HGQ's resource regulariser, ``beta`` times the layers' bit operations (BOPs), plus its small L1 on
the bit widths. The integer bits of each output type come from the range of values seen: reset every epoch
during training, then traced once on the training data (:func:`trace`) and stored with the run
(``hgq_ranges.json``), since Keras does not save them with the weights.

The deployable graph is read from HGQ's own bit-accurate proxy model (``to_proxy_model``, with saturation, as
every other layer of this project: a latent mean beyond its traced range then gives the largest score rather
than a wrapped one): per-input and per-neuron conversions become
:class:`~aa_trigger.firmware.graph.Quantize` nodes, its dense layers exact integer products.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aa_trigger.errors import AATriggerError

#: initial bits of each weight (HGQ adapts them to each weight's magnitude at build) and initial fractional
#: bits of every output type; training then moves each one
KERNEL_INIT_BITS = 6
ACT_INIT_FRAC = 6


def _configs() -> tuple[dict[str, Any], dict[str, Any]]:
    from HGQ import get_default_kq_conf, get_default_paq_conf

    kq, paq = get_default_kq_conf(), get_default_paq_conf()
    kq["init_bw"], paq["init_bw"] = KERNEL_INIT_BITS, ACT_INIT_FRAC
    return kq, paq


def quantize_input(name: str, beta: float) -> Any:
    """Per-input fixed-point types (HGQ's ``HQuantize``)."""
    from HGQ import HQuantize

    return HQuantize(paq_conf=_configs()[1], beta=beta, name=name)


def dense(units: int, name: str, relu: bool, beta: float) -> Any:
    """A dense layer with per-weight widths and per-neuron output types (HGQ's ``HDense``)."""
    from HGQ import HDense

    kq, paq = _configs()
    return HDense(units, activation="relu" if relu else None, kq_conf=kq, paq_conf=paq, beta=beta, name=name)


def hgq_layers(model: Any) -> list[Any]:
    from HGQ.layers.base import HLayerBase

    return [layer for layer in model.layers if isinstance(layer, HLayerBase)]


def reset_ranges(*models: Any) -> None:
    """Forget the recorded output ranges (HGQ's ``ResetMinMax``, once per epoch)."""
    for model in models:
        for layer in hgq_layers(model):
            layer.reset_minmax()


def bops(*models: Any) -> float:
    """The BOPs HGQ computed in the models' last training step (the regulariser's value over beta)."""
    return float(sum(layer.bops.numpy() for m in models for layer in hgq_layers(m)))


def copy_ranges(src: Any, dst: Any) -> None:
    """The recorded ranges of ``src``'s HGQ layers into ``dst``'s (same architecture)."""
    for model_s, model_d in zip((src.encoder, src.surrogate), (dst.encoder, dst.surrogate)):
        for a, b in zip(hgq_layers(model_s), hgq_layers(model_d)):
            b.paq._min.assign(a.paq._min)
            b.paq._max.assign(a.paq._max)


def regularisation(*models: Any) -> Any:
    """The summed HGQ losses (BOPs times beta, L1 on the bit widths) of the models' last call."""
    import tensorflow as tf

    terms = [loss for m in models for loss in m.losses]
    return tf.add_n(terms) if terms else tf.constant(0.0)


def trace(parts: Any, x: np.ndarray) -> float:
    """Trace the output ranges of the encoder and the surrogate head on ``x`` (the training data) and
    return the exact BOPs of both."""
    from HGQ import trace_minmax

    bops = float(trace_minmax(parts.encoder, x, verbose=False))
    mu, _ = parts.encoder.predict(x, batch_size=16384, verbose=0)
    return bops + float(trace_minmax(parts.surrogate, mu, verbose=False))


def ranges(parts: Any) -> dict[str, dict[str, list[float]]]:
    """The traced ranges of every HGQ layer (strict JSON: finite floats)."""
    out = {}
    for model in (parts.encoder, parts.surrogate):
        for layer in hgq_layers(model):
            lo, hi = layer.paq._min.numpy().ravel(), layer.paq._max.numpy().ravel()
            if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
                raise AATriggerError(f"HGQ layer {layer.name}: no traced range (run trace first)")
            out[layer.name] = {"min": lo.tolist(), "max": hi.tolist()}
    return out


def set_ranges(parts: Any, saved: dict[str, Any], where: str = "hgq ranges") -> None:
    """Restore :func:`ranges` into freshly built parts."""
    for model in (parts.encoder, parts.surrogate):
        for layer in hgq_layers(model):
            entry = saved.get(layer.name)
            q = layer.paq
            shape = tuple(q._min.shape)
            try:
                lo = np.asarray(entry["min"], np.float32).reshape(shape)
                hi = np.asarray(entry["max"], np.float32).reshape(shape)
            except (TypeError, KeyError, ValueError):
                raise AATriggerError(f"{where}: no valid range of {int(np.prod(shape))} values for HGQ layer "
                                     f"{layer.name}") from None
            if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(lo <= hi)):
                raise AATriggerError(f"{where}: the range of HGQ layer {layer.name} is not finite and ordered")
            q._min.assign(lo)
            q._max.assign(hi)


def exact_bops(parts: Any) -> float:
    """HGQ's exact BOPs of the deployable layers with the current ranges."""
    return float(sum(layer.compute_exact_bops for m in (parts.encoder, parts.surrogate) for layer in hgq_layers(m)))


def _integers(values: np.ndarray, where: str) -> tuple[np.ndarray, int]:
    """Exact integers and the fractional bits that make every value one."""
    v = np.asarray(values, np.float64)
    if not np.all(np.isfinite(v)):
        raise AATriggerError(f"{where}: weights are NaN or infinite (the training diverged)")
    for frac in range(0, 48):
        scaled = v * 2.0**frac
        if np.array_equal(scaled, np.round(scaled)):
            return scaled.astype(np.int64), frac
    raise AATriggerError(f"{where}: weights need more than 48 fractional bits")


def _container(ints: np.ndarray, frac: int) -> Any:
    """The signed type that holds every constant (for hls4ml and reports); ``frac`` fractional bits."""
    from aa_trigger.model.quant import QuantSpec

    width = max(2, int(np.abs(ints).max(initial=0)).bit_length() + 1)
    return QuantSpec("bits", width, width - frac - 1)


def proxy_nodes(model: Any, float_source: Any) -> list[Any]:
    """Graph nodes of a model's HGQ proxy (saturating): quantisers, exact dense layers, ReLUs."""
    import tensorflow as tf
    from HGQ import to_proxy_model

    from aa_trigger.firmware.graph import Dense, Quantize, Relu

    proxy = to_proxy_model(model, aggressive=False)
    nodes: list[Any] = []
    for layer in proxy.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind == "FixedPointQuantizer":
            if layer.SAT != "SAT" or layer.RND not in ("TRN", "RND"):
                raise AATriggerError(f"HGQ proxy layer {layer.name}: {layer.RND}/{layer.SAT} is not supported")
            n = int(layer.output_shape[-1])  # a layer-wide type is one element, broadcast
            k, b, i = (np.broadcast_to(np.asarray(v.numpy(), np.int64).ravel(), (n,)).copy()
                       for v in (layer.keep_negative, layer.bits, layer.integers))
            nodes.append(Quantize(layer.name, k, b, i, layer.RND))
        elif kind == "Dense":
            if layer.activation is not tf.keras.activations.linear:
                raise AATriggerError(f"HGQ proxy layer {layer.name}: unexpected activation")
            w, bias = layer.get_weights()
            kernel, wf = _integers(w, layer.name)
            b, bf = _integers(bias, layer.name)
            in_frac = nodes[-1].frac if nodes and isinstance(nodes[-1], Quantize) else 0
            if bf > in_frac + wf:  # the accumulator's grid must hold the bias: finer kernel units
                kernel, wf = kernel << (bf - in_frac - wf), bf - in_frac
            src = float_source.get_layer(layer.name)
            nodes.append(Dense(layer.name, kernel, b, _container(kernel, wf), _container(b, bf), False, None, "",
                               np.asarray(src.kernel.numpy(), np.float64), np.asarray(src.bias.numpy(), np.float64)))
        elif kind == "ReLU":
            nodes.append(Relu(layer.name))
        else:
            raise AATriggerError(f"HGQ proxy layer {layer.name}: {kind} has no graph node")
    return nodes


def graph_nodes(parts: Any, score: str) -> list[Any]:
    """The deployable graph's nodes of an HGQ model for ``mu2`` or ``surrogate``."""
    import tensorflow as tf

    from aa_trigger.firmware.graph import SumSquares
    from aa_trigger.model.vae import MU_DENSE, SCORE_MU2, check_score

    check_score(parts, score)
    enc = parts.encoder
    nodes = proxy_nodes(tf.keras.Model(enc.input, enc.get_layer(MU_DENSE).output), enc)
    if score == "mu2":
        return nodes + [SumSquares(SCORE_MU2)]
    return nodes + proxy_nodes(parts.surrogate, parts.surrogate)


def proxy_scores(parts: Any, score: str, x: np.ndarray, batch: int = 16384) -> np.ndarray:
    """The score of HGQ's own proxy models (``to_proxy_model``, saturating) on float inputs; the sum of mu^2
    added in float64 (exact)."""
    import tensorflow as tf
    from HGQ import to_proxy_model

    from aa_trigger.model.vae import MU_DENSE

    enc = parts.encoder
    deploy = to_proxy_model(tf.keras.Model(enc.input, enc.get_layer(MU_DENSE).output), aggressive=False)
    mu = deploy.predict(np.asarray(x, np.float32), batch_size=batch, verbose=0)
    if score == "mu2":
        return np.sum(mu.astype(np.float64) ** 2, axis=1)
    head = to_proxy_model(parts.surrogate, aggressive=False)
    return head.predict(mu, batch_size=batch, verbose=0)[:, 0].astype(np.float64)
