"""Vectorised numpy model of the firmware, exact by construction (int64 arithmetic).

Every value is an integer in units of 2**-frac. A dense layer accumulates exactly
(``x @ W + b`` with aligned binary points, as hls4ml's 'auto' accumulators do), then the
activation converts to the layer's output type:

* ``relu``  -> ``ap_ufixed<W, I, AP_RND_CONV, AP_SAT>`` (negative -> 0, round half to even, clip)
* ``quant`` -> ``ap_fixed<W, I, AP_RND_CONV, AP_SAT>``
* ``linear`` with no type -> the exact accumulator.

The ``mu2`` score is the exact sum of squares of the latent means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aa_trigger.deploy import FixedGraph


def round_half_even_shift(v: np.ndarray, shift: int) -> np.ndarray:
    """``v / 2**shift`` rounded to the nearest integer, ties to even (AP_RND_CONV); exact."""
    if shift <= 0:
        return v << (-shift)
    q = v >> shift
    r = v - (q << shift)
    half = np.int64(1) << (shift - 1)
    up = (r > half) | ((r == half) & ((q & 1) == 1))
    return q + up


@dataclass
class Fx:
    """Integer array with its binary point: value = ``v * 2**-frac``."""

    v: np.ndarray
    frac: int

    def to_float(self) -> np.ndarray:
        return self.v.astype(np.float64) * 2.0**-self.frac


def _convert(x: Fx, width: int, int_bits: int, signed: bool) -> Fx:
    frac = width - int_bits
    v = round_half_even_shift(x.v, x.frac - frac)
    lo = -(np.int64(1) << (width - 1)) if signed else np.int64(0)
    hi = (np.int64(1) << (width - 1 if signed else width)) - 1
    return Fx(np.clip(v, lo, hi), frac)


def run_graph(graph: FixedGraph, x_int: np.ndarray, trace: bool = False) -> tuple[Fx, dict[str, Fx]]:
    """Score of inputs given as integers in units of 2**-input_frac; optionally every layer's output."""
    x = Fx(np.asarray(x_int, np.int64), graph.input_type.frac)
    outputs: dict[str, Fx] = {}
    for layer in graph.layers:
        frac = x.frac + layer.w_frac
        if layer.b_frac > frac:
            raise ValueError(f"{layer.name}: bias has more fractional bits than the accumulator")
        acc = x.v @ layer.kernel + (layer.bias << (frac - layer.b_frac))
        y = Fx(acc, frac)
        if layer.activation == "relu":
            y = _convert(Fx(np.maximum(acc, 0), frac), layer.out_type.width, layer.out_type.int_bits, False)
        elif layer.out_type is not None:
            y = _convert(y, layer.out_type.width, layer.out_type.int_bits, layer.out_type.signed)
        if trace:
            outputs[layer.name] = y
        x = y
    if graph.score == "mu2":
        x = Fx(np.sum(x.v * x.v, axis=1, keepdims=True), 2 * x.frac)
    return x, outputs


def score(graph: FixedGraph, x_int: np.ndarray, chunk: int = 262_144) -> np.ndarray:
    """Emulated firmware score (float64, exact) of integer inputs (N, n_features)."""
    out = [run_graph(graph, x_int[i:i + chunk])[0].to_float()[:, 0] for i in range(0, len(x_int), chunk)]
    return np.concatenate(out) if out else np.zeros(0)


def score_int(graph: FixedGraph, x_int: np.ndarray) -> tuple[np.ndarray, int]:
    """Emulated score as the integer the firmware holds, and its fractional bits."""
    y, _ = run_graph(graph, x_int)
    return y.v[:, 0], y.frac
