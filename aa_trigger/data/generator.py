"""Synthetic Level-1 trigger events in the ADC2021 layout (the built-in data set).

Physics choices (a fast parametric simulation, not a full event generator):

* Every process is a hard system with transverse momentum q (falling exponential
  spectrum, rapidity ~ N(0, 1.6)) balanced by an initial-state-radiation recoil jet with
  -q, so the event is balanced before detector effects.
* Resonances (W, Z, top, A, LQ, h0, h+, Z') have Breit-Wigner (or narrow) masses and decay
  isotropically in their rest frame (two-body decays chained through Lorentz boosts).
* Taus decay leptonically (35%, e or mu) or hadronically (65%, an L1 jet) in the collinear
  approximation; the neutrinos take the rest of the tau momentum.
* Background: W -> l nu 59.2%, QCD multijet 33.8%, Z -> l l 6.7%, ttbar 0.3% (the ADC2021
  proportions). QCD dijets have a power-law mass spectrum (m^-4 above 40 GeV); a
  semileptonic heavy-flavour decay in one jet gives the lepton that passes the filter.
* Detector: Gaussian resolutions per object type (e/gamma 5% + 20%/sqrt(pT), muons 10%,
  jets 10% + 100%/sqrt(pT)); L1 acceptance e/gamma |eta| < 3.0, pT > 3 GeV; muons
  |eta| < 2.1, pT > 3 GeV; jets |eta| < 4.0, pT > 15 GeV. Jets fake e/gamma candidates
  (30% of jets above 10 GeV give an e/gamma with 20-60% of their pT).
* Pileup: Poisson(3) soft jets per event (pT = 5 GeV + Exp(6 GeV), |eta| < 4.5).
* MET is calorimeter MET as at L1: neutrinos, muons and everything beyond |eta| = 5 are
  invisible; calorimeter objects add their mismeasurement; unclustered energy adds
  Gaussian noise of 2 GeV + 0.4 sqrt(sum ET) per component.
* Single-lepton filter on every sample, so that signals differ from background by more
  than the filter: at least one reconstructed e/gamma or muon with pT > 23 GeV.
* Signals (ADC2021 analogues): A -> 4l (50 GeV, via two off-shell bosons), LQ -> b tau
  (80 GeV), h0 -> tau tau (60 GeV), h+ -> tau nu (60 GeV); plus Z' -> mu mu (120 GeV).

Each sample is deterministic by (seed, sample name) and vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from aa_trigger.data import kinematics as kin
from aa_trigger.data.detector import detector_response, lepton_filter

BACKGROUND_FRACTIONS = {"W": 0.592, "QCD": 0.338, "Z": 0.067, "ttbar": 0.003}
M_W, G_W, M_Z, G_Z, M_TOP = 80.4, 2.1, 91.19, 2.5, 172.5
#: pT scale (GeV) of the signals' production spectrum: gluon-initiated production radiates
#: harder than the quark-initiated W/Z background (12 GeV).
SIGNAL_PT_SCALE = 40.0

#: ADC2021 file names of the built-in samples (the background and the four ADC2021 signals
#: keep the real data set's file names, so the same reader serves both).
SAMPLE_FILES = {
    "background": "background_for_training.h5",
    "Ato4l": "Ato4l_lepFilter_13TeV.h5",
    "leptoquark": "leptoquark_LOWMASS_lepFilter_13TeV.h5",
    "hToTauTau": "hToTauTau_13TeV_PU20.h5",
    "hChToTauNu": "hChToTauNu_13TeV_PU20.h5",
    "Zprime_mumu": "Zprime_mumu_120GeV_lepFilter_13TeV.h5",
}
SIGNALS = tuple(name for name in SAMPLE_FILES if name != "background")


@dataclass
class _EventBuilder:
    """Collects generator-level objects of one chunk of events before detector effects."""

    rng: np.random.Generator
    n: int
    egamma: list[np.ndarray] = field(default_factory=list)
    muon: list[np.ndarray] = field(default_factory=list)
    jet: list[np.ndarray] = field(default_factory=list)
    invisible: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.invisible = np.zeros((self.n, 2))

    def subset(self, keep: np.ndarray) -> "_EventBuilder":
        out = _EventBuilder(self.rng, int(keep.sum()))
        for kind in ("egamma", "muon", "jet"):
            setattr(out, kind, [obj[keep] for obj in getattr(self, kind)])
        out.invisible = self.invisible[keep]
        return out

    def may_pass_filter(self) -> np.ndarray:
        """Generator-level pre-selection, loose enough that the detector-level lepton filter
        loses under 0.5% of the filtered events (measured on QCD): a lepton above 17 GeV, or a jet above 30 GeV
        (jets can give e/gamma candidates)."""
        lep = np.max(np.stack([o[:, 0] for o in self.egamma + self.muon], axis=1), axis=1)
        jet = np.max(np.stack([o[:, 0] for o in self.jet], axis=1), axis=1)
        return (lep > 17.0) | (jet > 30.0)

    def add(self, kind: str, p4: np.ndarray, present: np.ndarray | None = None) -> None:
        pt, eta, phi = kin.pt_eta_phi(p4)
        if present is not None:
            pt = np.where(present, pt, 0.0)
        getattr(self, kind).append(np.stack([pt, eta, phi], axis=-1))

    def add_invisible(self, p4: np.ndarray, present: np.ndarray | None = None) -> None:
        w = 1.0 if present is None else present[:, None].astype(float)
        self.invisible += w * p4[:, 1:3]

    def add_lepton(self, p4: np.ndarray, is_muon: np.ndarray, present: np.ndarray | None = None) -> None:
        on = np.ones(self.n, bool) if present is None else present
        self.add("muon", p4, on & is_muon)
        self.add("egamma", p4, on & ~is_muon)

    def add_tau(self, p4: np.ndarray, present: np.ndarray | None = None) -> None:
        """A tau in the collinear approximation: leptonic (35%) or hadronic (65%)."""
        on = np.ones(self.n, bool) if present is None else present
        u = self.rng.uniform(size=self.n)
        leptonic = u < 0.35
        is_muon = u < 0.174
        x = np.where(leptonic, self.rng.beta(2.0, 2.0, self.n), self.rng.uniform(0.35, 1.0, self.n))
        visible = p4 * x[:, None]
        self.add_lepton(visible, is_muon, on & leptonic)
        self.add("jet", visible, on & ~leptonic)
        self.add_invisible(p4 * (1.0 - x)[:, None], on)

    def add_w_decay(self, w: np.ndarray, hadronic: np.ndarray) -> None:
        """W -> e nu, mu nu, tau nu (1/3 each) or, where ``hadronic``, W -> q q'."""
        a, b = kin.two_body_decay(self.rng, w, 0.0, 0.0)
        flavour = self.rng.integers(0, 3, self.n)
        lep = ~hadronic
        self.add_lepton(a, flavour == 1, lep & (flavour < 2))
        self.add_tau(a, lep & (flavour == 2))
        self.add_invisible(b, lep)
        self.add("jet", a, hadronic)
        self.add("jet", b, hadronic)


