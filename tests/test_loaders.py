"""Loaders: small files in each format (with the known traps), and the real samples."""

import gzip
import struct
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from aa_trigger.config import TrainConfig
from aa_trigger.data.dataset import load_dataset
from aa_trigger.errors import AATriggerError
from aa_trigger.data.loaders import ReadOptions, read_source


def _cicids_csv(path):
    header = " Destination Port, Flow Duration,Flow Bytes/s, Flow Packets/s, Fwd Header Length, Fwd Header Length, Label\n"
    rows = [
        b"80,100,12.5,3.0,20,20,BENIGN\n",
        b"443,200,NaN,4.0,32,32,BENIGN\n",
        b"22,300,Infinity,Infinity,40,40,BENIGN\n",
        b"80,50,1.0,2.0,20,20,Web Attack \x96 Brute Force\n",
        b"21,70,2.0,2.0,20,20,FTP-Patator\n",
        b"8080,90,5.0,1.0,24,24,BENIGN\n",
    ]
    path.write_bytes(header.encode() + b"".join(rows))
    return path


def test_cicids_traps(tmp_path):
    t = read_source("c", _cicids_csv(tmp_path / "tue.csv"), ReadOptions())
    assert t.kind == "tabular"
    assert t.names == ["Destination Port", "Flow Duration", "Flow Bytes/s", "Flow Packets/s", "Fwd Header Length"]
    assert t.counts() == {"BENIGN": 2, "FTP-Patator": 1, "Web Attack - Brute Force": 1}  # 2 non-finite rows dropped
    notes = " ".join(t.notes)
    assert "cp1252" in notes and "duplicated column" in notes and "dropped 2 rows with NaN/Inf" in notes
    assert np.isfinite(t.features).all()
    z = read_source("c", tmp_path / "tue.csv", ReadOptions(nonfinite="zero"))
    assert len(z.labels) == 6 and z.features[2, 2] == 0.0 and "set NaN/Inf to 0" in " ".join(z.notes)
    with pytest.raises(AATriggerError, match="2 rows with NaN/Inf"):
        read_source("c", tmp_path / "tue.csv", ReadOptions(nonfinite="error"))


def test_column_and_label_maps(tmp_path):
    path = _cicids_csv(tmp_path / "t.csv")
    t = read_source("c", path, ReadOptions(column_map={"Flow Duration": "duration"},
                                           label_map={"FTP-Patator": "Brute Force", "BENIGN": "Normal"}))
    assert "duration" in t.names and t.counts() == {"Brute Force": 1, "Normal": 2, "Web Attack - Brute Force": 1}
    with pytest.raises(AATriggerError, match="unknown column 'nope'"):
        read_source("c", path, ReadOptions(column_map={"nope": "x"}))
    with pytest.raises(AATriggerError, match="no column 'target'"):
        read_source("c", path, ReadOptions(label_column="target"))
    with pytest.raises(AATriggerError, match="no feature column 'zzz'"):
        read_source("c", path, ReadOptions(features=["zzz"]))


def test_parquet_hdf_npy(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=50), "b": rng.exponential(size=50), "label": [0] * 40 + [1] * 10})
    df.to_parquet(tmp_path / "t.parquet")
    assert read_source("p", tmp_path / "t.parquet", ReadOptions()).counts() == {"0": 40, "1": 10}
    df.to_hdf(tmp_path / "lhco.h5", key="df")  # LHCO layout: pandas HDF, label column, sorted by label
    t = read_source("l", tmp_path / "lhco.h5", ReadOptions())
    assert t.names == ["a", "b"] and t.counts() == {"0": 40, "1": 10}
    import h5py
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["x"] = df.to_numpy()
        f["other"] = np.zeros(3)
    with pytest.raises(AATriggerError, match="--hdf-key"):
        read_source("h", tmp_path / "plain.h5", ReadOptions(label_column="2"))
    t = read_source("h", tmp_path / "plain.h5", ReadOptions(label_column="2", hdf_key="x"))
    assert t.counts() == {"0": 40, "1": 10}
    np.save(tmp_path / "t.npy", df.to_numpy())
    t = read_source("n", tmp_path / "t.npy", ReadOptions(label_column="-1"))
    assert t.features.shape == (50, 2)
    with pytest.raises(AATriggerError, match="needs --label-column"):
        read_source("n", tmp_path / "t.npy", ReadOptions())


