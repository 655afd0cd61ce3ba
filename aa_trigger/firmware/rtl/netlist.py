"""Pipelined adder graphs in Verilog: constant matrix products as shared shift-and-add trees.

The building blocks of the RTL back end, independent of the network:

* :func:`csd` writes an integer constant as canonical signed digits, so ``x * k`` becomes a few
  signed shifted copies of ``x`` (no multiplier);
* :func:`share_terms` finds two-term subexpressions (``x_a + -(x_b << d)``) that several outputs
  of a constant matrix product contain and computes each once (greedy common-subexpression
  elimination, as Hartley's method and da4ml's CMVM do);
* :class:`Pipeline` writes the wires and registers: every value has an adder depth ("level");
  a stage boundary falls after every N levels; a value used in a later stage than the one that
  computes it is carried through registers, so every path has the same number of registers and
  the design accepts a new input every clock. Widths follow from exact value intervals, so no
  sum can wrap.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from dataclasses import dataclass, field

Term = tuple[int, int, int]  # (sign +1/-1, source index, left shift)


def sbits(lo: int, hi: int) -> int:
    """Signed two's-complement width holding every integer in [lo, hi]."""
    one = lambda v: v.bit_length() + 1 if v >= 0 else (-v - 1).bit_length() + 1  # noqa: E731
    return max(2, one(lo), one(hi))


def lit(v: int, width: int = 2) -> str:
    """A sized signed literal of at least ``width`` bits. A negative value is written as the
    negation of its magnitude, which needs its own sign bit (``-11'sd1024`` would be +1024)."""
    width = max(width, sbits(0, abs(v)))
    return f"-{width}'sd{-v}" if v < 0 else f"{width}'sd{v}"


def csd(k: int) -> list[tuple[int, int]]:
    """Canonical signed-digit (non-adjacent form) of an integer: [(sign, shift), ...]."""
    digits, i = [], 0
    while k:
        if k & 1:
            d = 2 - (k & 3)  # +1 or -1
            digits.append((d, i))
            k -= d
        k >>= 1
        i += 1
    return digits


def _pattern(a: Term, b: Term) -> tuple[tuple[int, int, int, int], int, int]:
    """The normalised two-term pattern of a pair, and the sign and shift that make the pair of it.

    ``s1 (x_i1 << h1) + s2 (x_i2 << h2)`` with ``(h1, i1) <= (h2, i2)`` equals
    ``s1 ((x_i1 + s1 s2 (x_i2 << (h2 - h1))) << h1)``: pattern (i1, i2, h2 - h1, s1 s2), sign s1, shift h1."""
    if (a[2], a[1]) > (b[2], b[1]):
        a, b = b, a
    return (a[1], b[1], b[2] - a[2], a[0] * b[0]), a[0], a[2]


def _keys(terms: list[Term]) -> set[tuple[int, int, int, int]]:
    return {_pattern(a, b)[0] for a, b in itertools.combinations(terms, 2)}


def tree_depth(levels: list[int]) -> int:
    """Adder depth of :meth:`Pipeline.sum_tree` over operands at these levels (always adding the two
    shallowest): the level of its result, 0 for no operand."""
    if not levels:
        return 0
    heap = list(levels)
    heapq.heapify(heap)
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        heapq.heappush(heap, max(a, b) + 1)
    return heap[0]