def _breit_wigner(rng: np.random.Generator, n: int, mass: float, width: float) -> np.ndarray:
    m = mass + width / 2.0 * np.tan(np.pi * (rng.uniform(size=n) - 0.5))
    return np.clip(m, mass - 5 * width, mass + 5 * width)


def _hard_system(rng: np.random.Generator, b: _EventBuilder, mass: np.ndarray, pt_scale: float) -> np.ndarray:
    """A system of the given masses with an exponential pT spectrum and its ISR recoil jet."""
    n = b.n
    pt = rng.exponential(pt_scale, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    y = np.clip(rng.normal(0.0, 1.6, n), -4.0, 4.0)
    recoil_y = np.clip(rng.normal(0.0, 2.0, n), -5.0, 5.0)
    b.add("jet", kin.p4_from_pt_y_phi_m(pt, recoil_y, kin.wrap_phi(phi + np.pi), np.zeros(n)))
    return kin.p4_from_pt_y_phi_m(pt, y, phi, mass)


def _process_w(rng: np.random.Generator, b: _EventBuilder) -> None:
    w = _hard_system(rng, b, _breit_wigner(rng, b.n, M_W, G_W), 12.0)
    b.add_w_decay(w, np.zeros(b.n, bool))


def _process_z(rng: np.random.Generator, b: _EventBuilder, mass: float = M_Z, width: float = G_Z,
               flavours: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3), pt_scale: float = 12.0) -> None:
    z = _hard_system(rng, b, _breit_wigner(rng, b.n, mass, width), pt_scale)
    l1, l2 = kin.two_body_decay(rng, z, 0.0, 0.0)
    flavour = rng.choice(3, size=b.n, p=flavours)
    light = flavour < 2
    for lep in (l1, l2):
        b.add_lepton(lep, flavour == 1, light)
        b.add_tau(lep, ~light)


def _process_qcd(rng: np.random.Generator, b: _EventBuilder) -> None:
    n = b.n
    mjj = 40.0 * (1.0 - rng.uniform(size=n)) ** (-1.0 / 3.0)  # dN/dm ~ m^-4 above 40 GeV
    system = _hard_system(rng, b, mjj, 15.0)
    j1, j2 = kin.two_body_decay(rng, system, 0.0, 0.0)
    # semileptonic heavy-flavour decay inside the first jet: lepton + neutrino + rest
    z_lep = rng.beta(1.5, 3.0, n)
    z_nu = rng.uniform(0.0, 0.3, n) * (1.0 - z_lep)
    b.add_lepton(j1 * z_lep[:, None], rng.uniform(size=n) < 0.5)
    b.add_invisible(j1 * z_nu[:, None])
    b.add("jet", j1 * (1.0 - z_lep - z_nu)[:, None])
    b.add("jet", j2)
    extra = rng.uniform(size=n) < 0.4  # a third hard jet from final-state radiation
    pt3 = 15.0 + rng.exponential(15.0, n)
    j3 = kin.p4_from_pt_y_phi_m(pt3, rng.normal(0.0, 2.0, n), rng.uniform(-np.pi, np.pi, n), np.zeros(n))
    b.add("jet", j3, extra)
    b.add("jet", -j3 * np.array([-1.0, 1.0, 1.0, 1.0]), extra)  # recoil partner keeps balance


