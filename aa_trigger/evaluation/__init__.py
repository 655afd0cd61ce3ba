"""Evaluation: trigger metrics, before/after-AA evaluation, plots."""
