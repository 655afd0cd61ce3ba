"""The numpy fixed-point emulator: rounding, saturation, the golden scores, the float64 fast path."""

import numpy as np
import pytest

from aa_trigger.firmware import emulator
from aa_trigger.firmware.emulator import round_half_even_shift
from aa_trigger.firmware.graph import Dense, FixedGraph
from aa_trigger.model.quant import FixedType, QuantSpec

SCORES = ("mu2", "surrogate")


def test_round_half_even_matches_python():
    v = np.arange(-4096, 4097, dtype=np.int64)
    for shift in (1, 2, 3, 5):
        got = round_half_even_shift(v, shift)
        ref = [round(int(x) / 2**shift) for x in v]  # Python's round() is half-to-even
        assert got.tolist() == ref
    assert round_half_even_shift(v, -2).tolist() == (v * 4).tolist()


def test_fixed_types_saturate():
    layer = Dense("d", np.array([[64]], np.int64), np.array([0], np.int64), QuantSpec("bits", 8, 1),
                  QuantSpec("bits", 6, 3), False, QuantSpec("bits", 6, 2))
    g = FixedGraph("inputs", FixedType(8, 4), 1, [layer], "surrogate")
    x = np.array([[100], [-100], [3], [5], [7]], np.int64)  # input units 2^-4
    for exact in (False, True):
        out, _ = emulator.run_graph(g, x, exact_int=exact)
        # fixed<6,3> has 3 fractional bits, range [-4, 3.875]; 3/16 -> 0.1875 -> 0.25 (half-even: 1.5 -> 2)
        assert out.to_float()[:, 0].tolist() == [3.875, -4.0, 0.25, 0.25, 0.5]


@pytest.mark.parametrize("score", SCORES)
def test_numpy_emulator_matches_golden(reference_graph, golden, assert_bit_exact, score):
    got = emulator.score(reference_graph(score), golden["x_int"].astype(np.int64))
    assert_bit_exact(f"numpy {score}", got, golden[score])


@pytest.mark.parametrize("score", SCORES)
def test_float64_fast_path_equals_int64_path(reference_run, reference_graph, assert_bit_exact, score):
    from aa_trigger.data import generator, preprocess

    graph = reference_graph(score)
    x_int = reference_run.scaler.transform_int(preprocess.to_hardware(generator.generate_sample("Ato4l", 5000, seed=4)))
    fast, fast_layers = emulator.run_graph(graph, x_int, trace=True)
    exact, exact_layers = emulator.run_graph(graph, x_int, trace=True, exact_int=True)
    assert fast.v.dtype == np.float64 and exact.v.dtype == np.int64
    assert_bit_exact(f"{score} float64 vs int64", fast.to_float()[:, 0], exact.to_float()[:, 0])
    for name in exact_layers:
        assert np.array_equal(fast_layers[name].v, exact_layers[name].v.astype(np.float64)), name


def test_graphs_too_wide_for_int64_are_refused():
    wide = Dense("d", np.full((64, 1), 2**15 - 1, np.int64), np.zeros(1, np.int64), QuantSpec("bits", 16, 1),
                 QuantSpec("bits", 16, 1), False, None)
    g = FixedGraph("inputs", FixedType(60, 30), 64, [wide], "surrogate")
    with pytest.raises(ValueError, match="bit integers"):
        emulator.run_graph(g, np.zeros((1, 64), np.int64))


def test_score_int_is_the_firmware_integer(tiny_graph):
    g = tiny_graph("mu2")
    x = np.random.default_rng(0).integers(-128, 128, (300, 6))
    ints, frac = emulator.score_int(g, x)
    assert np.array_equal(ints * 2.0**-frac, emulator.score(g, x))
