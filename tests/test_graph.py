"""The deployable graph: built from model parts in memory, exact intervals and types."""

import numpy as np
import pytest

from aa_trigger.errors import AATriggerError
from aa_trigger.firmware import emulator
from aa_trigger.firmware.graph import Dense, SumSquares, accumulator_bits, build_graph, intervals, score_type


def test_reference_graph_structure(reference_graph):
    g = reference_graph("mu2")
    assert [n.name for n in g.nodes] == ["enc_dense0", "enc_dense1", "mu_dense", "score_mu2"]
    assert isinstance(g.nodes[-1], SumSquares)
    assert [n.kind for n in g.dense] == ["relu", "relu", "quant"]
    assert g.input_type.hls() == "fixed<14,6>" and score_type(g).hls() == "fixed<27,15>"
    s = reference_graph("surrogate")
    assert [n.name for n in s.nodes][-2:] == ["sur_dense0", "sur_out"] and s.nodes[-1].kind == "linear"


def test_graph_from_parts_in_memory_without_a_run_folder():
    from aa_trigger.model.quant import FixedType
    from aa_trigger.model.vae import ModelConfig, VAEParts

    parts = VAEParts.build(ModelConfig(n_features=5, widths=[4], latent=2, quantize=6, surrogate_width=3, recon="mse"))
    g = build_graph(parts, FixedType(10, 4), "surrogate")
    assert [n.n_out for n in g.dense] == [4, 2, 3, 1]
    assert all(n.w_frac == 4 and n.b_frac == 2 for n in g.dense)  # quantized_bits(6,1) and (6,3)


def test_float_runs_and_rz_are_refused(reference_run):
    from aa_trigger.model.quant import FixedType
    from aa_trigger.model.vae import ModelConfig, VAEParts

    with pytest.raises(AATriggerError, match="exp"):
        build_graph(reference_run.aa, FixedType(14, 6), "rz")
    with pytest.raises(AATriggerError, match="unknown score"):
        build_graph(reference_run.aa, FixedType(14, 6), "kl")
    float_parts = VAEParts.build(ModelConfig(5, [4], 2, 0, 3, "mse"))
    with pytest.raises(AATriggerError, match="float model"):
        build_graph(float_parts, FixedType(14, 6), "mu2")


@pytest.mark.parametrize("score", ["mu2", "surrogate", "wmu2"])
def test_intervals_bound_every_value(tiny_graph, score):
    g = tiny_graph(score, seed=2)
    x = np.random.default_rng(1).integers(-128, 128, (20000, 6))
    x[:2] = [[-128] * 6, [127] * 6]
    _, trace = emulator.run_graph(g, x, trace=True, exact_int=True)
    bounds = intervals(g)
    lo, hi, frac = bounds[-1]
    out = trace[g.nodes[-1].name]
    assert out.frac == frac and lo <= out.v.min() and out.v.max() <= hi
    assert all(accumulator_bits(g) > max(abs(int(v.v.min())), int(v.v.max())).bit_length() for v in trace.values())


def test_dense_node_types_come_from_the_quantisation_spec(tiny_graph):
    d0 = tiny_graph().nodes[0]
    assert isinstance(d0, Dense) and d0.out_type.hls() == "ufixed<6,3,RND_CONV,SAT>"
    assert d0.out_type.int_min == 0 and d0.out_type.int_max == 63


def test_output_types_must_be_what_every_back_end_implements():
    from aa_trigger.model.quant import QuantSpec

    class Truncating(QuantSpec):
        def fixed(self):
            from dataclasses import replace

            return replace(super().fixed(), rounding="TRN")

    with pytest.raises(AATriggerError, match="not supported"):
        Dense("d", np.ones((2, 1), np.int64), np.zeros(1, np.int64), QuantSpec("bits", 8, 1), QuantSpec("bits", 8, 3),
              False, Truncating("bits", 8, 3))


@pytest.mark.parametrize("score", ["mu2", "surrogate"])
def test_graph_survives_json(reference_graph, golden, score, assert_bit_exact):
    """A scan keeps each trial's integer graph as JSON: read back, it computes the same scores and Verilog."""
    import json

    from aa_trigger.firmware import emulator
    from aa_trigger.firmware.graph import graph_from_dict, graph_to_dict
    from aa_trigger.firmware.rtl import verilog

    g = reference_graph(score)
    back = graph_from_dict(json.loads(json.dumps(graph_to_dict(g))))
    assert back.input_type == g.input_type and back.score == g.score
    assert_bit_exact(score, emulator.score(back, golden["x_int"]), emulator.score(g, golden["x_int"]))
    assert verilog.generate(back).verilog == verilog.generate(g).verilog


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format=9), "graph format 9"),
    (lambda d: d["nodes"][0].update(kernel=[[1.5]]), "kernel is not a 2-d array of integers"),
    (lambda d: d["nodes"][0].update(kernel_q=["bits", 8]), "kernel_q is not"),
    (lambda d: d["nodes"].append({"conv": 1}), "neither dense, quantize, relu, squares, sum_squares nor a"),
    (lambda d: d.update(input_type=[8, 4]), "input_type is not"),
])
def test_broken_graph_json_is_one_line(reference_graph, change, message):
    from aa_trigger.errors import AATriggerError
    from aa_trigger.firmware.graph import graph_from_dict, graph_to_dict

    d = graph_to_dict(reference_graph("mu2"))
    change(d)
    with pytest.raises(AATriggerError, match=message):
        graph_from_dict(d, "trial-0.json")


def test_weighted_sum_of_squares_is_exact(tiny_graph):
    """wmu2: the exact squares of the latent integers, weighted by the integer weights."""
    g = tiny_graph("wmu2", seed=5)
    x = np.random.default_rng(2).integers(-128, 128, (5000, 6))
    y, trace = emulator.run_graph(g, x, trace=True, exact_int=True)
    mu = trace["mu_dense"]
    w = g.nodes[-1]
    assert y.frac == 2 * mu.frac + w.w_frac
    assert np.array_equal(y.v[:, 0], (mu.v ** 2) @ w.kernel[:, 0])
    assert intervals(g)[2] == (0, 64 ** 2, 2 * mu.frac)  # the squares of ap_fixed<7,3>: [0, (-64)^2]
