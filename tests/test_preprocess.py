import numpy as np
import pytest

from aa_trigger.data import generator as g
from aa_trigger.errors import AATriggerError
from aa_trigger.data.preprocess import FloatScaler, HardwareScaler, scaler_from_dict, to_hardware


def test_hardware_integers_follow_l1_steps():
    ev = np.zeros((2, 19, 4), np.float32)
    ev[0, 0] = [10.74, 0.0, 3.1, 1]
    ev[0, 9] = [5000.0, -2.0, -3.14159, 4]
    hw = to_hardware(ev)
    assert hw.shape == (2, 57) and hw.dtype == np.int64
    assert hw[0, 0] == 21  # floor(10.74 / 0.5)
    assert hw[0, 2] == 71  # round(3.1 / (2 pi / 144)) = 71
    assert hw[0, 27] == 4095  # saturated 12-bit pT
    assert hw[0, 28] == -46  # round(-2.0 / 0.0435)
    assert hw[0, 29] == -72
    assert np.all(hw[1] == 0)


def test_power_of_two_scaling_is_bit_exact():
    ev = g.generate_sample("background", 20000, seed=5)
    hw = to_hardware(ev)
    sc = HardwareScaler.fit(hw, width=14, int_bits=6)
    got = sc.transform_int(hw)
    lo, hi = sc.int_range
    # reference with Python integers: ((x - offset) << F) >> shift, saturated
    flat_hw = hw[:500].tolist()
    for i, row in enumerate(flat_hw):
        for j, x in enumerate(row):
            ref = ((x - sc.offset[j]) << sc.frac_bits) >> sc.shift[j]
            assert got[i, j] == min(max(ref, lo), hi), (i, j, x)
    # the float view holds exactly these integers
    assert np.array_equal(sc.transform(hw).astype(np.float64) * 2**sc.frac_bits, got.astype(np.float64))
    assert all(s >= 0 for s in sc.shift)


def test_scaling_saturates_and_truncates():
    sc = HardwareScaler(offset=[10], shift=[2], width=8, int_bits=4)  # ap_fixed<8,4>: [-8, 7.9375]
    hw = np.array([[10], [11], [9], [1000], [-1000]])
    assert sc.transform(hw)[:, 0].tolist() == [0.0, 0.25, -0.25, 7.9375, -8.0]
    sc2 = HardwareScaler(offset=[0], shift=[6], width=8, int_bits=4)  # shift > frac bits: floor
    assert sc2.transform(np.array([[-1], [63], [64]]))[:, 0].tolist() == [-0.0625, 0.9375, 1.0]
    with pytest.raises(AATriggerError, match="features"):
        sc.transform(np.zeros((2, 3), int))


def test_float_scaler_paper_recipe():
    rng = np.random.default_rng(0)
    x = np.stack([rng.exponential(10.0, 10000), rng.normal(0.0, 1.0, 10000)], axis=1)
    sc = FloatScaler.fit(x)
    assert sc.log_features == [True, False] and sc.clip_features == [True, False]
    s = sc.standardise(x)
    assert np.allclose(s.mean(axis=0), 0, atol=1e-9) and np.allclose(s.std(axis=0), 1, atol=1e-9)
    z = sc.transform(x)  # quantised to ap_fixed<14,6>: steps of 2^-8, round half to even, saturate
    assert np.array_equal(sc.transform_int(x), np.clip(np.rint(s * 256), -8192, 8191))
    assert np.array_equal(z.astype(np.float64), sc.transform_int(x) / 256.0)
    again = scaler_from_dict(sc.to_dict())
    assert np.array_equal(again.transform(x), z)
    assert sc.transform(np.array([[-5.0, -5.0]]))[0, 0] == sc.transform(np.array([[0.0, 0.0]]))[0, 0]


def test_one_extreme_value_does_not_flatten_a_feature():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 2.0, (3000, 3))
    x[:, 2] = 1.0
    clean = FloatScaler.fit(x.copy())
    x[7, 0] = 1e30
    notes = []
    sc = FloatScaler.fit(x, notes, ["a", "b", "c"])
    assert sc.mean[0] == pytest.approx(clean.mean[0], abs=0.01) and sc.std[0] == pytest.approx(clean.std[0], rel=0.01)
    assert any("left out of the scaling statistics" in n and "a (1)" in n for n in notes)
    assert any("constant on training background" in n and "c" in n for n in notes)
    ints = sc.transform_int(x)
    assert len(np.unique(ints[:, 0])) > 100  # the other events still differ
    from aa_trigger.data.preprocess import saturation_counts

    assert saturation_counts(sc.unsaturated(x), sc.width).tolist() == [1, 0, 0]  # the extreme value, counted
    assert ints[7, 0] == (1 << (sc.width - 1)) - 1


def test_saturation_is_reported_by_the_data_set(tmp_path):
    import pandas as pd

    from aa_trigger.config import TrainConfig
    from aa_trigger.data.dataset import load_dataset

    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(400, 3)), columns=list("abc"))
    df["label"] = ["bg"] * 300 + ["sig"] * 100
    df.loc[350, "a"] = 1e6  # a signal row far outside the input range
    df.to_csv(tmp_path / "t.csv", index=False)
    data = load_dataset(TrainConfig(data=[str(tmp_path / "t.csv")], background=["bg"], finetune=["sig"]))
    assert sum(data.saturated["sig"].values()) + sum(data.saturated["finetune"].values()) >= 1
    assert any("input type saturates" in line for line in data.report)