def _process_ttbar(rng: np.random.Generator, b: _EventBuilder) -> None:
    n = b.n
    mass = 2 * M_TOP + rng.exponential(80.0, n)
    tt = _hard_system(rng, b, mass, 40.0)
    t1, t2 = kin.two_body_decay(rng, tt, M_TOP, M_TOP)
    for top in (t1, t2):
        bq, w = kin.two_body_decay(rng, top, 4.8, _breit_wigner(rng, n, M_W, G_W))
        b.add("jet", bq)
        b.add_w_decay(w, rng.uniform(size=n) < 0.676)


def _process_ato4l(rng: np.random.Generator, b: _EventBuilder) -> None:
    n = b.n
    a = _hard_system(rng, b, np.full(n, 50.0), SIGNAL_PT_SCALE)
    m1 = rng.uniform(4.0, 40.0, n)
    m2 = rng.uniform(2.0, np.maximum(48.0 - m1, 2.5), n)
    x1, x2 = kin.two_body_decay(rng, a, m1, m2)
    for x in (x1, x2):
        l1, l2 = kin.two_body_decay(rng, x, 0.0, 0.0)
        is_muon = rng.uniform(size=n) < 0.5
        b.add_lepton(l1, is_muon)
        b.add_lepton(l2, is_muon)


def _process_leptoquark(rng: np.random.Generator, b: _EventBuilder) -> None:
    lq = _hard_system(rng, b, _breit_wigner(rng, b.n, 80.0, 1.0), SIGNAL_PT_SCALE)
    bq, tau = kin.two_body_decay(rng, lq, 4.8, 1.777)
    b.add("jet", bq)
    b.add_tau(tau)


def _process_h0_tautau(rng: np.random.Generator, b: _EventBuilder) -> None:
    h = _hard_system(rng, b, np.full(b.n, 60.0), SIGNAL_PT_SCALE)
    for tau in kin.two_body_decay(rng, h, 1.777, 1.777):
        b.add_tau(tau)


def _process_hplus_taunu(rng: np.random.Generator, b: _EventBuilder) -> None:
    h = _hard_system(rng, b, np.full(b.n, 60.0), SIGNAL_PT_SCALE)
    tau, nu = kin.two_body_decay(rng, h, 1.777, 0.0)
    b.add_tau(tau)
    b.add_invisible(nu)


def _process_zprime(rng: np.random.Generator, b: _EventBuilder) -> None:
    _process_z(rng, b, mass=120.0, width=3.6, flavours=(0.0, 1.0, 0.0), pt_scale=SIGNAL_PT_SCALE)


_PROCESSES: dict[str, Callable[[np.random.Generator, _EventBuilder], None]] = {
    "W": _process_w,
    "QCD": _process_qcd,
    "Z": _process_z,
    "ttbar": _process_ttbar,
    "Ato4l": _process_ato4l,
    "leptoquark": _process_leptoquark,
    "hToTauTau": _process_h0_tautau,
    "hChToTauNu": _process_hplus_taunu,
    "Zprime_mumu": _process_zprime,
}
def generate_process(process: str, n: int, seed: int, chunk: int = 200_000) -> np.ndarray:
    """``n`` lepton-filtered events (n, 19, 4) of one process; deterministic by (seed, process)."""
    names = list(_PROCESSES)
    rng = np.random.default_rng([seed, names.index(process)])
    parts, have = [], 0
    while have < n:
        b = _EventBuilder(rng, chunk)
        _PROCESSES[process](rng, b)
        events = detector_response(rng, b.subset(b.may_pass_filter()))
        events = events[lepton_filter(events)]
        parts.append(events)
        have += len(events)
    return np.concatenate(parts)[:n].astype(np.float32)


def generate_sample(sample: str, n: int, seed: int) -> np.ndarray:
    """``n`` events of a named sample: "background" (the mixture) or a signal name."""
    if sample != "background":
        return generate_process(sample, n, seed)
    counts = {p: int(round(f * n)) for p, f in BACKGROUND_FRACTIONS.items()}
    counts["W"] += n - sum(counts.values())
    events = np.concatenate([generate_process(p, c, seed) for p, c in counts.items() if c > 0])
    order = np.random.default_rng([seed, 1000]).permutation(n)
    return events[order]


def write_builtin(folder: Path, n_background: int, n_signal: int, seed: int,
                  signals: tuple[str, ...] = SIGNALS) -> dict[str, Path]:
    """Generate the built-in samples into ``folder`` as ADC2021 HDF5 files; returns their paths."""
    from aa_trigger.data.adc2021 import write_adc2021

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for sample in ("background", *signals):
        path = folder / SAMPLE_FILES[sample]
        n = n_background if sample == "background" else n_signal
        write_adc2021(path, generate_sample(sample, n, seed))
        paths[sample] = path
    return paths
