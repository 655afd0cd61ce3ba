"""pandas HDF5 tables are read without unpickling: crafted files cannot run code."""

import pickle
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from aa_trigger.data.hdf_tables import read_pandas_hdf
from aa_trigger.data.loaders import ReadOptions, read_source
from aa_trigger.errors import AATriggerError


class _Payload:
    """Unpickling this creates a marker file: the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _frame(n=6):
    return pd.DataFrame({"a": np.arange(n, dtype=np.float64), "b": np.linspace(0, 1, n),
                         "label": ["bg", "sig"] * (n // 2)})


@pytest.mark.parametrize("layout", ["fixed", "table"])
def test_both_pandas_layouts_read_like_pandas(tmp_path, layout):
    df = _frame()
    path = tmp_path / f"{layout}.h5"
    if layout == "fixed":
        df[["a", "b"]].assign(label=np.array([0, 1] * 3)).to_hdf(path, key="df", format="fixed")
    else:
        df.to_hdf(path, key="df", format="table")
    got = read_pandas_hdf(path)
    assert list(got.columns) == ["a", "b", "label"]
    assert np.array_equal(got["a"].to_numpy(), df["a"].to_numpy())
    t = read_source("s", path, ReadOptions())
    assert t.counts() == ({"bg": 3, "sig": 3} if layout == "table" else {"0": 3, "1": 3})


@pytest.mark.filterwarnings("ignore::pandas.errors.PerformanceWarning")  # pandas warns it will pickle
def test_pickled_object_column_is_refused_before_any_code_runs(tmp_path):
    marker = tmp_path / "pwned"
    df = pd.DataFrame({"a": [1.0, 2.0], "label": [_Payload(marker), "x"]})
    df.to_hdf(tmp_path / "evil.h5", key="df", format="fixed")
    assert not marker.exists()
    with pytest.raises(AATriggerError, match="pickled Python objects.*format='table'"):
        read_source("e", tmp_path / "evil.h5", ReadOptions())
    assert not marker.exists()
    pd.read_hdf(tmp_path / "evil.h5")  # what pandas itself would do: the payload runs
    assert marker.exists()


def test_pickled_attribute_is_never_loaded(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil_attr.h5"
    _frame().to_hdf(path, key="df", format="table")
    with h5py.File(path, "r+") as f:
        f["df/table"].attrs["values_block_0_kind"] = np.bytes_(pickle.dumps(_Payload(marker), protocol=0))
    with pytest.raises(AATriggerError, match="not a plain list of names"):
        read_source("e", path, ReadOptions())
    assert not marker.exists()


def test_a_string_column_in_the_fixed_layout_says_how_to_resave(tmp_path):
    _frame().to_hdf(tmp_path / "strings.h5", key="df", format="fixed")
    with pytest.raises(AATriggerError, match="never loads"):
        read_source("s", tmp_path / "strings.h5", ReadOptions())
