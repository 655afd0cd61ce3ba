"""Network inputs: hardware-integer scaling for trigger data, the paper's float path otherwise.

Trigger path (:class:`HardwareScaler`), as an L1 board computes it:

1. hardware integers: pT in 0.5 GeV steps (floor, 12 bits unsigned), eta in steps of
   0.0435 (round), phi in steps of 2 pi / 144 (round, wrapped into [-72, 71]);
2. per feature ``(x - offset) >> shift`` with an integer offset and a power-of-two shift
   fitted on background, evaluated in fixed point with ``frac_bits`` fractional bits
   (truncation, i.e. an arithmetic shift) and saturated to ``ap_fixed<width, int_bits>``.

Everything is integer arithmetic, so the firmware (and the numpy emulator) reproduce the
network input bit for bit. Float path (:class:`FloatScaler`, the paper's preprocessing):
clip negatives to 0 (features that are non-negative on background), log(1 + x) of those
whose background skewness exceeds 1, standardise with background mean and standard
deviation, then quantise to the network input type ``ap_fixed<14,6>`` (round half to even,
saturate) so that a firmware input can reproduce it; the float steps run upstream of the FPGA.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from aa_trigger.errors import AATriggerError
from aa_trigger.model.quant import FixedType

PT_LSB = 0.5
ETA_LSB = 0.0435
PHI_LSB = 2.0 * np.pi / 144.0
PT_MAX_HW = 4095


def to_hardware(particles: np.ndarray) -> np.ndarray:
    """ADC2021 events (N, 19, 4) -> hardware integers (N, 57) int64: (pT, eta, phi) per object."""
    pt = np.clip(np.floor(particles[..., 0].astype(np.float64) / PT_LSB), 0, PT_MAX_HW)
    eta = np.round(particles[..., 1].astype(np.float64) / ETA_LSB)
    phi = np.round(particles[..., 2].astype(np.float64) / PHI_LSB)
    phi = (phi + 72) % 144 - 72
    hw = np.stack([pt, eta, phi], axis=-1).astype(np.int64)
    hw[pt == 0] = 0  # empty slots are all-zero, as the hardware sends them
    return hw.reshape(len(particles), -1)


class _NetworkInput:
    """What both scalers share: their output is the network input type ``ap_fixed<width, int_bits>``."""

    width: int
    int_bits: int

    @property
    def frac_bits(self) -> int:
        return self.width - self.int_bits

    @property
    def input_type(self) -> FixedType:
        """The network input type (the values are already on its grid)."""
        return FixedType(self.width, self.int_bits)


@dataclass
class HardwareScaler(_NetworkInput):
    """``(x - offset) >> shift`` per feature, in ``ap_fixed<width, int_bits, AP_TRN, AP_SAT>``."""

    offset: list[int]
    shift: list[int]
    width: int = 14
    int_bits: int = 6

    kind = "hardware"

    @property
    def int_range(self) -> tuple[int, int]:
        """Smallest and largest representable value, in units of 2**-frac_bits."""
        return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1

    @classmethod
    def fit(cls, hw_background: np.ndarray, width: int = 14, int_bits: int = 6) -> "HardwareScaler":
        """Offsets = rounded background means; shifts = floor(log2(std)) (>= 0)."""
        mean = hw_background.mean(axis=0)
        std = hw_background.std(axis=0)
        offset = np.round(mean).astype(int)
        shift = np.where(std >= 1.0, np.floor(np.log2(np.maximum(std, 1.0))), 0).astype(int)
        return cls([int(v) for v in offset], [int(v) for v in shift], width, int_bits)

    def unsaturated(self, hw: np.ndarray) -> np.ndarray:
        """The scaled inputs in units of 2**-frac_bits before saturation (int64)."""
        if hw.shape[1] != len(self.offset):
            raise AATriggerError(f"got {hw.shape[1]} features, the scaler expects {len(self.offset)}")
        x = (hw.astype(np.int64) - np.asarray(self.offset, np.int64)) << self.frac_bits
        return x >> np.asarray(self.shift, np.int64)  # arithmetic shift: floor, i.e. AP_TRN

    def transform_int(self, hw: np.ndarray) -> np.ndarray:
        """Integer representation (units of 2**-frac_bits) of the scaled inputs, int64."""
        lo, hi = self.int_range
        return np.clip(self.unsaturated(hw), lo, hi)

    def transform(self, hw: np.ndarray) -> np.ndarray:
        """Scaled inputs as float32 values (exactly representable)."""
        return (self.transform_int(hw) * 2.0 ** -self.frac_bits).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass
class FloatScaler(_NetworkInput):
    """The paper's preprocessing for non-trigger data: clip, log(1+x) of skewed features, standardise."""

    clip_features: list[bool]
    log_features: list[bool]
    mean: list[float]
    std: list[float]
    width: int = 14
    int_bits: int = 6

    kind = "float"

    @classmethod
    def fit(cls, background: np.ndarray, notes: list[str] | None = None, names: list[str] | None = None,
            width: int = 14, int_bits: int = 6) -> "FloatScaler":
        """Fit on training background. Values further than the input type's range (2^(int_bits-1)
        standard deviations) from the mean are left out of the statistics, so that one extreme value
        cannot flatten a feature for every other event; such values and constant features are
        reported in ``notes``."""
        x = background.astype(np.float64)
        limit = float(2 ** (int_bits - 1))
        clip = x.min(axis=0) >= 0  # features that are non-negative on background
        x = np.where(clip, np.maximum(x, 0.0), x)
        mean, var, keep = _moments(x, limit)
        centred = np.where(keep, x - mean, 0.0)
        skew = np.where(var > 0, (centred**3).sum(axis=0) / keep.sum(axis=0) / np.where(var > 0, var, 1.0) ** 1.5, 0.0)
        log = clip & (skew > 1.0)
        x = np.where(log, np.log1p(np.maximum(x, 0.0)), x)
        mean, var, keep = _moments(x, limit)
        std = np.sqrt(var)
        if notes is not None:
            _fit_notes(notes, names or [str(i) for i in range(x.shape[1])], keep, std)
        return cls([bool(v) for v in clip], [bool(v) for v in log], [float(v) for v in mean],
                   [float(v) if v > 0 else 1.0 for v in std], width, int_bits)

    def standardise(self, data: np.ndarray) -> np.ndarray:
        """The paper's float preprocessing (before input quantisation)."""
        if data.shape[1] != len(self.mean):
            raise AATriggerError(f"got {data.shape[1]} features, the scaler expects {len(self.mean)}")
        x = data.astype(np.float64)
        x = np.where(np.asarray(self.clip_features), np.maximum(x, 0.0), x)
        x = np.where(np.asarray(self.log_features), np.log1p(np.maximum(x, 0.0)), x)
        return (x - np.asarray(self.mean)) / np.asarray(self.std)

    def unsaturated(self, data: np.ndarray) -> np.ndarray:
        """Standardised features rounded to the input type's grid, before saturation (float64)."""
        return np.rint(self.standardise(data) * 2.0**self.frac_bits)

    def transform_int(self, data: np.ndarray) -> np.ndarray:
        """Standardised features quantised to the network input type ap_fixed<width, int_bits,
        AP_RND_CONV, AP_SAT> (units of 2**-frac_bits): what the firmware receives."""
        lim = 1 << (self.width - 1)
        return np.clip(self.unsaturated(data), -lim, lim - 1).astype(np.int64)

    def transform(self, data: np.ndarray) -> np.ndarray:
        return (self.transform_int(data) * 2.0**-self.frac_bits).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


