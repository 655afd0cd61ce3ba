"""Models derived from the graph: the deployable QKeras model and the float reference."""

import numpy as np
import pytest

from aa_trigger.firmware.keras_model import float_reference, keras_model, keras_scores


@pytest.mark.parametrize("score", ["mu2", "surrogate"])
def test_qkeras_matches_golden(reference_graph, golden, assert_bit_exact, score):
    graph = reference_graph(score)
    got = keras_scores(keras_model(graph), golden["x_int"], int(golden["input_frac_bits"]))
    assert_bit_exact(f"QKeras {score}", got, golden[score])


def test_deployable_model_keeps_the_graph_names(reference_graph):
    model = keras_model(reference_graph("mu2"))
    names = [layer.name for layer in model.layers]
    assert names == ["inputs", "enc_dense0", "enc_relu0", "enc_dense1", "enc_relu1", "mu_dense", "mu", "score_mu2"]


def test_float_reference_is_the_unquantised_network(reference_run, reference_graph, golden):
    """The float reference uses the trained float (shadow) weights and no quantiser."""
    enc = reference_run.aa.encoder
    h = golden["x_int"] * 2.0 ** -int(golden["input_frac_bits"])
    for name in ("enc_dense0", "enc_dense1"):
        k, b = enc.get_layer(name).get_weights()
        h = np.maximum(h @ k + b, 0.0)
    k, b = enc.get_layer("mu_dense").get_weights()
    expected = np.sum((h @ k + b) ** 2, axis=1)
    ref = float_reference(reference_graph("mu2"), golden["x_int"], int(golden["input_frac_bits"]))
    assert np.array_equal(ref, expected)
    assert not np.array_equal(ref, golden["mu2"])  # the quantisers change the score
