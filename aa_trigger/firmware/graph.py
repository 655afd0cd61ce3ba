"""The deployable graph: the one description of what runs in the FPGA.

Built from the trained model parts in memory (:func:`build_graph`), it holds every tensor as
exact integers with its fixed-point type. Every consumer reads it: the numpy emulator
(:mod:`.emulator`), the float reference and the deployable QKeras model (:mod:`.keras_model`),
the hls4ml configuration (:mod:`.hls`) and the Verilog (:mod:`.rtl`).

Nodes, in order of evaluation:

* :class:`Dense`: ``x @ W + b`` accumulated exactly (aligned binary points, as hls4ml's 'auto'
  accumulators), then optionally ReLU, then optionally rounded (half to even) and saturated to
  the output type of its quantiser; without a quantiser the output is the exact accumulator.
* :class:`SumSquares`: the exact sum of squares of its input (AXOL1TL's sum of mu^2).
* :class:`Squares`: the exact element-wise squares of its input (before the weighted sum of mu^2).
* :class:`Quantize`: a conversion of each element to its own fixed-point type (HGQ's per-neuron and
  per-input types): truncate (TRN) or round half up (RND), then saturate (SAT).
* :class:`Relu`: ``max(x, 0)`` (between an HGQ layer's two conversions).

The score is whatever the last node computes: sum mu^2, the surrogate head's dense layers, or
the weighted sum of mu^2 (squares, then a one-output dense layer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from aa_trigger.errors import AATriggerError
from aa_trigger.model.quant import FixedType, QuantSpec


#: the output conversion every back end implements (QKeras activations: round half to even, clip)
OUTPUT_MODES = ("RND_CONV", "SAT")


@dataclass(eq=False)
class Dense:
    """One dense layer with integer weights (units of ``2**-kernel_type.frac`` and ``2**-bias_type.frac``)."""

    name: str
    kernel: np.ndarray  # int64 (n_in, n_out)
    bias: np.ndarray  # int64 (n_out,)
    kernel_q: QuantSpec
    bias_q: QuantSpec
    relu: bool = False
    out_q: QuantSpec | None = None  # quantiser of the output; None: the exact accumulator
    act_name: str = ""  # name of the activation (quantiser) layer in the Keras model
    float_kernel: np.ndarray | None = None  # the trained float weights (for the float reference)
    float_bias: np.ndarray | None = None

    def __post_init__(self) -> None:
        t = self.out_type
        if t is not None and (t.rounding, t.saturation) != OUTPUT_MODES:
            raise AATriggerError(f"layer {self.name}: output type {t.hls()} is not supported; every back end "
                                 f"rounds and saturates as {','.join(OUTPUT_MODES)}")

    @property
    def w_frac(self) -> int:
        return self.kernel_q.fixed().frac

    @property
    def b_frac(self) -> int:
        return self.bias_q.fixed().frac

    @property
    def out_type(self) -> FixedType | None:
        return self.out_q.fixed() if self.out_q is not None else None

    @property
    def kind(self) -> str:
        """``relu``, ``quant`` (quantised linear output) or ``linear`` (exact output)."""
        return "relu" if self.relu else "quant" if self.out_q is not None else "linear"

    @property
    def n_out(self) -> int:
        return int(self.kernel.shape[1])


@dataclass
class SumSquares:
    """The exact sum of the squares of its inputs."""

    name: str


@dataclass
class Squares:
    """The exact element-wise squares of its inputs."""

    name: str


@dataclass(eq=False)
class Scale:
    """The Global-Trigger input scaling in firmware: per feature ``((x - offset) << frac) >> shift`` of the raw
    object integers (arithmetic shift: floor), saturated to ``out_type`` (units of ``2**-out_type.frac``), as
    :class:`~aa_trigger.data.preprocess.HardwareScaler` computes it. Only ever the first node."""

    name: str
    offset: np.ndarray  # int64 (n,)
    shift: np.ndarray  # int64 (n,), >= 0
    out_type: FixedType

    def feature_bounds(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Per feature, the saturated outputs of raw inputs in [lo, hi] (the map is monotonic)."""
        f = self.out_type.frac
        a = ((lo - self.offset) << f) >> self.shift
        b = ((hi - self.offset) << f) >> self.shift
        t = self.out_type
        return np.clip(a, t.int_min, t.int_max), np.clip(b, t.int_min, t.int_max)