def _moments(x: np.ndarray, limit: float, rounds: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-feature mean and variance, leaving out values further than ``limit`` standard deviations from
    the mean of all values (one exclusion round: a lone extreme value is removed, a heavy tail is not
    peeled away); returns (mean, variance, mask of the values used)."""
    keep = np.isfinite(x)
    for _ in range(rounds):
        n = np.maximum(keep.sum(axis=0), 1)
        mean = np.where(keep, x, 0.0).sum(axis=0) / n
        var = (np.where(keep, x - mean, 0.0) ** 2).sum(axis=0) / n
        new = keep & (np.abs(x - mean) <= np.where(var > 0, limit * np.sqrt(var), np.inf))
        if np.array_equal(new, keep):
            break
        keep = new
    return mean, var, keep


def _fit_notes(notes: list[str], names: list[str], keep: np.ndarray, std: np.ndarray) -> None:
    left_out = (~keep).sum(axis=0)
    if left_out.any():
        cols = [f"{names[j]} ({int(left_out[j])})" for j in np.flatnonzero(left_out)]
        notes.append("extreme training-background values left out of the scaling statistics (they saturate the "
                     f"input type): {', '.join(cols[:10])}{', ...' if len(cols) > 10 else ''}")
    const = [names[j] for j in np.flatnonzero(std == 0)]
    if const:
        notes.append(f"{len(const)} feature(s) constant on training background (carry no information): "
                     f"{', '.join(const[:10])}{', ...' if len(const) > 10 else ''}")


def saturation_counts(unsaturated: np.ndarray, width: int) -> np.ndarray:
    """Per feature: how many values lie beyond the ``width``-bit input type (and are saturated)."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return ((unsaturated < lo) | (unsaturated > hi)).sum(axis=0)


def scaler_from_dict(d: Any, where: Path | str = "preprocessing") -> HardwareScaler | FloatScaler:
    """Rebuild a scaler written by ``to_dict``, checking every field (one error line naming ``where``)."""
    from aa_trigger.jsonio import field

    kind = field(d, "kind", str, Path(where))
    cls: Any = {"hardware": HardwareScaler, "float": FloatScaler}.get(kind)
    if cls is None:
        raise AATriggerError(f"{where}: unknown preprocessing kind {kind!r}")
    return cls(**{f.name: field(d, f.name, int if f.name in ("width", "int_bits") else list, Path(where))
                  for f in fields(cls)})
