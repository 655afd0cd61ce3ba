"""The data set of users' tables: roles by label, one test signal per label, notes that warn."""

import numpy as np
import pandas as pd
import pytest

from aa_trigger.config import TrainConfig
from aa_trigger.data.dataset import load_dataset
from aa_trigger.errors import AATriggerError


def _csv(path, n_bg=300, extra=None, labels=("bg", "a", "b", "c"), sizes=None, seed=0):
    rng = np.random.default_rng(seed)
    sizes = sizes or {"bg": n_bg, "a": 60, "b": 40, "c": 30}
    frames = []
    for lab in labels:
        n = sizes[lab]
        df = pd.DataFrame(rng.normal(size=(n, 4)) + (labels.index(lab) * 0.5), columns=["f1", "f2", "f3", "f4"])
        df["label"] = lab
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    for k, v in (extra or {}).items():
        df[k] = v(len(df))
    df.to_csv(path, index=False)
    return path


def test_one_test_signal_per_finetuning_label(tmp_path):
    data = load_dataset(TrainConfig(data=[str(_csv(tmp_path / "t.csv"))], background=["bg"], finetune=["a", "b"]))
    assert data.finetune_signals == ["a", "b"] and set(data.signals_test) == {"a", "b", "c"}
    assert len(data.signals_test["a"]) == round(0.3 * 100) * 60 // 100 or 0 < len(data.signals_test["a"]) < 60
    assert len(data.x_finetune) + len(data.signals_test["a"]) + len(data.signals_test["b"]) == 100


def test_label_equal_to_the_file_name_is_ambiguous(tmp_path):
    path = _csv(tmp_path / "a.csv")  # the source is named 'a', and 'a' is also a label
    with pytest.raises(AATriggerError, match="names both a --data source and a label; write 'a:\\*'"):
        load_dataset(TrainConfig(data=[str(path)], background=["bg"], finetune=["a"]))


def test_a_label_dropped_for_nan_is_named_as_such(tmp_path):
    path = tmp_path / "n.csv"
    df = pd.read_csv(_csv(tmp_path / "raw.csv"))
    df.loc[df["label"] == "c", "f1"] = np.nan
    df.to_csv(path, index=False)
    with pytest.raises(AATriggerError, match="label 'c': all 30 rows were dropped for NaN/Inf"):
        load_dataset(TrainConfig(data=[str(path)], background=["bg"], finetune=["a"], test=["c"]))


def test_tiny_test_classes_and_identifier_columns_are_reported(tmp_path):
    sizes = {"bg": 300, "a": 60, "b": 40, "c": 3}
    path = _csv(tmp_path / "t.csv", sizes=sizes, extra={"Flow ID": lambda n: np.arange(n) * 7.0,
                                                        "Dst Port": lambda n: np.full(n, 443.0)})
    data = load_dataset(TrainConfig(data=[str(path)], background=["bg"], finetune=["a"]))
    text = "\n".join(data.report)
    assert "fewer than 10 rows" in text and "c (3)" in text
    assert "likely identifier columns" in text and "Flow ID (name, unique per row, monotonic)" in text
    assert "Dst Port (name)" in text and "--exclude-features" in text
    assert "constant on training background" in text and "Dst Port" in text


def test_exclude_and_features_file_choose_the_columns(tmp_path):
    path = _csv(tmp_path / "t.csv", extra={"Flow ID": lambda n: np.arange(n) * 1.0, "Src Port": lambda n: np.ones(n)})
    data = load_dataset(TrainConfig(data=[str(path)], background=["bg"], finetune=["a"],
                                    exclude_features=["Flow ID", "*Port"]))
    assert data.features == ["f1", "f2", "f3", "f4"]
    assert not any("likely identifier" in line for line in data.report)
    (tmp_path / "cols.txt").write_text("# the two I trust\nf2\nf4  # second\n\n")
    data = load_dataset(TrainConfig(data=[str(path)], background=["bg"], finetune=["a"],
                                    features_file=str(tmp_path / "cols.txt")))
    assert data.features == ["f2", "f4"] and data.x_train.shape[1] == 2
    with pytest.raises(AATriggerError, match="--exclude-features 'nope\\*' matches no column"):
        load_dataset(TrainConfig(data=[str(path)], background=["bg"], finetune=["a"], exclude_features=["nope*"]))