@dataclass(eq=False)
class Quantize:
    """Each element to its own type, as HGQ's ``FixedPointQuantizer`` and ``ap_fixed<width, int_bits, RND|TRN,
    SAT>`` (``ap_ufixed`` where ``signed`` is 0) compute it: scale to ``2**frac_j``, truncate (floor) or round
    half up, saturate to the element's range; a zero-width element is the constant 0. Outputs are held in units
    of ``2**-frac`` with ``frac`` the largest element's (exact: every element's grid divides it)."""

    name: str
    signed: np.ndarray  # int64 0/1 per element
    width: np.ndarray  # int64 >= 0 per element
    int_bits: np.ndarray  # int64 per element (ap_fixed's I, sign included)
    rounding: str  # "TRN" | "RND"

    def __post_init__(self) -> None:
        if self.rounding not in QUANTIZE_ROUNDING:
            raise AATriggerError(f"{self.name}: rounding {self.rounding!r} is not one of {', '.join(QUANTIZE_ROUNDING)}")
        if not (len(self.signed) == len(self.width) == len(self.int_bits)) or np.any(self.width < 0) or np.any(
                (self.signed != 0) & (self.signed != 1)):
            raise AATriggerError(f"{self.name}: per-element types need equal lengths, widths >= 0 and signs 0/1")
        if np.any(self.width > 48):
            raise AATriggerError(f"{self.name}: an element type is wider than 48 bits")

    @property
    def n(self) -> int:
        return int(len(self.width))

    @property
    def elem_frac(self) -> np.ndarray:
        """Fractional bits per element (0 for a zero-width element)."""
        return np.where(self.width > 0, self.width - self.int_bits, 0)

    @property
    def frac(self) -> int:
        live = self.width > 0
        return int(self.elem_frac[live].max()) if live.any() else 0

    @property
    def elem_min(self) -> np.ndarray:
        """Per element, the smallest value in units of ``2**-elem_frac``."""
        return np.where(self.width > 0, -(np.left_shift(1, np.maximum(self.width - 1, 0))) * self.signed, 0)

    @property
    def elem_max(self) -> np.ndarray:
        return np.where(self.width > 0, np.left_shift(1, np.maximum(self.width - self.signed, 0)) - 1, 0)

    def types(self) -> list[str]:
        """The per-element HLS types (``ap_fixed<W,I,RND,SAT>``; zero-width elements: ``0``)."""
        out = []
        for k, w, i in zip(self.signed, self.width, self.int_bits):
            out.append("0" if w == 0 else FixedType(int(w), int(i), bool(k), self.rounding, "SAT").hls())
        return out


@dataclass
class Relu:
    """``max(x, 0)`` element-wise."""

    name: str


#: the roundings of :class:`Quantize` (HGQ's proxy: TRN, or RND where the bias cannot absorb it)
QUANTIZE_ROUNDING = ("TRN", "RND")

Node = Union[Scale, Dense, SumSquares, Squares, Quantize, Relu]

#: the raw Global-Trigger object integers a graph with input scaling takes (pT, eta, phi words)
RAW_INPUT_TYPE = FixedType(16, 16)


@dataclass
class FixedGraph:
    """Input type, then nodes evaluated in order; the last one's output is the score."""

    input_name: str
    input_type: FixedType
    n_features: int
    nodes: list[Node]
    score: str  # what the graph computes, for labels ("mu2", "surrogate")

    @property
    def dense(self) -> list[Dense]:
        return [n for n in self.nodes if isinstance(n, Dense)]


