"""Shared fixtures: the committed reference run and its golden scores, the real data samples, exact
comparison with sample differences, and a private cache for the built-in data set."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() == "true"
REQUIRE_RTL = os.environ.get("AA_TRIGGER_REQUIRE_RTL") == "1"  # set by .ci/run: CI must not skip these


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; skips without it, except in CI, where a missing folder fails."""
    path = SHARED / "data"
    if not path.is_dir():
        if IN_CI:
            pytest.fail(f"real data samples not available in CI: {path} is missing")
        pytest.skip(f"real data samples not available: {path} is missing")
    return path


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """The built-in data set is generated into a temporary cache, never into the user's."""
    old = os.environ.get("AA_TRIGGER_CACHE")
    os.environ["AA_TRIGGER_CACHE"] = str(tmp_path_factory.mktemp("aa_trigger_cache"))
    yield
    if old is None:
        os.environ.pop("AA_TRIGGER_CACHE", None)
    else:
        os.environ["AA_TRIGGER_CACHE"] = old


@pytest.fixture(scope="session")
def reference_path() -> Path:
    """The committed reference run folder (format 1, written before the redesign)."""
    return ROOT / "models" / "reference"


@pytest.fixture(scope="session")
def reference_run(reference_path):
    from aa_trigger.runfolder import load_run

    return load_run(reference_path)


@pytest.fixture(scope="session")
def golden(reference_path) -> dict:
    """2,000 test events (integers) and their exact firmware scores for both deployable scores."""
    return dict(np.load(reference_path / "golden.npz"))


@pytest.fixture(scope="session")
def reference_graph(reference_run):
    """``score -> FixedGraph`` of the reference run."""
    from aa_trigger.firmware.graph import build_graph

    cache = {}

    def get(score: str):
        if score not in cache:
            cache[score] = build_graph(reference_run.aa, reference_run.scaler.input_type, score)
        return cache[score]

    return get


@pytest.fixture(scope="session")
def assert_bit_exact():
    """Exact equality; on failure, the first differing events."""

    def check(name: str, got, expected) -> None:
        got, expected = np.asarray(got), np.asarray(expected)
        assert got.shape == expected.shape, (name, got.shape, expected.shape)
        bad = np.flatnonzero(got != expected)
        if len(bad):
            rows = "\n".join(f"  event {i}: got {got[i]!r} expected {expected[i]!r} diff {got[i] - expected[i]!r}"
                             for i in bad[:10])
            pytest.fail(f"{name}: {len(bad)} of {len(got)} events differ\n{rows}")

    return check


@pytest.fixture(scope="session")
def need_tool():
    """Skip when an open-source tool is missing, except where AA_TRIGGER_REQUIRE_RTL=1 (CI): fail."""

    def need(tool: str) -> None:
        if shutil.which(tool) is None:
            hint = "apt-get install verilator yosys iverilog"
            if REQUIRE_RTL:
                pytest.fail(f"{tool} is required here ({hint})")
            pytest.skip(f"{tool} not installed ({hint})")

    return need


@pytest.fixture()
def tiny_graph():
    """A small graph whose rounding hits ties, negative values and both saturation limits."""
    from aa_trigger.firmware.graph import Dense, FixedGraph, Squares, SumSquares
    from aa_trigger.model.quant import FixedType, QuantSpec

    def make(score: str = "surrogate", seed: int = 0):
        rng = np.random.default_rng(seed)
        k, b = QuantSpec("bits", 8, 2), QuantSpec("bits", 6, 2)  # 5 and 3 fractional bits

        def dense(name, shape, relu, out_q):
            return Dense(name, rng.integers(-40, 40, shape), rng.integers(-60, 60, shape[1]), k, b, relu, out_q,
                         name + "_act")

        nodes = [dense("d0", (6, 5), True, QuantSpec("relu", 6, 3)),
                 dense("mu_dense", (5, 3), False, QuantSpec("bits", 7, 2))]
        if score == "surrogate":
            nodes.append(dense("out", (3, 1), False, None))
        elif score == "wmu2":  # squares weighted by non-negative weights, one of them pruned
            nodes += [Squares("mu_squares"), Dense("wmu2_out", np.array([[37], [0], [5]]), np.zeros(1, np.int64), k,
                                                   b, False, None, "")]
        else:
            nodes.append(SumSquares("score_mu2"))
        return FixedGraph("inputs", FixedType(8, 4), 6, nodes, score)

    return make


@pytest.fixture(scope="session")
def tiny_hgq():
    """A small HGQ model with heterogeneous widths set by hand (pruned weights, per-neuron and per-input types
    from 1 to 6 fractional bits), its ranges traced on inputs within +-100 so that the test inputs (+-128)
    saturate. Returns ``make(score, seed) -> (parts, graph)`` for inputs of type ``fixed<8,4>``."""
    from aa_trigger.firmware.graph import build_graph
    from aa_trigger.model import hgq
    from aa_trigger.model.quant import FixedType
    from aa_trigger.model.vae import ModelConfig, VAEParts

    def make(score: str = "mu2", seed: int = 0):
        parts = VAEParts.build(ModelConfig(6, [8], 3, "hgq", 5, "mse", 1e-5))
        rng = np.random.default_rng(seed)
        for model in (parts.encoder, parts.surrogate):
            for layer in hgq.hgq_layers(model):
                for v in layer.weights:
                    if "kernel_bw" in v.name:
                        v.assign(rng.integers(-1, 7, v.shape).astype(np.float32))
                    elif "activation_bw" in v.name:
                        v.assign(rng.integers(1, 7, v.shape).astype(np.float32))
                    elif v.name.endswith("kernel:0"):
                        v.assign(rng.normal(0, 0.7, v.shape).astype(np.float32))
                    elif v.name.endswith("bias:0"):
                        v.assign(rng.normal(0, 0.3, v.shape).astype(np.float32))
        hgq.trace(parts, (rng.integers(-100, 101, (4000, 6)) * 2.0**-4).astype(np.float32))
        return parts, build_graph(parts, FixedType(8, 4), score)

    return make
