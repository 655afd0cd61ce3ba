"""aa_trigger: Anomaly-Awareness VAEs from QKeras training to Level-1 trigger firmware."""

import os

from aa_trigger.errors import AATriggerError

__version__ = "0.1.0"

#: The same seed gives the same weights on every x86-64 CPU with AVX2: TensorFlow's oneDNN kernels
#: (used for matrix products even with TF_ENABLE_ONEDNN_OPTS=0) pick their code by the CPU's widest
#: vector instructions, and AVX-512 and AVX2 kernels round differently. Capping them at AVX2 here,
#: before any TensorFlow operation, removes that; thread counts did not change results (measured
#: 1, 2 and 8 threads). Set ONEDNN_MAX_CPU_ISA=ALL for the CPU's native kernels.
PORTABLE_CPU_ISA = "AVX2"
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", PORTABLE_CPU_ISA)

__all__ = ["AATriggerError", "__version__"]
