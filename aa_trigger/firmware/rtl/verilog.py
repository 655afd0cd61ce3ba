"""Pipelined Verilog of the deployable graph, written straight from its integer nodes.

Every rounding and saturation is the firmware's by construction:

* each dense layer is a constant matrix product in shift-and-add form (canonical signed digits)
  with two-term subexpressions shared between its outputs, so it needs no DSP (as AXOL1TL v6
  with da4ml); exact widths from value intervals (:mod:`.netlist`);
* adder levels count from the inputs across layers; a register rank is placed after every N of them
  (N chosen from the clock, or given), not forced at layer ends, plus the output register; a layer's
  output conversion (round half to even or HGQ's per-element types, ReLU, saturation) is one level;
* the sum of squares is squares plus one more adder tree; initiation interval 1.

Why not da4ml itself: its ``quantize`` knows TRN and RND (half up) but not RND_CONV, which the
trained QKeras ReLUs use, and da4ml 0.6 needs NumPy 2; writing the adder graph from the integer
graph keeps exactness without either problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from aa_trigger.errors import AATriggerError
from aa_trigger.firmware.graph import Dense, FixedGraph, Quantize, Relu, Scale, Squares, SumSquares
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
    depth: int = 0  # adder levels from the inputs to the score


@dataclass
class Block:
    """What one graph node computes and the adder levels it occupies (global levels from the inputs)."""

    name: str
    first: int
    last: int
    what: str


def _clamp(name: str, v: Value, lo_t: int, hi_t: int) -> str:
    """``name`` (the value ``v`` as seen where it is used) saturated to [lo_t, hi_t]: a comparison only on
    the side ``v`` can leave."""
    cw = max(v.width, sbits(lo_t, hi_t))
    expr = name
    if v.lo < lo_t:
        expr = f"({name} < {lit(lo_t, cw)}) ? {lit(lo_t, cw)} : {expr}"
    if v.hi > hi_t:
        expr = f"({name} > {lit(hi_t, cw)}) ? {lit(hi_t, cw)} : {expr}"
    return expr


def _round_saturate(pipe: Pipeline, name: str, acc: Value, s: int, t: FixedType, relu: bool) -> Value:
    """``acc`` (``s`` more fractional bits than ``t``) to type ``t`` as hls4ml does it: ReLU, round half
    to even (AP_RND_CONV), saturate (AP_SAT); one adder level after ``acc``."""
    hi_t, lo_t = t.int_max, t.int_min
    level = acc.level + 1
    a = pipe.wire(name + "_acc", pipe.at(acc, pipe.stage(level)), acc.lo, acc.hi, level)
    top = a.width - 1  # bits above the top are copies of the sign bit
    if s >= 1:  # up if the dropped part is > 1/2, or = 1/2 and the kept part is odd
        sticky = f" | (|{a.name}[{min(s - 2, top)}:0])" if s >= 2 else ""
        up = f"$signed({{1'b0, {a.name}[{min(s - 1, top)}] & ({a.name}[{min(s, top)}]{sticky})}})"
        r = pipe.wire(name + "_rnd", f"({a.name} >>> {s}) + {up}", a.lo >> s, (a.hi >> s) + 1, level)
    else:
        r = pipe.wire(name + "_rnd", f"{a.name} <<< {-s}", a.lo << -s, a.hi << -s, level)
    expr = _clamp(r.name, r, lo_t, hi_t)
    if relu and a.lo < 0:
        expr = f"({a.name} < {lit(0, a.width)}) ? {lit(0, max(r.width, sbits(lo_t, hi_t)))} : {expr}"
    lo, hi = max(r.lo, lo_t), min(r.hi, hi_t)
    if relu:
        lo, hi = max(lo, 0), max(hi, 0)
    return pipe.wire(name + "_out", expr, min(lo, hi), hi, level)


def _dense(pipe: Pipeline, node: Dense, xs: list[Value], frac: int) -> tuple[list[Value], int, str]:
    """A dense layer: shared shift-and-add products, then (with a type) round, ReLU and saturate."""
    acc_frac = frac + node.w_frac
    t = node.out_type
    pipe.comment(f"{node.name}: {node.kernel.shape[0]} -> {node.n_out}, {node.kind}"
                 + (f" -> {t.hls()}" if t else " (exact)"))
    bias = [int(b) << (acc_frac - node.b_frac) for b in node.bias]
    accs = pipe.constant_products(node.name, xs, node.kernel.tolist(), bias)
    if t is None:  # exact output
        return accs, acc_frac, "shift-and-add products, exact"
    outs = [_round_saturate(pipe, node.name, a, acc_frac - t.frac, t, node.relu) for a in accs]
    relu = "ReLU, " if node.relu else ""
    return outs, t.frac, f"shift-and-add products, round (RND_CONV), {relu}saturate to {t.hls(False)}"


def _quantize(pipe: Pipeline, node: Quantize, xs: list[Value], frac: int) -> tuple[list[Value], int, str]:
    """Each element to its own type: floor (an arithmetic shift: wiring) or round half up (one adder), saturate
    where the value can leave the range (a comparison: one level), then shifted onto the common grid (wiring).
    A zero-width element is the constant 0; an element that can neither round nor saturate is plain wiring."""
    pipe.comment(f"{node.name}: per-element types ({node.rounding}, SAT), e.g. {', '.join(node.types()[:3])}")
    outs = []
    for j, x in enumerate(xs):
        w, fj = int(node.width[j]), int(node.elem_frac[j])
        if w == 0:
            outs.append(Value(lit(0), 0, 0, 0, const=True))
            continue
        s, up = frac - fj, node.frac - fj
        lo_t, hi_t = int(node.elem_min[j]), int(node.elem_max[j])
        level = x.level
        if s > 0 and node.rounding == "RND":
            level += 1
            name, half = pipe.at(x, pipe.stage(level)), 1 << (s - 1)
            h = pipe.wire(node.name + "_half", f"{name} + {lit(half, x.width)}", x.lo + half, x.hi + half, level)
            r = pipe.wire(node.name + "_rnd", f"{h.name} >>> {s}", h.lo >> s, h.hi >> s, level)
        elif s > 0:
            r = pipe.wire(node.name + "_trn", f"{pipe.at(x, pipe.stage(level))} >>> {s}", x.lo >> s,
                          x.hi >> s, level) if not x.const else Value(lit(int(x.lo) >> s), x.lo >> s, x.hi >> s, 0,
                                                                      const=True)
        else:
            r = x if s == 0 else pipe.wire(node.name + "_shl", f"$signed({{{pipe.at(x, pipe.stage(level))}, "
                                           f"{-s}'b0}})", x.lo << -s, x.hi << -s, level)
        if r.lo < lo_t or r.hi > hi_t:
            if node.rounding != "RND" or s <= 0:
                level += 1
            lo, hi = min(max(r.lo, lo_t), hi_t), max(min(r.hi, hi_t), lo_t)
            r = pipe.wire(node.name + "_sat", _clamp(pipe.at(r, pipe.stage(level)), r, lo_t, hi_t), lo, hi, level)
        if up:
            r = pipe.wire(node.name + "_out", f"$signed({{{pipe.at(r, pipe.stage(r.level))}, {up}'b0}})",
                          r.lo << up, r.hi << up, r.level)
        outs.append(r)
    return outs, node.frac, f"per-element types ({node.rounding}, SAT)"


def _relu(pipe: Pipeline, node: Relu, xs: list[Value], frac: int) -> tuple[list[Value], int, str]:
    """``max(x, 0)``: a multiplexer on the sign bit, counted in the level of its input."""
    outs = []
    for x in xs:
        if x.lo >= 0:
            outs.append(x)
            continue
        name = pipe.at(x, pipe.stage(x.level))
        outs.append(pipe.wire(node.name, f"({name} < {lit(0, x.width)}) ? {lit(0, x.width)} : {name}", 0,
                              max(x.hi, 0), x.level))
    return outs, frac, "ReLU"


def _scale(pipe: Pipeline, node: Scale, xs: list[Value], frac: int) -> tuple[list[Value], int, str]:
    """The Global-Trigger input scaling: subtract the offset (one adder), shift by ``frac - shift`` (wiring;
    an arithmetic right shift floors), saturate to the network input type; one adder level."""
    t = node.out_type
    pipe.comment(f"{node.name}: ((x - offset) << {t.frac}) >>> shift per feature, saturate to {t.hls()}")
    outs = []
    for j, x in enumerate(xs):
        off, k = int(node.offset[j]), t.frac - int(node.shift[j])
        d = pipe.wire(f"{node.name}_d", f"{x.name} - {lit(off, x.width)}", x.lo - off, x.hi - off, 1) if off else x
        lo, hi = (d.lo << k, d.hi << k) if k >= 0 else (d.lo >> -k, d.hi >> -k)
        expr = f"$signed({{{d.name}, {k}'b0}})" if k > 0 else d.name if k == 0 else f"({d.name} >>> {-k})"
        s = pipe.wire(f"{node.name}_s", expr, lo, hi, 1)
        e = _clamp(s.name, s, t.int_min, t.int_max)
        c_lo, c_hi = min(max(lo, t.int_min), t.int_max), max(min(hi, t.int_max), t.int_min)
        outs.append(pipe.wire(f"{node.name}_out", e, c_lo, c_hi, 1))
    return outs, t.frac, f"subtract offset, shift, saturate to {t.hls(False)}"


def _square_terms(pipe: Pipeline, x: Value) -> list[tuple[int, Value, int]]:
    """``x^2`` as adder terms in LUT logic (no multiplier, so no DSP is inferred); exact. With ``a = |x|``
    (one level) and ``H_i = a >> (i + 1)``, the bits above bit ``i``, the symmetric square
    ``a^2 = sum_i a_i 2^(2i) (4 H_i + 1)`` needs one AND-gated row per bit of ``a``, each narrower than
    ``a`` (half the partial-product bits of a plain array multiplier)."""
    m = max(abs(x.lo), abs(x.hi))
    if m == 0:
        return []
    low = 0 if x.lo <= 0 <= x.hi else min(abs(x.lo), abs(x.hi))
    if x.lo < 0:
        name = pipe.at(x, pipe.stage(x.level + 1))
        a = pipe.wire("abs", f"({name} < {lit(0, x.width)}) ? -{name} : {name}", low, m, x.level + 1)
    else:
        a = x
    bits = m.bit_length()
    an = pipe.at(a, pipe.stage(a.level))
    terms = []
    for i in range(bits):
        high = f"{an}[{bits - 1}:{i + 1}], " if i + 1 < bits else ""
        hi = 4 * (m >> (i + 1)) + 1
        row = pipe.wire("pp", f"{an}[{i}] ? $signed({{1'b0, {high}2'b01}}) : {lit(0, sbits(0, hi))}", 0, hi,
                        a.level)
        terms.append((1, row, 2 * i))
    return terms


def _sum_squares(pipe: Pipeline, node: SumSquares, xs: list[Value], frac: int) -> tuple[list[Value], int, str]:
    """Squares in LUT logic (partial products), all summed in one adder tree; exact, no DSP."""
    pipe.comment("score: sum of mu^2, exact; squares as AND-gated partial products (no DSP)")
    total = pipe.sum_tree("mu2", [t for x in xs for t in _square_terms(pipe, x)])
    return [total], 2 * frac, "sum of squares (|x|, partial products in one adder tree)"


def _squares(pipe: Pipeline, node: Squares, xs: list[Value], frac: int) -> tuple[list[Value], int, str]:
    """Element-wise squares in LUT logic (partial-product adder trees); exact, no DSP."""
    pipe.comment(f"{node.name}: element-wise squares, exact; AND-gated partial products (no DSP)")
    return [pipe.sum_tree("sq", _square_terms(pipe, x)) for x in xs], 2 * frac, "squares (|x|, partial products)"


def _stage_texts(blocks: list[Block], levels: int, n_stages: int) -> list[str]:
    """What each pipeline stage computes: the nodes whose adder levels fall in it."""
    out = []
    for t in range(n_stages):
        lo, hi = t * levels + 1, (t + 1) * levels
        names = [b.name for b in blocks if b.last >= lo and b.first <= hi and b.last >= b.first]
        out.append(f"adder levels {lo}-{hi}: " + (", ".join(names) if names else "registers"))
    return out


def generate(graph: FixedGraph, levels: int = 3) -> RTLDesign:
    """Pipelined Verilog of the graph: ports clk, in_0..in_{n-1} (signed input type), score.

    Each dense layer is a constant matrix product in shift-and-add form with shared subexpressions
    (:mod:`.netlist`), then its output conversion. Adder levels count from the inputs across layers, and a
    register rank falls after every ``levels`` of them wherever that is (not forced at layer ends), plus
    the output register; initiation interval 1."""
    if levels < 1:
        raise AATriggerError(f"adder levels per pipeline stage must be >= 1, not {levels}")
    w_in = graph.input_type.width
    if w_in > 32:
        raise AATriggerError(f"input type {graph.input_type.hls()} is wider than the 32 bits the RTL simulation "
                             "harness passes per feature")
    pipe = Pipeline(levels)
    blocks: list[Block] = []
    lines = [f"// generated by aa_trigger: encoder + {graph.score}; shift-and-add constant products with shared "
             f"subexpressions, a register rank every {levels} adder levels, II = 1",
             "`timescale 1ns / 1ps", f"module {TOP} (", "    input wire clk,"]
    lines += [f"    input wire signed [{w_in - 1}:0] in_{i}," for i in range(graph.n_features)]
    xs = [Value(f"in_{i}", -(1 << (w_in - 1)), (1 << (w_in - 1)) - 1, 0) for i in range(graph.n_features)]
    frac = graph.input_type.frac
    for node in graph.nodes:
        block = (_dense if isinstance(node, Dense) else _scale if isinstance(node, Scale)
                 else _quantize if isinstance(node, Quantize) else _relu if isinstance(node, Relu)
                 else _squares if isinstance(node, Squares) else _sum_squares)
        first = max((x.level for x in xs), default=0) + 1
        xs, frac, what = block(pipe, node, xs, frac)  # type: ignore[operator]
        blocks.append(Block(node.name, first, max((x.level for x in xs), default=0), what))
    top = xs[0]
    last_stage = pipe.stage(max(top.level, 1))
    out = pipe.register("score", pipe.at(top, last_stage), top.lo, top.hi)
    if out.width > 64:
        raise AATriggerError(f"the score ({graph.nodes[-1].name}) needs {out.width} bits; the RTL simulation "
                             "harness reads at most 64")
    lines += [f"    output wire signed [{out.width - 1}:0] score", ");"] + pipe.body
    lines += [f"    assign score = {out.name};", "endmodule", ""]
    stages = _stage_texts(blocks, levels, last_stage + 1)
    stages[-1] += ", output register"
    return RTLDesign("\n".join(lines), last_stage + 1, w_in, graph.n_features, out.width, frac, levels, stages,
                     pipe.adders, pipe.adder_bits, pipe.register_bits, max(top.level, 1))


def stages_for(depth: int, levels: int) -> int:
    """Register stages of a design ``depth`` adder levels deep at ``levels`` per stage (with the output register)."""
    return (max(depth, 1) - 1) // levels + 1


def check_latency_target(design: RTLDesign, clock_mhz: float, target_ns: float, levels_given: bool = False) -> None:
    """Refuse, in one line, a design whose latency misses ``target_ns``, saying what would meet it."""
    period = 1000.0 / clock_mhz
    ns = design.latency_cycles * period
    if ns <= target_ns + 1e-9:
        return
    allowed = int((target_ns + 1e-9) // period)
    need = -(-design.depth // max(allowed, 1))  # adder levels per stage that would fit in the allowed stages
    fix = (f"{allowed} stages of {need} adder levels need a clock of about "
           f"{1000.0 / (need * ADDER_LEVEL_NS + REGISTER_OVERHEAD_NS):.0f} MHz" if allowed >= 1 else
           "not even one stage fits")
    given = " (--adder-levels given)" if levels_given else ""
    raise AATriggerError(f"--latency-target-ns {target_ns:g}: the design is {design.depth} adder levels deep; at "
                         f"{clock_mhz:g} MHz with {design.adder_levels_per_stage} levels per stage{given} it needs "
                         f"{design.latency_cycles} stages = {ns:.1f} ns; {fix} (a shallower model: fewer layers, "
                         "narrower types, --quantize hgq)")
