"""HGQ models: their graph equals HGQ's own bit-accurate proxy model, QKeras-free Keras and hls4ml (C++ emulation
and the g++ C simulation), on every event, including saturating ones."""

import numpy as np
import pytest

from aa_trigger.errors import AATriggerError
from aa_trigger.firmware import emulator
from aa_trigger.firmware.graph import Quantize, graph_from_dict, graph_to_dict, intervals
from aa_trigger.firmware.hls import csim, writer
from aa_trigger.firmware.keras_model import keras_model, keras_scores
from aa_trigger.model import hgq
from aa_trigger.model.quant import QuantMode

X_FRAC = 4


def _events(n=20000, seed=3):
    x = np.random.default_rng(seed).integers(-128, 128, (n, 6))
    x[:2] = [[-128] * 6, [127] * 6]
    return x


def _proxy_scores(parts, score, x_int):
    """HGQ's own proxy models (to_proxy_model, saturating), the score added in float64 (exact)."""
    import tensorflow as tf
    from HGQ import to_proxy_model

    x = (x_int * 2.0**-X_FRAC).astype(np.float32)
    enc = parts.encoder
    mu = to_proxy_model(tf.keras.Model(enc.input, enc.get_layer("mu_dense").output), aggressive=False).predict(
        x, batch_size=8192, verbose=0)
    if score == "mu2":
        return np.sum(mu.astype(np.float64) ** 2, axis=1)
    sur = to_proxy_model(parts.surrogate, aggressive=False)
    return sur.predict(mu, batch_size=8192, verbose=0)[:, 0].astype(np.float64)


@pytest.mark.parametrize("score", ["mu2", "surrogate"])
def test_graph_equals_hgq_proxy_and_keras(tiny_hgq, assert_bit_exact, score):
    parts, graph = tiny_hgq(score, seed=11)
    x = _events()
    e = emulator.score(graph, x)
    assert_bit_exact(f"emulator vs HGQ proxy ({score})", e, _proxy_scores(parts, score, x))
    assert_bit_exact("int64 path", emulator.run_graph(graph, x, exact_int=True)[0].to_float()[:, 0], e)
    assert_bit_exact("graph JSON round trip", emulator.score(graph_from_dict(graph_to_dict(graph)), x), e)
    assert_bit_exact("keras model of the graph", keras_scores(keras_model(graph), x, X_FRAC), e)
    lo, hi, frac = intervals(graph)[-1]
    ints, f = emulator.score_int(graph, x)
    assert f == frac and lo <= ints.min() and ints.max() <= hi


@pytest.mark.parametrize("score", ["mu2", "surrogate"])
def test_hgq_graph_through_hls4ml_and_csim(tiny_hgq, assert_bit_exact, score, tmp_path):
    pytest.importorskip("hls4ml")
    _, graph = tiny_hgq(score, seed=12)
    x_int = _events(6000, seed=4)
    x = x_int * 2.0**-X_FRAC
    e = emulator.score(graph, x_int)
    settings = writer.HLSSettings("xcvu9p-flga2104-2L-e", "Vitis", 240.0, 1, "Latency", "io_parallel")
    model = writer.write_project(keras_model(graph), graph, settings, tmp_path / "prj", x[:1000], e[:1000])
    assert_bit_exact(f"hls4ml predict, HGQ {score}", writer.predict(model, x), e)
    assert_bit_exact(f"g++ csim, HGQ {score}", csim.csim(tmp_path / "prj"), e[:1000])


def test_ranges_round_trip_and_bad_ranges(tiny_hgq):
    parts, graph = tiny_hgq("mu2", seed=13)
    saved = hgq.ranges(parts)
    other = parts.copy()
    assert hgq.ranges(other) == saved
    with pytest.raises(AATriggerError, match="no valid range"):
        hgq.set_ranges(other, {k: v for k, v in saved.items() if k != "mu_dense"}, "r.json")
    bad = {**saved, "mu_dense": {"min": [1.0, 1.0, 1.0], "max": [0.0, 0.0, 0.0]}}
    with pytest.raises(AATriggerError, match="not finite and ordered"):
        hgq.set_ranges(other, bad, "r.json")
    # a Quantize node with an unknown rounding is refused
    q = next(n for n in graph.nodes if isinstance(n, Quantize))
    with pytest.raises(AATriggerError, match="rounding"):
        Quantize("q", q.signed, q.width, q.int_bits, "RND_CONV")


