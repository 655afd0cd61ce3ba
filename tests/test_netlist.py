"""Shift-and-add building blocks: CSD digits and common-subexpression sharing keep every value."""

import numpy as np
import pytest

from aa_trigger.firmware.rtl import netlist


def _evaluate(outputs, shared, x):
    """Value of every output for source values x (shared sources appended in order)."""
    src = [int(v) for v in x]
    for i1, i2, d, sg in shared:
        src.append(src[i1] + sg * (src[i2] << d))
    return [sum(s * (src[i] << h) for s, i, h in terms) for terms in outputs]


@pytest.mark.parametrize("seed", range(5))
def test_sharing_preserves_every_output(seed):
    rng = np.random.default_rng(seed)
    kernel = rng.integers(-128, 128, (20, 12))
    kernel[rng.random(kernel.shape) < 0.2] = 0
    outputs = [[(s, i, h) for i in range(20) for s, h in netlist.csd(int(kernel[i, j]))] for j in range(12)]
    shared_out, shared = netlist.share_terms(outputs, 20)
    before = sum(len(o) - 1 for o in outputs)
    after = sum(max(len(o) - 1, 0) for o in shared_out) + len(shared)
    assert shared and after < 0.8 * before  # random 8-bit weights share a lot
    for x in rng.integers(-8192, 8192, (50, 20)):
        assert _evaluate(shared_out, shared, x) == [int(v) for v in x @ kernel]


def test_sharing_is_deterministic_and_finds_a_common_pair():
    outputs = [[(1, 0, 0), (-1, 1, 2), (1, 2, 5)], [(1, 0, 3), (-1, 1, 5)], [(1, 2, 0)]]
    a = netlist.share_terms(outputs, 3)
    assert a == netlist.share_terms(outputs, 3)
    out, shared = a
    assert shared == [(0, 1, 2, -1)]  # x0 - (x1 << 2), shifted by 0 and by 3
    assert out[1] == [(1, 3, 3)]
    for x in ([1, 2, 3], [-5, 7, 11]):
        assert _evaluate(out, shared, x) == _evaluate(outputs, [], x)


def test_csd_digits_are_non_adjacent():
    for k in range(-300, 301):
        digits = netlist.csd(k)
        assert sum(sign << shift for sign, shift in digits) == k
        shifts = [s for _, s in digits]
        assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:]))


def test_registers_carry_values_across_stages():
    pipe = netlist.Pipeline(2)
    x = netlist.Value("in_0", -8, 7, 0)
    assert pipe.at(x, 0) == "in_0"
    assert pipe.at(x, 2) == "in_0_d2" and pipe.at(x, 1) == "in_0_d1"
    assert sum("always @(posedge clk)" in line for line in pipe.body) == 2  # shared, not duplicated
    assert [pipe.stage(level) for level in range(6)] == [0, 0, 0, 1, 1, 2]


@pytest.mark.parametrize("seed", range(4))
def test_sharing_never_deepens_the_product(seed):
    """Sharing keeps the deepest output's adder tree at its depth without sharing, with sources arriving at
    different levels and biases as extra operands, while still sharing."""
    rng = np.random.default_rng(seed)
    n_in, n_out = 24, 16
    kernel = rng.integers(-128, 128, (n_in, n_out))
    levels = list(rng.integers(0, 3, n_in))
    extra = [[0] if rng.random() < 0.5 else [] for _ in range(n_out)]
    outputs = [[(s, i, h) for i in range(n_in) for s, h in netlist.csd(int(kernel[i, j]))] for j in range(n_out)]
    out, shared = netlist.share_terms(outputs, n_in, levels, extra)
    lv = list(levels)
    for i1, i2, _, _ in shared:
        lv.append(max(lv[i1], lv[i2]) + 1)

    def deepest(outs):
        return max(netlist.tree_depth([lv[t[1]] for t in o] + e) for o, e in zip(outs, extra))

    assert shared and deepest(out) <= deepest(outputs)
    for x in rng.integers(-4096, 4096, (30, n_in)):
        assert _evaluate(out, shared, x) == [int(v) for v in x @ kernel]
    assert netlist.share_terms(outputs, n_in, levels, extra) == (out, shared)  # deterministic