def integer_weights(values: np.ndarray, spec: QuantSpec, where: str) -> np.ndarray:
    """Quantised weights as exact integers in units of ``2**-frac`` of the spec's type."""
    scaled = np.asarray(values, np.float64) * 2.0 ** spec.fixed().frac
    if not np.all(np.isfinite(scaled)):
        raise AATriggerError(f"layer {where}: weights are NaN or infinite (the training diverged)")
    if not np.array_equal(scaled, np.round(scaled)):
        raise AATriggerError(f"layer {where}: quantised weights are not on the {spec.fixed().hls(False)} grid "
                             "(alpha must be 1 for an exact mapping)")
    return scaled.astype(np.int64)


def build_graph(parts: Any, input_type: FixedType, score: str) -> FixedGraph:
    """The deployable graph of trained :class:`~aa_trigger.model.vae.VAEParts` (in memory) for a score,
    with inputs of ``input_type`` (the preprocessing's output type)."""
    from aa_trigger.model.vae import INPUT, deployable_layers
    from aa_trigger.model.vae import Squares as SquaresStep

    if parts.config.hgq:
        from aa_trigger.model import hgq

        return FixedGraph(INPUT, input_type, parts.config.n_features, hgq.graph_nodes(parts, score), score)
    nodes: list[Node] = []
    for d in deployable_layers(parts, score):
        if isinstance(d, SquaresStep):
            nodes.append(SumSquares(d.name) if d.total else Squares(d.name))
            continue
        kernel_q, bias_q = d.layer.kernel_quantizer_internal, d.layer.bias_quantizer_internal
        kernel = integer_weights(kernel_q(d.layer.kernel).numpy(), d.kernel_q, d.layer.name)
        bias = integer_weights(bias_q(d.layer.bias).numpy(), d.bias_q, d.layer.name)
        fk, fb = (np.asarray(w, np.float64) for w in d.layer.get_weights())
        nodes.append(Dense(d.layer.name, kernel, bias, d.kernel_q, d.bias_q, d.relu, d.out_q, d.act_name, fk, fb))
    return FixedGraph(INPUT, input_type, parts.config.n_features, nodes, score)


def with_scaling(graph: FixedGraph, offset: list[int], shift: list[int], raw_type: FixedType = RAW_INPUT_TYPE
                 ) -> FixedGraph:
    """``graph`` with the input scaling in front: it then takes the raw object integers (``raw_type``)."""
    if any(isinstance(n, Scale) for n in graph.nodes):
        raise AATriggerError("the graph already scales its inputs")
    if len(offset) != graph.n_features or len(shift) != graph.n_features or min(shift) < 0:
        raise AATriggerError(f"input scaling: {graph.n_features} offsets and shifts >= 0 needed")
    node = Scale("input_scaling", np.asarray(offset, np.int64), np.asarray(shift, np.int64), graph.input_type)
    return FixedGraph(graph.input_name, raw_type, graph.n_features, [node, *graph.nodes], graph.score)


def split_scaling(graph: FixedGraph) -> tuple[Scale | None, FixedGraph]:
    """The input scaling (or None) and the network after it, whose inputs are the scaled integers."""
    if graph.nodes and isinstance(graph.nodes[0], Scale):
        s = graph.nodes[0]
        return s, FixedGraph(graph.input_name, s.out_type, graph.n_features, graph.nodes[1:], graph.score)
    return None, graph


def sum_squares_type(in_type: FixedType, n: int) -> FixedType:
    """The type of an exact sum of ``n`` squares of ``in_type`` values (never wraps)."""
    frac = 2 * in_type.frac
    max_sq = (1 << (in_type.width - 1)) ** 2  # (-2^(W-1))^2, the largest square
    int_bits = int(np.ceil(np.log2(max_sq * n + 1))) - frac + 1
    return FixedType(int_bits + frac, int_bits)


def exact_type(lo: int, hi: int, frac: int) -> FixedType:
    """The narrowest signed type holding every integer in [lo, hi] (units of ``2**-frac``)."""
    width = max(2, int(lo).bit_length() + 1, int(hi).bit_length() + 1)
    return FixedType(width, width - frac)


