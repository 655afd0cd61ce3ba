"""Vectorised relativistic kinematics on arrays of four-vectors (E, px, py, pz) in GeV."""

from __future__ import annotations

import numpy as np


def p4_from_pt_y_phi_m(pt: np.ndarray, y: np.ndarray, phi: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Four-vectors (N, 4) from transverse momentum, rapidity, azimuth and mass."""
    mt = np.sqrt(m**2 + pt**2)
    return np.stack([mt * np.cosh(y), pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y)], axis=-1)


def pt_eta_phi(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transverse momentum, pseudorapidity and azimuth of four-vectors (..., 4)."""
    px, py, pz = p4[..., 1], p4[..., 2], p4[..., 3]
    pt = np.hypot(px, py)
    eta = np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0))
    return pt, eta, np.arctan2(py, px)


def boost(p4: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Lorentz boost of four-vectors (N, 4) by velocity vectors beta (N, 3)."""
    b2 = np.sum(beta**2, axis=-1)
    b2 = np.minimum(b2, 1.0 - 1e-15)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p4[:, 1:], axis=-1)
    coef = np.where(b2 > 0, (gamma - 1.0) / np.where(b2 > 0, b2, 1.0), 0.0)
    e = gamma * (p4[:, 0] + bp)
    p = p4[:, 1:] + (coef * bp + gamma * p4[:, 0])[:, None] * beta
    return np.concatenate([e[:, None], p], axis=-1)


def isotropic_directions(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit vectors (n, 3) distributed uniformly on the sphere."""
    cos_t = rng.uniform(-1.0, 1.0, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    phi = rng.uniform(-np.pi, np.pi, n)
    return np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=-1)


def two_body_decay(
    rng: np.random.Generator, parent: np.ndarray, m1: np.ndarray | float, m2: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic two-body decays of parents (N, 4) into daughters of masses m1, m2 (lab frame)."""
    n = parent.shape[0]
    mass = np.sqrt(np.maximum(parent[:, 0] ** 2 - np.sum(parent[:, 1:] ** 2, axis=-1), 0.0))
    m1 = np.broadcast_to(np.asarray(m1, dtype=float), (n,))
    m2 = np.broadcast_to(np.asarray(m2, dtype=float), (n,))
    arg = (mass**2 - (m1 + m2) ** 2) * (mass**2 - (m1 - m2) ** 2)
    p = np.sqrt(np.maximum(arg, 0.0)) / (2.0 * np.maximum(mass, 1e-12))
    direction = isotropic_directions(rng, n) * p[:, None]
    d1 = np.concatenate([np.sqrt(m1**2 + p**2)[:, None], direction], axis=-1)
    d2 = np.concatenate([np.sqrt(m2**2 + p**2)[:, None], -direction], axis=-1)
    beta = parent[:, 1:] / parent[:, :1]
    return boost(d1, beta), boost(d2, beta)


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Azimuth wrapped into [-pi, pi)."""
    return (phi + np.pi) % (2.0 * np.pi) - np.pi
