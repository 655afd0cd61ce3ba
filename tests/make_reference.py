"""Regenerate the committed reference run (models/reference/) and its golden emulated scores.

    python tests/make_reference.py

The reference run is a small quantised VAE trained on the built-in data set; the golden file
holds 2,000 hardware-scaled test events (integers) and the firmware scores the numpy
fixed-point emulator computes for them, for both deployable scores. Tests assert that
QKeras, hls4ml and the C simulation reproduce these numbers exactly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = dict(n_background_train=60_000, n_background_test=100_000, n_signal=20_000, n_finetune=5_000,
                 epochs_pretrain=8, epochs_finetune=4, epochs_surrogate=4, batch_size=512, quantize=8,
                 signals=["Ato4l", "leptoquark", "hChToTauNu"], finetune_signal="leptoquark", seed=1)
N_GOLDEN = 2000


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from aa_trigger.config import TrainConfig
    from aa_trigger.data.dataset import load_dataset
    from aa_trigger.firmware import emulator
    from aa_trigger.firmware.graph import build_graph
    from aa_trigger.jobs.train import run_training
    from aa_trigger.model.vae import available_scores
    from aa_trigger.runfolder import load_run

    os.chdir(ROOT)
    out = Path("models")
    cfg = TrainConfig(**REFERENCE, output=str(out), run_name="reference", force=True)
    res = run_training(cfg, lambda m: print(m, file=sys.stderr))
    for png in res.path.glob("*.png"):  # keep the committed folder small
        png.unlink()
    run = load_run(res.path)
    data = load_dataset(cfg)
    x_int = np.concatenate([data.int_test[: N_GOLDEN // 2]]
                           + [v[: N_GOLDEN // 6] for v in data.int_signals_test.values()])
    golden = {"x_int": x_int.astype(np.int16), "input_frac_bits": np.int64(run.scaler.frac_bits)}
    for score in available_scores(run.aa):
        golden[score] = emulator.score(build_graph(run.aa, run.scaler.input_type, score), x_int)
    np.savez_compressed(res.path / "golden.npz", **golden)
    print(res.summary)


if __name__ == "__main__":
    main()