def _dense_interval(node: Dense, lo: int, hi: int, frac: int) -> tuple[int, int, int]:
    """Exact accumulator interval of a dense layer whose inputs all lie in [lo, hi]."""
    acc_frac = frac + node.w_frac
    shift = acc_frac - node.b_frac
    if shift < 0:
        raise AATriggerError(f"{node.name}: the bias has more fractional bits than the accumulator")
    k = node.kernel
    pos = [int(v) for v in np.where(k > 0, k, 0).sum(axis=0)]
    neg = [int(v) for v in np.where(k < 0, k, 0).sum(axis=0)]
    bias = [int(b) << shift for b in node.bias]
    a_lo = min(lo * p + hi * n + b for p, n, b in zip(pos, neg, bias))
    a_hi = max(hi * p + lo * n + b for p, n, b in zip(pos, neg, bias))
    return a_lo, a_hi, acc_frac


def _round_down(v: np.ndarray, shift: np.ndarray, rounding: str) -> np.ndarray:
    """Integers ``v`` (object arrays allowed) divided by ``2**shift`` per element: floor (TRN) or round
    half up (RND); a negative shift multiplies."""
    out = []
    for x, s in zip(v.tolist(), shift.tolist()):
        if s <= 0:
            out.append(int(x) << -s)
        else:
            out.append((int(x) + ((1 << (s - 1)) if rounding == "RND" else 0)) >> s)
    return np.asarray(out, dtype=object)


def quantize_interval(node: Quantize, lo: int, hi: int, frac: int) -> tuple[int, int, int, tuple[int, int]]:
    """Output interval of a :class:`Quantize` node (units of ``2**-node.frac``) whose inputs lie in [lo, hi]
    (units of ``2**-frac``), its ``frac``, and the interval of the rounded values before saturation (the
    widest integers it computes, in units of ``2**-node.frac``)."""
    f = node.elem_frac
    shift = frac - f
    up = node.frac - f
    r_lo = _round_down(np.full(node.n, lo, dtype=object), shift, node.rounding)
    r_hi = _round_down(np.full(node.n, hi, dtype=object), shift, node.rounding)
    live = node.width > 0
    emin, emax = node.elem_min.astype(object), node.elem_max.astype(object)
    c_lo = np.minimum(np.maximum(r_lo, emin), emax)
    c_hi = np.maximum(np.minimum(r_hi, emax), emin)
    scale = np.asarray([1 << int(u) for u in up], dtype=object)
    outs_lo, outs_hi = (c_lo * scale)[live], (c_hi * scale)[live]
    pre_lo, pre_hi = (r_lo * scale)[live], (r_hi * scale)[live]
    if not live.any():
        return 0, 0, node.frac, (0, 0)
    return (min(0, int(outs_lo.min())) if not live.all() else int(outs_lo.min()),
            max(0, int(outs_hi.max())) if not live.all() else int(outs_hi.max()), node.frac,
            (int(pre_lo.min()), int(pre_hi.max())))


def intervals(graph: FixedGraph) -> list[tuple[int, int, int]]:
    """Per node: the exact interval of its accumulator (units of ``2**-frac``) and ``frac``;
    the last entry is the score's. Every value a back end computes lies inside these bounds."""
    return _walk(graph)[0]


def input_intervals(graph: FixedGraph) -> list[tuple[int, int, int]]:
    """Per node: the exact interval of its inputs (units of ``2**-frac``) and ``frac``."""
    return _walk(graph)[1]


