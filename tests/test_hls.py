"""The HLS back end: hls4ml predict() and the g++ C simulation reproduce the golden scores."""

import pytest

from aa_trigger.firmware.hls import csim, writer
from aa_trigger.firmware.keras_model import keras_model
from aa_trigger.firmware.parts import resolve_part


@pytest.mark.slow
@pytest.mark.parametrize("score", ["mu2", "surrogate"])
def test_hls4ml_and_csim_match_golden(reference_graph, golden, assert_bit_exact, score, tmp_path):
    graph = reference_graph(score)
    x = golden["x_int"] * 2.0 ** -int(golden["input_frac_bits"])
    settings = writer.HLSSettings(resolve_part("xcvu9p").full, "Vitis", 200.0, 1, "Latency", "io_parallel")
    hls_model = writer.write_project(keras_model(graph), graph, settings, tmp_path / "prj", x, golden[score])
    assert_bit_exact(f"hls4ml predict {score}", writer.predict(hls_model, x), golden[score])
    assert_bit_exact(f"g++ csim {score}", csim.csim(tmp_path / "prj"), golden[score])


def test_hls_config_types_come_from_the_graph(reference_graph):
    pytest.importorskip("hls4ml")
    graph = reference_graph("mu2")
    settings = writer.HLSSettings("xcvu9p-flga2104-2L-e", "Vitis", 200.0, 1, "Latency", "io_parallel")
    cfg = writer.hls_config(keras_model(graph), graph, settings)["LayerName"]
    assert cfg["inputs"]["Precision"]["result"] == "fixed<14,6>"
    assert cfg["mu_dense"]["Precision"]["result"] == "fixed<12,6,RND_CONV,SAT>"
    assert cfg["score_mu2"]["Precision"] == {"accum": "fixed<27,15>", "result": "fixed<27,15>"}
