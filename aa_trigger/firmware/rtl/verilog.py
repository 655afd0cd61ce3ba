"""Pipelined Verilog of the deployable graph, written straight from its integer nodes.

Every rounding and saturation is the firmware's by construction:

* each dense layer is a constant matrix product in shift-and-add form (canonical signed digits)
  with two-term subexpressions shared between its outputs, so it needs no DSP (as AXOL1TL v6
  with da4ml); exact widths from value intervals (:mod:`.netlist`);
* a register rank is placed after every N adder levels (N chosen from the clock, or given) and
  at every layer output, after round half to even (AP_RND_CONV), ReLU and saturation (AP_SAT);
* the sum of squares is squares plus one more adder tree; initiation interval 1.

Why not da4ml itself: its ``quantize`` knows TRN and RND (half up) but not RND_CONV, which the
trained QKeras ReLUs use, and da4ml 0.6 needs NumPy 2; writing the adder graph from the integer
graph keeps exactness without either problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from aa_trigger.errors import AATriggerError
from aa_trigger.firmware.graph import Dense, FixedGraph, Scale, Squares, SumSquares
from aa_trigger.firmware.rtl.netlist import Pipeline, Value, lit, sbits
from aa_trigger.model.quant import FixedType

TOP = "aa_trigger_score"

#: assumed delay of one adder level (a ~20-bit carry-chain add plus routing) and of the register
#: overhead (clock-to-out, setup, skew) on UltraScale+ -2; only used to choose how many adder levels
#: go into one pipeline stage at the requested clock. Not a timing analysis.
ADDER_LEVEL_NS = 1.0
REGISTER_OVERHEAD_NS = 0.5


def levels_per_stage(clock_mhz: float) -> int:
    """Adder levels per pipeline stage at a clock (the ``auto`` choice; override with an integer)."""
    return max(1, int((1000.0 / clock_mhz - REGISTER_OVERHEAD_NS) // ADDER_LEVEL_NS))


@dataclass
class RTLDesign:
    verilog: str
    latency_cycles: int
    input_width: int
    n_inputs: int
    output_width: int
    output_frac: int
    adder_levels_per_stage: int
    stages: list[str]  # what each pipeline stage computes
    adders: int = 0  # two-input adders (shift-and-add products and sum trees; rounding not counted)
    adder_bits: int = 0  # their summed output widths
    register_bits: int = 0  # flip-flops


def _block_stages(name: str, pipe: Pipeline, last_level: int, what_last: str) -> list[str]:
    """Descriptions of the pipeline stages of one block (a layer or the score)."""
    n = pipe.stage(last_level) + 1
    out = []
    for t in range(n):
        lo, hi = t * pipe.levels + 1, min((t + 1) * pipe.levels, last_level)
        text = f"{name}: adder levels {lo}-{hi}" if lo < hi else f"{name}: adder level {hi}" if lo == hi else name
        out.append(text + (f", {what_last}" if t == n - 1 and what_last else ""))
    return out


def _round_saturate(pipe: Pipeline, name: str, acc: Value, s: int, t: FixedType, relu: bool, level: int) -> Value:
    """``acc`` (``s`` more fractional bits than ``t``) to type ``t`` as hls4ml does it: ReLU, round half
    to even (AP_RND_CONV), saturate (AP_SAT); computed at ``level`` and registered."""
    hi_t, lo_t = t.int_max, t.int_min
    a = pipe.wire(name + "_acc", pipe.at(acc, pipe.stage(level)), acc.lo, acc.hi, level)
    top = a.width - 1  # bits above the top are copies of the sign bit
    if s >= 1:  # up if the dropped part is > 1/2, or = 1/2 and the kept part is odd
        sticky = f" | (|{a.name}[{min(s - 2, top)}:0])" if s >= 2 else ""
        up = f"$signed({{1'b0, {a.name}[{min(s - 1, top)}] & ({a.name}[{min(s, top)}]{sticky})}})"
        r = pipe.wire(name + "_rnd", f"({a.name} >>> {s}) + {up}", a.lo >> s, (a.hi >> s) + 1, level)
    else:
        r = pipe.wire(name + "_rnd", f"{a.name} <<< {-s}", a.lo << -s, a.hi << -s, level)
    cw = max(r.width, sbits(lo_t, hi_t))
    expr = r.name
    if r.lo < lo_t:
        expr = f"({r.name} < {lit(lo_t, cw)}) ? {lit(lo_t, cw)} : {expr}"
    if r.hi > hi_t:
        expr = f"({r.name} > {lit(hi_t, cw)}) ? {lit(hi_t, cw)} : {expr}"
    if relu and a.lo < 0:
        expr = f"({a.name} < {lit(0, a.width)}) ? {lit(0, cw)} : {expr}"
    lo, hi = max(r.lo, lo_t), min(r.hi, hi_t)
    if relu:
        lo, hi = max(lo, 0), max(hi, 0)
    return pipe.register(name + "_out", expr, min(lo, hi), hi)


def _dense(pipe: Pipeline, node: Dense, xs: list[Value], frac: int) -> tuple[list[Value], int, list[str]]:
    """A dense layer: shared shift-and-add products, then round, ReLU and saturate, registered."""
    acc_frac = frac + node.w_frac
    t = node.out_type
    pipe.comment(f"{node.name}: {node.kernel.shape[0]} -> {node.n_out}, {node.kind}"
                 + (f" -> {t.hls()}" if t else " (exact)"))
    bias = [int(b) << (acc_frac - node.b_frac) for b in node.bias]
    accs = pipe.constant_products(node.name, xs, node.kernel.tolist(), bias)
    top_level = max(a.level for a in accs)
    if t is None:  # exact output
        st = pipe.stage(top_level)
        outs = [pipe.register(node.name + "_out", pipe.at(a, st), a.lo, a.hi) for a in accs]
        return outs, acc_frac, _block_stages(node.name, pipe, top_level, "exact output")
    level = top_level + 1  # rounding and saturation: one more level, then the layer's output register
    outs = [_round_saturate(pipe, node.name, a, acc_frac - t.frac, t, node.relu, level) for a in accs]
    relu = "ReLU, " if node.relu else ""
    return outs, t.frac, _block_stages(node.name, pipe, level, f"round (RND_CONV), {relu}saturate to {t.hls(False)}")


def _scale(pipe: Pipeline, node: Scale, xs: list[Value], frac: int) -> tuple[list[Value], int, list[str]]:
    """The Global-Trigger input scaling: subtract the offset (one adder), shift by ``frac - shift`` (wiring;
    an arithmetic right shift floors), saturate to the network input type, registered."""
    t = node.out_type
    pipe.comment(f"{node.name}: ((x - offset) << {t.frac}) >>> shift per feature, saturate to {t.hls()}")
    outs = []
    for j, x in enumerate(xs):
        off, k = int(node.offset[j]), t.frac - int(node.shift[j])
        d = pipe.wire(f"{node.name}_d", f"{x.name} - {lit(off, x.width)}", x.lo - off, x.hi - off, 1) if off else x
        lo, hi = (d.lo << k, d.hi << k) if k >= 0 else (d.lo >> -k, d.hi >> -k)
        expr = f"$signed({{{d.name}, {k}'b0}})" if k > 0 else d.name if k == 0 else f"({d.name} >>> {-k})"
        s = pipe.wire(f"{node.name}_s", expr, lo, hi, 1)
        cw = max(s.width, sbits(t.int_min, t.int_max))
        e = s.name
        if lo < t.int_min:
            e = f"({s.name} < {lit(t.int_min, cw)}) ? {lit(t.int_min, cw)} : {e}"
        if hi > t.int_max:
            e = f"({s.name} > {lit(t.int_max, cw)}) ? {lit(t.int_max, cw)} : {e}"
        c_lo, c_hi = min(max(lo, t.int_min), t.int_max), max(min(hi, t.int_max), t.int_min)
        outs.append(pipe.register(f"{node.name}_out", e, c_lo, c_hi))
    return outs, t.frac, _block_stages(node.name, pipe, 1, f"subtract offset, shift, saturate to {t.hls(False)}")


def _square_terms(pipe: Pipeline, x: Value) -> list[tuple[int, Value, int]]:
    """``x^2`` as adder terms in LUT logic (no multiplier, so no DSP is inferred); exact. With ``a = |x|``
    (one level) and ``H_i = a >> (i + 1)``, the bits above bit ``i``, the symmetric square
    ``a^2 = sum_i a_i 2^(2i) (4 H_i + 1)`` needs one AND-gated row per bit of ``a``, each narrower than
    ``a`` (half the partial-product bits of a plain array multiplier)."""
    m = max(abs(x.lo), abs(x.hi))
    if m == 0:
        return []
    low = 0 if x.lo <= 0 <= x.hi else min(abs(x.lo), abs(x.hi))
    name = pipe.at(x, 0)
    a = pipe.wire("abs", f"({name} < {lit(0, x.width)}) ? -{name} : {name}", low, m, 1) if x.lo < 0 else x
    bits = m.bit_length()
    terms = []
    for i in range(bits):
        high = f"{a.name}[{bits - 1}:{i + 1}], " if i + 1 < bits else ""
        hi = 4 * (m >> (i + 1)) + 1
        row = pipe.wire("pp", f"{a.name}[{i}] ? $signed({{1'b0, {high}2'b01}}) : {lit(0, sbits(0, hi))}", 0, hi,
                        a.level)
        terms.append((1, row, 2 * i))
    return terms


def _sum_squares(pipe: Pipeline, node: SumSquares, xs: list[Value], frac: int) -> tuple[list[Value], int, list[str]]:
    """Squares in LUT logic (partial products), all summed in one adder tree, registered; exact, no DSP."""
    pipe.comment("score: sum of mu^2, exact; squares as AND-gated partial products (no DSP)")
    total = pipe.sum_tree("mu2", [t for x in xs for t in _square_terms(pipe, x)])
    out = pipe.register("score", pipe.at(total, pipe.stage(total.level)), total.lo, total.hi)
    return [out], 2 * frac, _block_stages("score", pipe, total.level, "sum of mu^2 (|mu| at level 1, partial "
                                                                     "products in the adder tree)")


def _squares(pipe: Pipeline, node: Squares, xs: list[Value], frac: int) -> tuple[list[Value], int, list[str]]:
    """Element-wise squares in LUT logic (partial-product adder trees), registered; exact, no DSP."""
    pipe.comment(f"{node.name}: element-wise squares, exact; AND-gated partial products (no DSP)")
    outs, top = [], 1
    for x in xs:
        sq = pipe.sum_tree("sq", _square_terms(pipe, x))
        top = max(top, sq.level)
        outs.append(sq)
    regs = [pipe.register(node.name, pipe.at(q, pipe.stage(top)), q.lo, q.hi) for q in outs]
    return regs, 2 * frac, _block_stages(node.name, pipe, top, "squares (|x| at level 1, partial products)")


def generate(graph: FixedGraph, levels: int = 3) -> RTLDesign:
    """Pipelined Verilog of the graph: ports clk, in_0..in_{n-1} (signed input type), score.

    Each dense layer is a constant matrix product in shift-and-add form with shared
    subexpressions (:mod:`.netlist`), then round half to even (AP_RND_CONV), ReLU and
    saturation (AP_SAT) to the layer's type, registered. Inside a layer a register rank falls
    after every ``levels`` adder levels; initiation interval 1."""
    if levels < 1:
        raise AATriggerError(f"adder levels per pipeline stage must be >= 1, not {levels}")
    w_in = graph.input_type.width
    if w_in > 32:
        raise AATriggerError(f"input type {graph.input_type.hls()} is wider than the 32 bits the RTL simulation "
                             "harness passes per feature")
    pipe = Pipeline(levels)
    stages: list[str] = []
    lines = [f"// generated by aa_trigger: encoder + {graph.score}; shift-and-add constant products with shared "
             f"subexpressions, {levels} adder levels per pipeline stage, II = 1",
             "`timescale 1ns / 1ps", f"module {TOP} (", "    input wire clk,"]
    lines += [f"    input wire signed [{w_in - 1}:0] in_{i}," for i in range(graph.n_features)]
    xs = [Value(f"in_{i}", -(1 << (w_in - 1)), (1 << (w_in - 1)) - 1, 0) for i in range(graph.n_features)]
    frac = graph.input_type.frac
    for node in graph.nodes:
        block = (_dense if isinstance(node, Dense) else _scale if isinstance(node, Scale)
                 else _squares if isinstance(node, Squares) else _sum_squares)
        xs, frac, described = block(pipe, node, xs, frac)  # type: ignore[operator]
        stages += described
    out = xs[0]
    if out.width > 64:
        raise AATriggerError(f"the score ({graph.nodes[-1].name}) needs {out.width} bits; the RTL simulation "
                             "harness reads at most 64")
    lines += [f"    output wire signed [{out.width - 1}:0] score", ");"] + pipe.body
    lines += [f"    assign score = {out.name};", "endmodule", ""]
    return RTLDesign("\n".join(lines), len(stages), w_in, graph.n_features, out.width, frac, levels, stages,
                     pipe.adders, pipe.adder_bits, pipe.register_bits)