def share_terms(outputs: list[list[Term]], n_sources: int, levels: list[int] | None = None,
                extra: list[list[int]] | None = None) -> tuple[list[list[Term]], list[tuple[int, int, int, int]]]:
    """Greedy common-subexpression elimination over the outputs of a constant matrix product that never
    makes the product deeper.

    ``outputs[j]`` lists output j's signed shifted source terms; ``levels`` gives each source's adder level
    (default 0) and ``extra[j]`` the levels of output j's other operands (its bias). While some two-term
    pattern occurs in at least two outputs, the most frequent one (ties: the smallest pattern) becomes a new
    source ``x_i1 + sg (x_i2 << d)`` (index ``n_sources + k``, one level above its deeper operand) and replaces
    its occurrences, except in an output whose adder tree would then end deeper than the deepest output's
    tree without sharing (the critical depth): there the pattern stays unshared. Returns the rewritten
    outputs and the new sources in order (each may use earlier ones)."""
    outs = [list(o) for o in outputs]
    lv = list(levels) if levels is not None else [0] * n_sources
    ext = extra if extra is not None else [[] for _ in outs]

    def depth(j: int, terms: list[Term]) -> int:
        d = tree_depth([lv[t[1]] for t in terms] + list(ext[j]))
        return d + 1 if len(terms) == 1 and not ext[j] and terms[0][0] < 0 else d  # a lone negated term

    budget = max((depth(j, o) for j, o in enumerate(outs)), default=0)
    blocked: list[set[tuple[int, int, int, int]]] = [set() for _ in outs]
    keys = [_keys(o) for o in outs]
    count: Counter = Counter(k for ks in keys for k in ks)
    heap = [(-n, k) for k, n in count.items() if n >= 2]  # lazily updated: stale entries are skipped
    heapq.heapify(heap)
    shared: list[tuple[int, int, int, int]] = []
    index: dict[tuple[int, int, int, int], int] = {}

    def rekey(j: int, new_terms: list[Term]) -> None:
        old = keys[j]
        outs[j] = new_terms
        keys[j] = _keys(new_terms) - blocked[j]
        for k in old - keys[j]:
            count[k] -= 1
            if count[k] >= 2:
                heapq.heappush(heap, (-count[k], k))
        for k in keys[j] - old:
            count[k] += 1
            if count[k] >= 2:
                heapq.heappush(heap, (-count[k], k))

    while heap:
        neg, best = heapq.heappop(heap)
        if count[best] != -neg or count[best] < 2:
            continue
        level = max(lv[best[0]], lv[best[1]]) + 1
        for j, o in enumerate(outs):
            if best not in keys[j]:
                continue
            used: set[int] = set()
            repl: list[Term] = []
            for a, b in itertools.combinations(range(len(o)), 2):
                if a in used or b in used:
                    continue
                pat, sign, shift = _pattern(o[a], o[b])
                if pat == best:
                    used |= {a, b}
                    repl.append((sign, -1, shift))  # -1: the new source, numbered when first used
            rest = [t for i, t in enumerate(o) if i not in used]
            lv.append(level)  # provisionally, for the depth of the rewritten output
            new_depth = depth(j, rest + [(sg, len(lv) - 1, sh) for sg, _, sh in repl])
            lv.pop()
            if new_depth > budget:
                blocked[j].add(best)
                rekey(j, o)
                continue
            if best not in index:
                index[best] = n_sources + len(shared)
                shared.append(best)
                lv.append(level)
            rekey(j, rest + [(sg, index[best], sh) for sg, _, sh in repl])
    return outs, shared


@dataclass
class Value:
    """A signal of the netlist: a name (or constant literal), its exact interval and adder depth."""

    name: str
    lo: int
    hi: int
    level: int
    const: bool = False
    delayed: dict[int, str] = field(default_factory=dict)  # stage -> register copy

    @property
    def width(self) -> int:
        return sbits(self.lo, self.hi)