def _walk(graph: FixedGraph) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    t = graph.input_type
    lo, hi, frac, n_in = t.int_min, t.int_max, t.frac, graph.n_features
    out, inputs = [], []
    for node in graph.nodes:
        inputs.append((lo, hi, frac))
        if isinstance(node, Scale):
            f_lo, f_hi = node.feature_bounds(lo, hi)
            lo, hi, frac = int(f_lo.min()), int(f_hi.max()), node.out_type.frac
            out.append((min(lo, int(((t.int_min - node.offset) << frac).min())),
                        max(hi, int(((t.int_max - node.offset) << frac).max())), frac))
            continue
        if isinstance(node, Quantize):
            lo, hi, frac, pre = quantize_interval(node, lo, hi, frac)
            out.append((*pre, frac))
            continue
        if isinstance(node, Relu):
            lo, hi = max(lo, 0), max(hi, 0)
            out.append((lo, hi, frac))
            continue
        if isinstance(node, Dense):
            a_lo, a_hi, acc_frac = _dense_interval(node, lo, hi, frac)
            out.append((a_lo, a_hi, acc_frac))
            lo, hi, frac = a_lo, a_hi, acc_frac
            if node.relu:
                lo, hi = max(lo, 0), max(hi, 0)
            if node.out_type is not None:
                ot = node.out_type
                lo, hi, frac = max(min(lo, ot.int_max), ot.int_min), min(max(hi, ot.int_min), ot.int_max), ot.frac
            n_in = node.n_out
        else:
            sq_lo, sq_hi = (0 if lo <= 0 <= hi else min(lo * lo, hi * hi)), max(lo * lo, hi * hi)
            if isinstance(node, SumSquares):
                lo, hi, n_in = sq_lo * n_in, sq_hi * n_in, 1
            else:
                lo, hi = sq_lo, sq_hi
            frac = 2 * frac
            out.append((lo, hi, frac))
    out.append((lo, hi, frac))
    return out, inputs


def accumulator_bits(graph: FixedGraph) -> int:
    """Bits of the widest integer (with sign) the graph computes."""
    return max(max(abs(lo), abs(hi)).bit_length() + 1 for lo, hi, _ in intervals(graph))


def score_type(graph: FixedGraph) -> FixedType:
    """The exact type of the score: the last node's type, or the narrowest that holds every value."""
    last = graph.nodes[-1]
    if isinstance(last, Dense) and last.out_type is not None:
        return last.out_type
    if isinstance(last, SumSquares):
        prev = graph.nodes[-2]
        if isinstance(prev, Dense) and prev.out_type is not None:
            return sum_squares_type(prev.out_type, prev.n_out)
    lo, hi, frac = intervals(graph)[-1]
    return exact_type(lo, hi, frac)


GRAPH_FORMAT = 1


def graph_to_dict(graph: FixedGraph) -> dict[str, Any]:
    """The integer graph as plain JSON values (the float weights stay behind): enough for every
    fixed-point consumer (emulator, Verilog, cost); :func:`graph_from_dict` reads it back."""
    def spec(q: QuantSpec | None) -> list[Any] | None:
        return None if q is None else [q.kind, q.bits, q.integer]

    nodes: list[dict[str, Any]] = []
    for n in graph.nodes:
        if isinstance(n, Dense):
            nodes.append({"dense": n.name, "kernel": n.kernel.tolist(), "bias": n.bias.tolist(),
                          "kernel_q": spec(n.kernel_q), "bias_q": spec(n.bias_q), "relu": n.relu,
                          "out_q": spec(n.out_q), "act_name": n.act_name})
        elif isinstance(n, Scale):
            o = n.out_type
            nodes.append({"scale": n.name, "offset": n.offset.tolist(), "shift": n.shift.tolist(),
                          "out_type": [o.width, o.int_bits, o.signed, o.rounding, o.saturation]})
        elif isinstance(n, Quantize):
            nodes.append({"quantize": n.name, "signed": n.signed.tolist(), "width": n.width.tolist(),
                          "int_bits": n.int_bits.tolist(), "rounding": n.rounding})
        elif isinstance(n, Relu):
            nodes.append({"relu": n.name})
        elif isinstance(n, Squares):
            nodes.append({"squares": n.name})
        else:
            nodes.append({"sum_squares": n.name})
    t = graph.input_type
    return {"format": GRAPH_FORMAT, "input_name": graph.input_name, "n_features": graph.n_features,
            "input_type": [t.width, t.int_bits, t.signed, t.rounding, t.saturation], "score": graph.score,
            "nodes": nodes}


