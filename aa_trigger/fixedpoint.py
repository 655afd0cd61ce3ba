"""Vectorised numpy model of the firmware, exact by construction (int64 arithmetic).

Every value is an integer in units of 2**-frac. A dense layer accumulates exactly
(``x @ W + b`` with aligned binary points, as hls4ml's 'auto' accumulators do), then the
activation converts to the layer's output type:

* ``relu``  -> ``ap_ufixed<W, I, AP_RND_CONV, AP_SAT>`` (negative -> 0, round half to even, clip)
* ``quant`` -> ``ap_fixed<W, I, AP_RND_CONV, AP_SAT>``
* ``linear`` with no type -> the exact accumulator.

The ``mu2`` score is the exact sum of squares of the latent means.

Speed: when every accumulator provably fits in 53 bits (checked from the weights and the
input type), the integers are held in float64 so that the matrix products run in BLAS;
integer-valued float64 arithmetic below 2**53 is exact, and ``np.rint`` rounds half to
even, so the result is identical to the int64 path (a test asserts it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aa_trigger.deploy import FixedGraph


def round_half_even_shift(v: np.ndarray, shift: int) -> np.ndarray:
    """``v / 2**shift`` rounded to the nearest integer, ties to even (AP_RND_CONV); exact."""
    if v.dtype == np.float64:  # integer-valued float64: power-of-two scaling and rint are exact
        return np.rint(v * 2.0**-shift)
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
    lo = -(1 << (width - 1)) if signed else 0
    hi = (1 << (width - 1 if signed else width)) - 1
    return Fx(np.clip(v, lo, hi), frac)


FLOAT64_EXACT_BITS = 52


def accumulator_bits(graph: FixedGraph) -> int:
    """Upper bound on the bits of any integer the graph computes (from weights and types)."""
    bound = float(2 ** (graph.input_type.width - 1))
    frac = graph.input_type.frac
    worst = bound
    for layer in graph.layers:
        acc = bound * np.abs(layer.kernel).sum(axis=0).max() + np.abs(layer.bias).max() * 2.0 ** (
            frac + layer.w_frac - layer.b_frac)
        worst = max(worst, acc)
        if layer.out_type is not None:
            bound, frac = float(2 ** layer.out_type.width), layer.out_type.frac
        else:
            bound, frac = acc, frac + layer.w_frac
    if graph.score == "mu2":
        worst = max(worst, bound**2 * graph.layers[-1].kernel.shape[1])
    return int(np.ceil(np.log2(worst + 1)))


def run_graph(graph: FixedGraph, x_int: np.ndarray, trace: bool = False,
              exact_int: bool = False) -> tuple[Fx, dict[str, Fx]]:
    """Score of inputs given as integers in units of 2**-input_frac; optionally every layer's output.

    ``exact_int`` forces the int64 path (otherwise float64 is used when provably exact).
    """
    use_float = not exact_int and accumulator_bits(graph) <= FLOAT64_EXACT_BITS
    dtype = np.float64 if use_float else np.int64
    x = Fx(np.asarray(x_int, dtype), graph.input_type.frac)
    outputs: dict[str, Fx] = {}
    for layer in graph.layers:
        frac = x.frac + layer.w_frac
        if layer.b_frac > frac:
            raise ValueError(f"{layer.name}: bias has more fractional bits than the accumulator")
        bias = layer.bias.astype(dtype) * 2 ** (frac - layer.b_frac) if use_float else layer.bias << (frac - layer.b_frac)
        acc = x.v @ layer.kernel.astype(dtype) + bias
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


def score(graph: FixedGraph, x_int: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Emulated firmware score (float64, exact) of integer inputs (N, n_features).

    Chunks of 8192 events keep the working set in cache (measured fastest on 2 cores).
    """
    out = [run_graph(graph, x_int[i:i + chunk])[0].to_float()[:, 0] for i in range(0, len(x_int), chunk)]
    return np.concatenate(out) if out else np.zeros(0)


def score_int(graph: FixedGraph, x_int: np.ndarray) -> tuple[np.ndarray, int]:
    """Emulated score as the integer the firmware holds, and its fractional bits."""
    y, _ = run_graph(graph, x_int)
    return y.v[:, 0].astype(np.int64), y.frac
