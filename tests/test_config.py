"""One configuration system: options defined once generate the CLI and validate values."""

import argparse
import re

import pytest

from aa_trigger.config import ConvertConfig, TrainConfig
from aa_trigger.errors import AATriggerError
from aa_trigger.model.vae import KIND_DEFAULTS
from aa_trigger.options import add_arguments, from_namespace


def _parse(cls, *args):
    p = argparse.ArgumentParser()
    add_arguments(p, cls)
    return from_namespace(cls, p.parse_args(list(args)))


def test_defaults_are_the_dataclass_defaults():
    assert _parse(TrainConfig) == TrainConfig()
    assert _parse(ConvertConfig) == ConvertConfig()


def test_repeatable_and_list_options():
    cfg = _parse(TrainConfig, "--data", "a.csv", "--data", "b.csv", "--background", "x", "--finetune", "y")
    assert cfg.data == ["a.csv", "b.csv"]
    assert _parse(ConvertConfig, "--backend", "vitis", "rtl").backend == ["vitis", "rtl"]


@pytest.mark.parametrize("cls, field, value, message", [
    (TrainConfig, "learning_rate", float("nan"), "--learning-rate must be a finite number"),
    (TrainConfig, "rate_khz", [0.0], "--rate-khz must be > 0"),
    (TrainConfig, "rate_khz", [50_000.0], "below the bunch-crossing rate"),
    (TrainConfig, "batch_size", 0, "--batch-size must be >= 1"),
    (TrainConfig, "quantize", 33, "--quantize must be 0 (float) or between 4 and 16"),
    (ConvertConfig, "clock_mhz", 0.0, "--clock-mhz must be > 0"),
    (ConvertConfig, "strategy", "Fast", "--strategy must be one of Latency, Resource"),
    (ConvertConfig, "n_tb", 2.5, "--n-tb must be an integer"),
])
def test_values_given_in_code_are_validated(cls, field, value, message):
    with pytest.raises(AATriggerError, match=re.escape(message)):
        cls(**{field: value}).validate()


def test_help_comes_from_the_fields_and_the_kind_table():
    p = argparse.ArgumentParser()
    add_arguments(p, TrainConfig)
    text = p.format_help()
    widths = " ".join(map(str, KIND_DEFAULTS["trigger"][0]))
    assert f"trigger {widths}" in text and "(default: 1.0 5.0 10.0)" in text


def test_model_defaults_per_data_kind():
    cfg = TrainConfig().with_model_defaults("image")
    assert (cfg.widths, cfg.latent) == (KIND_DEFAULTS["image"][0], KIND_DEFAULTS["image"][1])
    assert TrainConfig(widths=[7], latent=3).with_model_defaults("trigger").widths == [7]
