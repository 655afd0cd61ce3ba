import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = SHARED / "data"
    if not path.is_dir():
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


REFERENCE_RUN = ROOT / "models" / "reference"


def assert_bit_exact(name: str, got, expected, x=None) -> None:
    """Exact equality; on failure show the first differing events."""
    import numpy as np

    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (name, got.shape, expected.shape)
    bad = np.flatnonzero(got != expected)
    if len(bad):
        rows = "\n".join(f"  event {i}: got {got[i]!r} expected {expected[i]!r} diff {got[i] - expected[i]!r}"
                         for i in bad[:10])
        pytest.fail(f"{name}: {len(bad)} of {len(got)} events differ\n{rows}")
