"""The same seed gives the same weights on another CPU type: oneDNN is capped at AVX2 (aa_trigger/__init__).

The golden hash below was written on an AVX-512 machine (AMD EPYC) by this code; an AVX2-only machine
must reproduce it. Each training runs in a fresh process: the cap only acts before TensorFlow's first
operation."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: sha256 of the tiny run's weights (encoder, decoder, surrogate) under the portable kernels
GOLDEN_FILE = Path(__file__).parent / "data" / "tiny_run_weights.sha256"

SCRIPT = """
import hashlib, sys, tempfile
import numpy as np
from aa_trigger.config import TrainConfig
from aa_trigger.jobs.train import run_training
from aa_trigger.runfolder import load_run
with tempfile.TemporaryDirectory() as d:
    cfg = TrainConfig(n_background_train=20000, n_background_test=4000, n_signal=1500, n_finetune=1000,
                      epochs_pretrain=2, epochs_finetune=2, epochs_surrogate=1, batch_size=256,
                      signals=["Ato4l", "leptoquark"], rate_khz=[400.0], quantize=8, output=d, run_name="r",
                      cache_dir=sys.argv[1])
    run = load_run(run_training(cfg).path)
    h = hashlib.sha256()
    for model in (run.aa.encoder, run.aa.decoder, run.aa.surrogate):
        for w in model.get_weights():
            h.update(np.ascontiguousarray(w).tobytes())
    print(h.hexdigest())
"""


def _weights_hash(tmp_path: Path, **env: str) -> str:
    full = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"} | env | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "cache")], capture_output=True, text=True,
                         env=full, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout.split()[-1]


def _has_avx512() -> bool:
    try:
        return " avx512f " in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@pytest.mark.slow
def test_tiny_run_reproduces_the_golden_weights_across_cpu_types(tmp_path):
    portable = _weights_hash(tmp_path)
    assert portable == GOLDEN_FILE.read_text().split()[0], (
        "the tiny run's weights differ from the golden ones written on another machine: check "
        "ONEDNN_MAX_CPU_ISA, the pinned versions and provenance.json's environment")
    if _has_avx512():  # the cap matters: the CPU's native AVX-512 kernels give other weights
        assert _weights_hash(tmp_path, ONEDNN_MAX_CPU_ISA="AVX512_CORE") != portable
