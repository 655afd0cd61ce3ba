"""Scans: any train option as a dimension, trials on Dask workers, the study in Optuna's storage."""
