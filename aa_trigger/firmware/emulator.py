"""Vectorised numpy model of the firmware, exact by construction.

Every value is an integer in units of ``2**-frac``. A dense layer accumulates exactly, then
converts to its output type: ReLU, round half to even (``AP_RND_CONV``), saturate (``AP_SAT``);
the sum of squares is exact. When every integer the graph can produce fits in 53 bits (proven
from the weights and the input type by :func:`~aa_trigger.firmware.graph.accumulator_bits`),
the integers are held in float64 so that the matrix products run in BLAS; integer-valued float64
arithmetic below 2**53 is exact and ``np.rint`` rounds half to even, so the result is identical
to the int64 path (a test asserts it). numpy overflow or invalid operations raise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aa_trigger.firmware.graph import (Dense, FixedGraph, Quantize, Relu, Scale, Squares, accumulator_bits,
                                      split_scaling)
from aa_trigger.model.quant import FixedType

FLOAT64_EXACT_BITS = 52
INT64_BITS = 63


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


def convert(x: Fx, t: FixedType) -> Fx:
    """``x`` in type ``t``: round half to even, saturate."""
    v = round_half_even_shift(x.v, x.frac - t.frac)
    return Fx(np.clip(v, t.int_min, t.int_max), t.frac)


def _dense(node: Dense, x: Fx, dtype: type) -> Fx:
    frac = x.frac + node.w_frac
    shift = frac - node.b_frac
    bias = node.bias.astype(dtype) * 2**shift if dtype is np.float64 else node.bias << shift
    y = Fx(x.v @ node.kernel.astype(dtype) + bias, frac)
    if node.relu:
        y = Fx(np.maximum(y.v, 0), frac)
    return convert(y, node.out_type) if node.out_type is not None else y


def _scale(node: Scale, x: Fx) -> Fx:
    """``((x - offset) << frac) >> shift`` per feature (floor), saturated to the node's output type."""
    t = node.out_type
    if x.v.dtype == np.float64:  # integer-valued, below 2**53: the power-of-two scaling and floor are exact
        v = np.floor((x.v - node.offset) * 2.0 ** (t.frac - node.shift.astype(np.float64)))
    else:
        v = ((x.v - node.offset) << t.frac) >> node.shift
    return Fx(np.clip(v, t.int_min, t.int_max), t.frac)


def _quantize(node: Quantize, x: Fx) -> Fx:
    """Per element: to ``2**-frac_j`` by floor (TRN) or round half up (RND), saturate, zero-width elements 0;
    held in units of ``2**-node.frac``. Columns with the same shift are done together."""
    f = node.elem_frac
    out = np.zeros_like(x.v)
    lo, hi, frac = node.elem_min, node.elem_max, node.frac
    for s in np.unique(x.frac - f):
        cols = np.flatnonzero((x.frac - f == s) & (node.width > 0))
        if not len(cols):
            continue
        v = x.v[:, cols]
        if v.dtype == np.float64:  # integer-valued below 2**53: power-of-two scaling and floor are exact
            v = np.floor(v * 2.0 ** -int(s) + (0.5 if node.rounding == "RND" and s > 0 else 0.0))
        elif s > 0:
            v = (v + ((np.int64(1) << (s - 1)) if node.rounding == "RND" else 0)) >> s
        else:
            v = v << -s
        v = np.clip(v, lo[cols], hi[cols])
        up = frac - f[cols]
        out[:, cols] = v * (2.0**up if v.dtype == np.float64 else np.left_shift(np.int64(1), up))
    return Fx(out, frac)


def _sum_squares(x: Fx) -> Fx:
    return Fx(np.sum(x.v * x.v, axis=1, keepdims=True), 2 * x.frac)


def _squares(x: Fx) -> Fx:
    return Fx(x.v * x.v, 2 * x.frac)


def run_graph(graph: FixedGraph, x_int: np.ndarray, trace: bool = False,
              exact_int: bool = False) -> tuple[Fx, dict[str, Fx]]:
    """Score of inputs given as integers in units of ``2**-input_frac``; optionally every node's output.

    ``exact_int`` forces the int64 path (otherwise float64 is used when provably exact)."""
    bits = accumulator_bits(graph)
    if bits > INT64_BITS:
        raise ValueError(f"the graph needs {bits}-bit integers; the emulator holds at most {INT64_BITS}")
    dtype = np.float64 if not exact_int and bits <= FLOAT64_EXACT_BITS else np.int64
    x = Fx(np.asarray(x_int, dtype), graph.input_type.frac)
    outputs: dict[str, Fx] = {}
    with np.errstate(all="raise"):
        for node in graph.nodes:
            x = (_dense(node, x, dtype) if isinstance(node, Dense) else _scale(node, x) if isinstance(node, Scale)
                 else _quantize(node, x) if isinstance(node, Quantize)
                 else Fx(np.maximum(x.v, 0), x.frac) if isinstance(node, Relu)
                 else _squares(x) if isinstance(node, Squares) else _sum_squares(x))
            if trace:
                outputs[node.name] = x
    return x, outputs


def score(graph: FixedGraph, x_int: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Emulated firmware score (float64, exact) of integer inputs (N, n_features).

    Chunks of 8192 events keep the working set in cache (measured fastest on 2 cores)."""
    out = [run_graph(graph, x_int[i:i + chunk])[0].to_float()[:, 0] for i in range(0, len(x_int), chunk)]
    return np.concatenate(out) if out else np.zeros(0)


def score_int(graph: FixedGraph, x_int: np.ndarray) -> tuple[np.ndarray, int]:
    """Emulated score as the integer the firmware holds, and its fractional bits."""
    y, _ = run_graph(graph, x_int)
    return y.v[:, 0].astype(np.int64), y.frac


def network_inputs(graph: FixedGraph, x_int: np.ndarray) -> tuple[FixedGraph, np.ndarray]:
    """The network after the input scaling and its inputs (the scaled integers); unchanged without scaling.
    For consumers that cannot scale (QKeras, hls4ml's own model)."""
    scale, net = split_scaling(graph)
    if scale is None:
        return graph, x_int
    return net, _scale(scale, Fx(np.asarray(x_int, np.int64), 0)).v
