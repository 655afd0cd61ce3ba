"""aa_trigger: Anomaly-Awareness VAEs from QKeras training to Level-1 trigger firmware."""

from aa_trigger.errors import AATriggerError

__version__ = "0.1.0"

__all__ = ["AATriggerError", "__version__"]
