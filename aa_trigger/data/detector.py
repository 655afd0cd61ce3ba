"""The L1 detector model of the built-in generator: pileup, fakes, resolutions, acceptance, MET,
and the single-lepton filter (see :mod:`.generator` for the physics choices)."""

from __future__ import annotations

from typing import Any

import numpy as np

from aa_trigger.data import kinematics as kin

N_EGAMMA, N_MUON, N_JET = 4, 4, 10
LEPTON_FILTER_PT = 23.0
ACCEPTANCE = {  # kind: (|eta| max, pT min in GeV)
    "egamma": (3.0, 3.0),
    "muon": (2.1, 3.0),
    "jet": (4.0, 15.0),
}

_RESOLUTION = {  # kind: (stochastic term, constant term, eta/phi smearing)
    "egamma": (0.20, 0.05, 0.01),
    "muon": (0.0, 0.10, 0.02),
    "jet": (1.00, 0.10, 0.05),
}


def _smear(rng: np.random.Generator, kind: str, obj: np.ndarray) -> np.ndarray:
    stochastic, constant, angle = _RESOLUTION[kind]
    pt = obj[..., 0]
    rel = np.sqrt(constant**2 + stochastic**2 / np.maximum(pt, 1e-3))
    noise = rng.standard_normal(obj.shape, dtype=np.float32)
    out = np.empty_like(obj)
    out[..., 0] = np.maximum(pt * (1.0 + rel * noise[..., 0]), 0.0)
    out[..., 1] = obj[..., 1] + angle * noise[..., 1]
    out[..., 2] = kin.wrap_phi(obj[..., 2] + angle * noise[..., 2])
    return out


def _vec_sum(obj: np.ndarray) -> np.ndarray:
    """Vector sum (n, 2) of the transverse momenta of objects (n, k, 3)."""
    pt, phi = obj[..., 0], obj[..., 2]
    return np.stack([(pt * np.cos(phi)).sum(axis=1), (pt * np.sin(phi)).sum(axis=1)], axis=-1)


def _select(obj: np.ndarray, kind: str, keep: int) -> np.ndarray:
    eta_max, pt_min = ACCEPTANCE[kind]
    ok = (obj[..., 0] >= pt_min) & (np.abs(obj[..., 1]) < eta_max)
    pt = np.where(ok, obj[..., 0], 0.0)
    order = np.argsort(-pt, axis=1, kind="stable")[:, :keep]
    sel = np.take_along_axis(obj, order[..., None], axis=1) * np.take_along_axis(ok, order, axis=1)[..., None]
    if sel.shape[1] < keep:
        sel = np.concatenate([sel, np.zeros((sel.shape[0], keep - sel.shape[1], 3), sel.dtype)], axis=1)
    return sel


def detector_response(rng: np.random.Generator, b: Any) -> np.ndarray:
    """Pileup, fakes, smearing, acceptance and MET of generator-level objects ``b`` (lists of
    (n, 3) arrays ``egamma``, ``muon``, ``jet`` and the invisible momentum ``invisible``):
    (n, 19, 4) ADC2021 arrays."""
    n = b.n
    n_pu = 6
    pu_on = np.arange(n_pu)[None, :] < rng.poisson(3.0, n)[:, None]
    pu = np.stack([np.where(pu_on, 5.0 + rng.exponential(6.0, (n, n_pu)), 0.0),
                   rng.uniform(-4.5, 4.5, (n, n_pu)), rng.uniform(-np.pi, np.pi, (n, n_pu))], axis=-1)
    jets = np.concatenate([np.stack(b.jet, axis=1), pu], axis=1).astype(np.float32)
    muons = np.stack(b.muon, axis=1).astype(np.float32)
    # e/gamma fakes from jets: a fraction of the jet's energy seen as an e/gamma candidate
    fake = (jets[..., 0] > 10.0) & (rng.uniform(size=jets.shape[:2]) < 0.3)
    frac = np.where(fake, rng.uniform(0.2, 0.6, jets.shape[:2]), 0.0).astype(np.float32)
    fakes = jets.copy()
    fakes[..., 0] *= frac
    jets[..., 0] *= 1.0 - frac
    egamma = np.concatenate([np.stack(b.egamma, axis=1).astype(np.float32), fakes], axis=1)

    # calorimeter MET: muons, neutrinos and |eta| > 5 are invisible; calorimeter objects
    # add their mismeasurement (true minus measured)
    invisible = b.invisible + _vec_sum(muons)
    calo = {}
    sum_et = np.zeros(n, np.float32)
    for kind, obj in (("egamma", egamma), ("jet", jets)):
        measured = _smear(rng, kind, obj)
        measured[..., 0] *= np.abs(obj[..., 1]) < 5.0
        invisible += _vec_sum(obj) - _vec_sum(measured)
        sum_et += measured[..., 0].sum(axis=1)
        calo[kind] = measured
    met = invisible + rng.normal(size=(n, 2)) * (2.0 + 0.4 * np.sqrt(sum_et))[:, None]

    out = np.zeros((n, 19, 4), np.float32)
    out[:, 0, 0] = np.hypot(met[:, 0], met[:, 1])
    out[:, 0, 2] = np.arctan2(met[:, 1], met[:, 0])
    out[:, 0, 3] = 1.0
    blocks = ((1, "egamma", calo["egamma"], N_EGAMMA, 2.0),
              (1 + N_EGAMMA, "muon", _smear(rng, "muon", muons), N_MUON, 3.0),
              (1 + N_EGAMMA + N_MUON, "jet", calo["jet"], N_JET, 4.0))
    for start, kind, obj, keep, cls in blocks:
        sel = _select(obj, kind, keep)
        out[:, start:start + keep, :3] = sel
        out[:, start:start + keep, 3] = np.where(sel[..., 0] > 0, cls, 0.0)
    return out


def lepton_filter(events: np.ndarray) -> np.ndarray:
    """True where an event has an electron/photon or muon candidate above 23 GeV."""
    leptons = events[:, 1:1 + N_EGAMMA + N_MUON, 0]
    return leptons.max(axis=1) > LEPTON_FILTER_PT