def _write_idx(tmp_path, images, labels, magic=2051):
    with gzip.open(tmp_path / "x-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", magic, len(images), 28, 28) + images.astype(np.uint8).tobytes())
    with gzip.open(tmp_path / "x-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes())
    return tmp_path / "x-images-idx3-ubyte.gz"


def test_images_idx_kaggle_sprite(tmp_path):
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (20, 784))
    labels = np.arange(20) % 10
    t = read_source("m", _write_idx(tmp_path, imgs, labels), ReadOptions())
    assert t.kind == "image" and np.array_equal(t.features, imgs) and t.labels[:3].tolist() == ["0", "1", "2"]
    (tmp_path / "x-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(AATriggerError, match="labels file"):
        read_source("m", tmp_path / "x-images-idx3-ubyte.gz", ReadOptions())
    with pytest.raises(AATriggerError, match="not an IDX file"):
        read_source("m", _write_idx(tmp_path, imgs, labels, magic=1234), ReadOptions())

    df = pd.DataFrame(imgs, columns=[f"pixel{i + 1}" for i in range(784)])
    df.insert(0, "label", labels)
    df.to_csv(tmp_path / "k.csv", index=False)
    t = read_source("k", tmp_path / "k.csv", ReadOptions())
    assert t.kind == "image" and np.array_equal(t.features, imgs)

    from PIL import Image
    tiles = imgs[:6].reshape(2, 3, 28, 28).transpose(0, 2, 1, 3).reshape(56, 84)
    Image.fromarray(tiles.astype(np.uint8)).save(tmp_path / "s.png")
    t = read_source("s", tmp_path / "s.png", ReadOptions(tiles_per_label=2))
    assert t.kind == "image" and np.array_equal(t.features, imgs[:6]) and t.labels.tolist() == list("001122")
    (tmp_path / "bad.png").write_text("not a png")
    with pytest.raises(AATriggerError, match="not a readable PNG"):
        read_source("s", tmp_path / "bad.png", ReadOptions())


def test_bad_files(tmp_path):
    with pytest.raises(AATriggerError, match="no such file"):
        read_source("x", tmp_path / "none.csv", ReadOptions())
    (tmp_path / "fake.parquet").write_text("this is not parquet")
    with pytest.raises(AATriggerError, match="cannot read as parquet"):
        read_source("x", tmp_path / "fake.parquet", ReadOptions())
    (tmp_path / "t.txt").write_text("a")
    with pytest.raises(AATriggerError, match="unknown file type"):
        read_source("x", tmp_path / "t.txt", ReadOptions())
    (tmp_path / "nolabel.csv").write_text("a,b\n1,2\n")
    with pytest.raises(AATriggerError, match="no label column found"):
        read_source("x", tmp_path / "nolabel.csv", ReadOptions())


def _table_cfg(tmp_path, **kw):
    rng = np.random.default_rng(2)
    df = pd.DataFrame(rng.exponential(size=(300, 4)), columns=list("abcd"))
    df["label"] = ["normal"] * 240 + ["attackA"] * 30 + ["attackB"] * 30
    df.to_csv(tmp_path / "d.csv", index=False)
    return TrainConfig(data=[str(tmp_path / "d.csv")], **kw)


def test_roles_and_splits(tmp_path):
    data = load_dataset(_table_cfg(tmp_path, background=["normal"], finetune=["attackA"]))
    assert data.kind == "tabular" and len(data.x_train) == 168 and len(data.x_test) == 72
    assert len(data.x_finetune) == 21 and set(data.signals_test) == {"attackA", "attackB"}
    assert len(data.signals_test["attackA"]) == 9 and len(data.signals_test["attackB"]) == 30
    assert np.array_equal(data.x_test.astype(np.float64), data.int_test * 2.0 ** -data.scaler.frac_bits)
    with pytest.raises(AATriggerError, match="unknown label 'attackC'"):
        load_dataset(_table_cfg(tmp_path, background=["normal"], finetune=["attackC"]))
    with pytest.raises(AATriggerError, match="both --background and --finetune"):
        load_dataset(_table_cfg(tmp_path, background=["normal", "attackA"], finetune=["attackA"]))


def test_train_cli_bad_data_one_line(tmp_path):
    _table_cfg(tmp_path)
    out = tmp_path / "models"
    res = subprocess.run([sys.executable, "-m", "aa_trigger.train", "--data", str(tmp_path / "d.csv"),
                          "--background", "normal", "--finetune", "nosuch", "--output", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "unknown label 'nosuch'" in res.stderr
    assert not out.exists()


# ---- the real samples in ../shared/data ----

def test_real_mnist(shared_data):
    t = read_source("mnist", shared_data / "mnist" / "t10k-images-idx3-ubyte.gz", ReadOptions())
    assert t.features.shape == (10000, 784) and t.labels[:10].tolist() == list("7210414959")


def test_real_fashion(shared_data):
    csv = read_source("f", shared_data / "fashion_mnist" / "fashion-mnist_test_1000rows.csv", ReadOptions())
    assert csv.kind == "image" and csv.features.shape == (1000, 784)
    sprite = read_source("s", shared_data / "fashion_mnist" / "fashion-mnist-sprite_900imgs.png", ReadOptions())
    assert sprite.features.shape == (900, 784) and sprite.counts() == {str(i): 90 for i in range(10)}


def test_real_cicids(shared_data):
    tue = read_source("t", shared_data / "cicids2017" / "Tuesday-WorkingHours_first999rows_MachineLearningCVE.csv",
                      ReadOptions())
    assert tue.features.shape[1] == 77 and set(tue.counts()) == {"BENIGN"}  # 78 minus the duplicated column
    assert np.isfinite(tue.features).all()
    clean = read_source("c", shared_data / "cicids2017" / "cicids2017_cleaned_grouped_sample_12k.csv", ReadOptions())
    assert clean.features.shape == (12000, 52)
    assert clean.counts() == {"Normal Traffic": 9973, "DoS": 945, "DDoS": 623, "Port Scanning": 401,
                              "Brute Force": 38, "Web Attacks": 12, "Bots": 8}


@pytest.mark.slow
def test_reproduce_quick_on_real_samples(shared_data, tmp_path):
    res = subprocess.run([sys.executable, "-m", "aa_trigger.reproduce", "--quick", "--data-root", str(shared_data),
                          "--output", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "| mnist | fashion:unseen (unseen) |" in res.stdout and "| cicids | DoS (unseen) |" in res.stdout
    assert "0.75 -> 0.79" in res.stdout
    assert (tmp_path / "paper-mnist" / "metrics.json").is_file()


@pytest.mark.slow
def test_convert_a_tabular_run(shared_data, tmp_path):
    """A table run records its resolved columns and working points; convert reuses both."""
    import json

    csv = shared_data / "cicids2017" / "cicids2017_cleaned_grouped_sample_12k.csv"
    res = subprocess.run([sys.executable, "-m", "aa_trigger.train", "--data", str(csv), "--background",
                          "Normal Traffic", "--finetune", "Brute Force", "--epochs-pretrain", "3", "--epochs-finetune",
                          "2", "--epochs-surrogate", "2", "--output", str(tmp_path), "--run-name", "tab",
                          "--exclude-features", "Destination Port", "--fpr", "1e-3", "--rate-khz", "100", "400"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    cfg = json.loads((tmp_path / "tab" / "config.json").read_text())
    assert cfg["preprocessing"] == "float" and len(cfg["features"]) == 51 and "Destination Port" not in cfg["features"]
    summary = (tmp_path / "tab" / "summary.md").read_text()
    assert "| TPR@FPR 0.001 | TPR@100 kHz | TPR@400 kHz |" in summary
    res = subprocess.run([sys.executable, "-m", "aa_trigger.convert", "--run", str(tmp_path / "tab"), "--output",
                          str(tmp_path / "fw"), "--n-tb", "300", "--n-hls", "2000"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads((tmp_path / "fw" / "report.json").read_text())
    assert report["all_bit_exact"] and report["input_type"] == "fixed<14,6>" and report["n_features"] == 51
    assert [t["working_point"] for t in report["thresholds"]] == ["FPR 0.001", "100 kHz", "400 kHz"]
    assert all(t["threshold_int"] is not None for t in report["thresholds"])


def test_plain_label_matches_across_sources(tmp_path):
    rng = np.random.default_rng(3)
    for day in ("tue", "wed"):
        df = pd.DataFrame(rng.exponential(size=(100, 3)), columns=list("abc"))
        df["Label"] = ["BENIGN"] * 80 + [f"attack_{day}"] * 20
        df.to_csv(tmp_path / f"{day}.csv", index=False)
    cfg = TrainConfig(data=[f"tue={tmp_path / 'tue.csv'}", f"wed={tmp_path / 'wed.csv'}"],
                      background=["BENIGN"], finetune=["attack_tue"])
    data = load_dataset(cfg)
    assert len(data.x_train) + len(data.x_test) == 160
    # one test signal per fine-tuning label, unseen labels by their short name (unique to one source)
    assert set(data.signals_test) == {"attack_tue", "attack_wed"} and data.finetune_signals == ["attack_tue"]