class Pipeline:
    """Wires and registers of a pipelined design; a stage boundary after every ``levels`` levels."""

    def __init__(self, levels: int) -> None:
        if levels < 1:
            raise ValueError("levels per stage must be >= 1")
        self.levels = levels
        self.body: list[str] = []
        self._n = 0
        self.adders = 0  # two-input adders of the constant products and sum trees (not the rounding)
        self.adder_bits = 0  # their summed output widths
        self.register_bits = 0  # flip-flops: every register's width

    def stage(self, level: int) -> int:
        """The pipeline stage (counted from the current block's input registers) computing a level."""
        return max(0, (level - 1) // self.levels)

    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def comment(self, text: str) -> None:
        self.body.append(f"    // {text}")

    def wire(self, prefix: str, expr: str, lo: int, hi: int, level: int) -> Value:
        name = self._name(prefix)
        self.body.append(f"    wire signed [{sbits(lo, hi) - 1}:0] {name} = {expr};")
        return Value(name, lo, hi, level)

    def register(self, prefix: str, expr: str, lo: int, hi: int) -> Value:
        """A register at the end of a block: the next block's inputs (level 0)."""
        name = self._name(prefix)
        self.body.append(f"    reg signed [{sbits(lo, hi) - 1}:0] {name};")
        self.body.append(f"    always @(posedge clk) {name} <= {expr};")
        self.register_bits += sbits(lo, hi)
        return Value(name, lo, hi, 0)

    def at(self, v: Value, stage: int) -> str:
        """``v`` as seen in ``stage``: carried through one register per stage boundary crossed."""
        have = self.stage(v.level)
        if v.const or stage <= have:
            return v.name
        if stage not in v.delayed:
            prev = self.at(v, stage - 1)
            name = f"{v.name}_d{stage}"
            self.body.append(f"    reg signed [{v.width - 1}:0] {name};")
            self.body.append(f"    always @(posedge clk) {name} <= {prev};")
            self.register_bits += v.width
            v.delayed[stage] = name
        return v.delayed[stage]

    def term(self, sign: int, v: Value, shift: int, stage: int) -> tuple[str, int, int]:
        """Expression and interval of ``sign * (v << shift)`` in ``stage``. A shift is a concatenation
        with zeros (plain wiring; written as a shift, yosys turns it into a multiplication);
        inside a sized signed sum it is sign-extended, so the term is exact."""
        lo, hi = v.lo << shift, v.hi << shift
        if v.const:
            e = lit(lo) if shift else v.name
        else:
            name = self.at(v, stage)
            e = f"$signed({{{name}, {shift}'b0}})" if shift else name
        return (e, lo, hi) if sign > 0 else (f"-({e})" if e.startswith("-") else f"-{e}", -hi, -lo)

    def add(self, prefix: str, a: tuple[int, Value, int], b: tuple[int, Value, int]) -> Value:
        """One adder: ``sa (a << ha) + sb (b << hb)``, one level deeper than its deeper operand."""
        level = max(a[1].level, b[1].level) + 1
        st = self.stage(level)
        ea, la, ha = self.term(*a, st)
        eb, lb, hb = self.term(*b, st)
        out = self.wire(prefix, f"{ea} + {eb}", la + lb, ha + hb, level)
        self.adders += 1
        self.adder_bits += out.width
        return out

    def sum_tree(self, prefix: str, terms: list[tuple[int, Value, int]]) -> Value:
        """Sum of signed shifted values: always add the two shallowest (a balanced tree for equal
        depths, late operands joining late). An empty sum is the constant 0."""
        if not terms:
            return Value(lit(0), 0, 0, 0, const=True)
        tick = itertools.count()
        heap = [(t[1].level, next(tick), t) for t in terms]
        heapq.heapify(heap)
        while len(heap) > 1:
            _, _, a = heapq.heappop(heap)
            _, _, b = heapq.heappop(heap)
            v = self.add(prefix, a, b)
            heapq.heappush(heap, (v.level, next(tick), (1, v, 0)))
        sign, v, shift = heap[0][2]
        if sign > 0 and shift == 0:
            return v
        level = v.level + (1 if sign < 0 else 0)  # a negation is an adder; a shift is wiring
        e, lo, hi = self.term(sign, v, shift, self.stage(max(level, 1)))
        return self.wire(prefix, e, lo, hi, level)

    def constant_products(self, prefix: str, xs: list[Value], kernel: list[list[int]], bias: list[int]) -> list[Value]:
        """``y_j = bias_j + sum_i xs_i * kernel[i][j]`` for constant integers, with shared subexpressions."""
        n_in, n_out = len(kernel), len(kernel[0]) if kernel else 0
        outputs = [[(s, i, h) for i in range(n_in) for s, h in csd(int(kernel[i][j]))] for j in range(n_out)]
        extra = [[0] if b else [] for b in bias]
        outputs, shared = share_terms(outputs, n_in, [x.level for x in xs], extra)
        src = list(xs)
        for i1, i2, d, sg in shared:
            src.append(self.add(prefix + "_cse", (1, src[i1], 0), (sg, src[i2], d)))
        accs = []
        for j, terms in enumerate(outputs):
            parts = [(s, src[i], h) for s, i, h in terms]
            if bias[j]:
                parts.append((1, Value(lit(bias[j]), bias[j], bias[j], 0, const=True), 0))
            accs.append(self.sum_tree(prefix, parts))
        return accs