def graph_from_dict(d: dict[str, Any], where: Any = "graph") -> FixedGraph:
    """Read :func:`graph_to_dict`'s output back, checking every field it uses."""
    from aa_trigger.jsonio import field

    if field(d, "format", int, where) != GRAPH_FORMAT:
        raise AATriggerError(f"{where}: graph format {d['format']} is not {GRAPH_FORMAT}")

    def spec(q: Any, name: str) -> QuantSpec | None:
        if q is None:
            return None
        if not (isinstance(q, list) and len(q) == 3 and isinstance(q[0], str)
                and all(isinstance(v, int) and not isinstance(v, bool) for v in q[1:])):
            raise AATriggerError(f"{where}: {name} is not [kind, bits, integer]")
        return QuantSpec(q[0], q[1], q[2])

    def ints(v: Any, ndim: int, name: str) -> np.ndarray:
        a = np.asarray(v, dtype=object)
        if a.ndim != ndim or not all(isinstance(x, int) and not isinstance(x, bool) for x in a.ravel()):
            raise AATriggerError(f"{where}: {name} is not a {ndim}-d array of integers")
        return a.astype(np.int64)

    nodes: list[Node] = []
    for i, n in enumerate(field(d, "nodes", list, where)):
        if isinstance(n, dict) and "dense" in n:
            name = field(n, "dense", str, where)
            q = spec(n.get("kernel_q"), f"{name}.kernel_q"), spec(n.get("bias_q"), f"{name}.bias_q")
            if q[0] is None or q[1] is None:
                raise AATriggerError(f"{where}: {name} has no weight types")
            nodes.append(Dense(name, ints(n.get("kernel"), 2, f"{name}.kernel"), ints(n.get("bias"), 1, f"{name}.bias"),
                               q[0], q[1], field(n, "relu", bool, where), spec(n.get("out_q"), f"{name}.out_q"),
                               field(n, "act_name", str, where)))
        elif isinstance(n, dict) and "scale" in n and i == 0:
            name = field(n, "scale", str, where)
            o = field(n, "out_type", list, where)
            if [type(v) for v in o] != [int, int, bool, str, str]:
                raise AATriggerError(f"{where}: {name}.out_type is not [width, int_bits, signed, rounding, saturation]")
            nodes.append(Scale(name, ints(n.get("offset"), 1, f"{name}.offset"), ints(n.get("shift"), 1,
                                                                                    f"{name}.shift"), FixedType(*o)))
        elif isinstance(n, dict) and "quantize" in n:
            name = field(n, "quantize", str, where)
            nodes.append(Quantize(name, ints(n.get("signed"), 1, f"{name}.signed"), ints(n.get("width"), 1,
                                                                                        f"{name}.width"),
                                  ints(n.get("int_bits"), 1, f"{name}.int_bits"), field(n, "rounding", str, where)))
        elif isinstance(n, dict) and "relu" in n:
            nodes.append(Relu(field(n, "relu", str, where)))
        elif isinstance(n, dict) and "sum_squares" in n:
            nodes.append(SumSquares(field(n, "sum_squares", str, where)))
        elif isinstance(n, dict) and "squares" in n:
            nodes.append(Squares(field(n, "squares", str, where)))
        else:
            raise AATriggerError(f"{where}: node {i} is neither dense, quantize, relu, squares, sum_squares nor a "
                                 "leading scale")
    t = field(d, "input_type", list, where)
    if [type(v) for v in t] != [int, int, bool, str, str]:
        raise AATriggerError(f"{where}: input_type is not [width, int_bits, signed, rounding, saturation]")
    return FixedGraph(field(d, "input_name", str, where), FixedType(*t),
                      field(d, "n_features", int, where), nodes, field(d, "score", str, where))
