"""Reader and writer of the ADC2021 HDF5 format (key ``Particles``, shape (N, 19, 4)).

Row 0 is MET, rows 1-4 e/gamma, 5-8 muons, 9-18 jets; the last axis is [pT, eta, phi,
class]. The built-in generator writes this format and training reads it back through
:func:`read_adc2021`, exactly as it reads the published files.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from aa_trigger.errors import AATriggerError

N_OBJECTS = 19
PARTICLE_NAMES = [b"Pt", b"Eta", b"Phi", b"Class"]
PARTICLE_CLASSES = [b"MET_class_1", b"Four_Ele_class_2", b"Four_Mu_class_3", b"Ten_Jet_class_4"]


def write_adc2021(path: Path, particles: np.ndarray) -> None:
    """Write events (N, 19, 4) as an ADC2021 file (written to a temporary name, then renamed)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("Particles", data=particles.astype(np.float32), compression="gzip", compression_opts=1)
            f.create_dataset("Particles_Names", data=np.array(PARTICLE_NAMES))
            f.create_dataset("Particles_Classes", data=np.array(PARTICLE_CLASSES))
        tmp.replace(path)
    finally:  # interrupted or failed: no half-written file stays behind
        tmp.unlink(missing_ok=True)


def read_adc2021(path: Path, max_events: int | None = None, allow_nonfinite: bool = False) -> np.ndarray:
    """Events (N, 19, 4) float32 from an ADC2021 file; one clear error for anything else.

    NaN/Inf values are an error unless ``allow_nonfinite`` (the caller applies a policy).
    """
    path = Path(path)
    if not path.is_file():
        raise AATriggerError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            if "Particles" not in f:
                raise AATriggerError(f"{path}: not an ADC2021 file (no 'Particles' dataset; keys: {sorted(f)})")
            ds = f["Particles"]
            if ds.ndim != 3 or ds.shape[1:] != (N_OBJECTS, 4):
                raise AATriggerError(f"{path}: 'Particles' has shape {ds.shape}, expected (N, {N_OBJECTS}, 4)")
            data = np.asarray(ds[: max_events if max_events else ds.shape[0]], dtype=np.float32)
    except OSError as exc:
        raise AATriggerError(f"{path}: not a readable HDF5 file ({exc})") from None
    if len(data) == 0:
        raise AATriggerError(f"{path}: 'Particles' holds no events")
    bad = ~np.isfinite(data).all(axis=(1, 2))
    if bad.any() and not allow_nonfinite:
        raise AATriggerError(f"{path}: {int(bad.sum())} events hold NaN or Inf (first at index {int(np.argmax(bad))})")
    return data