def test_quantize_option_forms():
    assert QuantMode.parse("8") == QuantMode("qkeras", (8,)) and QuantMode.parse(8).label == "q8"
    assert QuantMode.parse("8,6,4").label == "q8-6-4" == QuantMode.parse("8:6:4").label
    assert QuantMode.parse("HGQ").kind == "hgq" and QuantMode.parse("0").kind == "float"
    assert QuantMode.parse("8,6,4").layer_bits(3) == [8, 6, 4] and QuantMode.parse("6").layer_bits(2) == [6, 6]
    with pytest.raises(AATriggerError, match="3 widths; the encoder has 4 dense layers"):
        QuantMode.parse("8,6,4").layer_bits(4)
    for bad in ("eight", "8,,4", "3", "8,20"):
        with pytest.raises(AATriggerError, match="--quantize"):
            QuantMode.parse(bad)


@pytest.mark.parametrize("kind", ["hgq", "qkeras"])
def test_distributed_arithmetic_strategy_is_bit_exact(tiny_hgq, tiny_graph, assert_bit_exact, kind, tmp_path):
    """hls4ml's distributed-arithmetic strategy (da4ml's constant products, AXOL1TL v6) on both kinds of graph."""
    pytest.importorskip("da4ml")
    graph = tiny_hgq("mu2", seed=14)[1] if kind == "hgq" else tiny_graph("surrogate")
    for node in graph.dense:  # the tiny graph's biases overflow their QKeras type, which QKeras would clip
        t = node.bias_q.fixed()
        node.bias = np.clip(node.bias, t.int_min, t.int_max)
    x_int = _events(4000, seed=5)
    x = x_int * 2.0**-X_FRAC
    e = emulator.score(graph, x_int)
    settings = writer.HLSSettings("xcvu9p-flga2104-2L-e", "Vitis", 240.0, 1, "distributed_arithmetic", "io_parallel")
    model = writer.write_project(keras_model(graph), graph, settings, tmp_path / "prj", x[:500], e[:500])
    assert "dense_da_" in "".join(p.read_text() for p in (tmp_path / "prj" / "firmware").rglob("*.h"))
    assert_bit_exact(f"hls4ml DA predict ({kind})", writer.predict(model, x), e)
    assert_bit_exact(f"g++ csim DA ({kind})", csim.csim(tmp_path / "prj"), e[:500])


def test_da4ml_comparison_on_a_scan_trial_graph(tiny_hgq, tmp_path):
    """The benchmark's side-by-side solve of every dense layer: both solvers compute the same product (da4ml's
    is checked inside), the project's never deeper than da4ml's unconstrained one."""
    pytest.importorskip("da4ml")
    from aa_trigger.jobs.benchmark import cmvm_markdown, compare_cmvm
    from aa_trigger.jsonio import write_json

    _, graph = tiny_hgq("surrogate", seed=15)
    path = tmp_path / "scan" / "graphs" / "trial-0.json"
    path.parent.mkdir(parents=True)
    write_json(path, {"surrogate": graph_to_dict(graph)})
    rows = compare_cmvm([path])
    assert [r["layer"] for r in rows] == [n.name for n in graph.dense]
    for r in rows:
        assert r["ours_adders"] > 0 and r["da4ml_adders"] > 0 and r["ours_depth"] <= r["da4ml_depth"] + 1
    assert "Total adders" in cmvm_markdown(rows)


def test_per_layer_widths_reach_the_graph_and_hls4ml(assert_bit_exact, tmp_path):
    """--quantize 6,5,8: each encoder layer's QKeras types in the graph; QKeras == numpy == hls4ml predict."""
    pytest.importorskip("hls4ml")
    from aa_trigger.firmware.graph import build_graph
    from aa_trigger.model.quant import FixedType
    from aa_trigger.model.vae import ModelConfig, VAEParts

    parts = VAEParts.build(ModelConfig(6, [8, 5], 3, "6,5,8", 4, "mse"))
    graph = build_graph(parts, FixedType(8, 4), "mu2")
    assert [n.kernel_q.bits for n in graph.dense] == [6, 5, 8]
    assert [n.out_type.width for n in graph.dense] == [6, 5, 12]  # ReLUs, then the latent mean (bits + 4)
    x_int = _events(5000, seed=6)
    e = emulator.score(graph, x_int)
    assert_bit_exact("QKeras, per-layer widths", keras_scores(keras_model(graph), x_int, X_FRAC), e)
    settings = writer.HLSSettings("xcvu9p-flga2104-2L-e", "Vitis", 240.0, 1, "Latency", "io_parallel")
    model = writer.write_project(keras_model(graph), graph, settings, tmp_path / "prj", x_int[:100] * 2.0**-X_FRAC,
                                 e[:100])
    assert_bit_exact("hls4ml predict, per-layer widths", writer.predict(model, x_int * 2.0**-X_FRAC), e)
