import numpy as np
import pytest

from aa_trigger.data import detector, generator as g
from aa_trigger.data.adc2021 import read_adc2021, write_adc2021
from aa_trigger.errors import AATriggerError

N = 5000


@pytest.fixture(scope="module", params=["background", *g.SIGNALS])
def sample(request):
    return request.param, g.generate_sample(request.param, N, seed=3)


def test_shape_and_classes(sample):
    _, ev = sample
    assert ev.shape == (N, 19, 4) and ev.dtype == np.float32
    assert np.all(ev[:, 0, 3] == 1) and np.all(ev[:, 0, 1] == 0)
    for rows, cls in ((slice(1, 5), 2), (slice(5, 9), 3), (slice(9, 19), 4)):
        block = ev[:, rows]
        assert np.all(np.where(block[..., 0] > 0, block[..., 3] == cls, block[..., 3] == 0))
        # zero padding is all-zero
        assert np.all(block[block[..., 0] == 0] == 0)


def test_pt_ordering_within_groups(sample):
    _, ev = sample
    for rows in (slice(1, 5), slice(5, 9), slice(9, 19)):
        pt = ev[:, rows, 0]
        assert np.all(np.diff(pt, axis=1) <= 0)


def test_acceptance_and_filter(sample):
    _, ev = sample
    for rows, kind in ((slice(1, 5), "egamma"), (slice(5, 9), "muon"), (slice(9, 19), "jet")):
        eta_max, pt_min = detector.ACCEPTANCE[kind]
        block = ev[:, rows]
        present = block[..., 0] > 0
        assert np.all(np.abs(block[..., 1][present]) < eta_max)
        assert np.all(block[..., 0][present] >= pt_min)
    assert np.all(np.abs(ev[..., 2]) <= np.pi)
    assert np.all(detector.lepton_filter(ev))


def test_background_composition_is_physical():
    ev = g.generate_sample("background", 20000, seed=1)
    met = ev[:, 0, 0]
    assert 10 < met.mean() < 60  # W-dominated: neutrinos give tens of GeV
    n_jets = (ev[:, 9:, 0] > 0).sum(axis=1)
    assert 0.5 < n_jets.mean() < 4


def test_deterministic_by_seed():
    a = g.generate_sample("background", 3000, seed=7)
    b = g.generate_sample("background", 3000, seed=7)
    c = g.generate_sample("background", 3000, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_adc2021_round_trip(tmp_path):
    ev = g.generate_sample("Ato4l", 1000, seed=0)
    path = tmp_path / "x.h5"
    write_adc2021(path, ev)
    assert np.array_equal(read_adc2021(path), ev)
    assert not list(tmp_path.glob("*.part"))


def test_reader_rejects_bad_files(tmp_path):
    import h5py

    with pytest.raises(AATriggerError, match="no such file"):
        read_adc2021(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(AATriggerError, match="not a readable HDF5"):
        read_adc2021(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "shape.h5", "w") as f:
        f["Particles"] = np.zeros((10, 18, 4))
    with pytest.raises(AATriggerError, match=r"expected \(N, 19, 4\)"):
        read_adc2021(tmp_path / "shape.h5")
    bad = np.zeros((10, 19, 4), np.float32)
    bad[3, 2, 1] = np.nan
    write_adc2021(tmp_path / "nan.h5", bad)
    with pytest.raises(AATriggerError, match="NaN or Inf"):
        read_adc2021(tmp_path / "nan.h5")
