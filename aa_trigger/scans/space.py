"""The scan space: train options as dimensions, from ``--grid NAME=V1,V2`` or a YAML file.

Every dimension is a :class:`~aa_trigger.config.TrainConfig` field; its values are parsed and
checked with the same rules as the command line (one error line naming the option)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from aa_trigger.config import TrainConfig
from aa_trigger.errors import AATriggerError
from aa_trigger.model.quant import QuantMode
from aa_trigger.options import kind_of

#: options that define the data set rather than the training (a scan keeps them fixed)
DATA_FIELDS = ("data_dir", "cache_dir", "signals", "finetune_signal", "data", "background", "finetune", "test",
               "label_column", "features", "exclude_features", "features_file", "column_map", "label_map",
               "nonfinite", "hdf_key", "tiles_per_label", "test_fraction", "n_background_train",
               "n_background_test", "n_signal", "n_finetune", "preprocessing")
#: options a trial never takes from a dimension (where the outputs go)
NOT_DIMENSIONS = ("output", "run_name", "force")


@dataclass
class Space:
    """Named dimensions: the values of one train option each (field name), and their texts as given
    (what the study stores: strings are the one parameter type every Optuna storage keeps exactly)."""

    dims: dict[str, list[Any]]
    texts: dict[str, list[str]]

    def text_points(self) -> list[dict[str, str]]:
        """Every combination of texts, first dimension slowest."""
        out: list[dict[str, str]] = [{}]
        for name, values in self.texts.items():
            out = [{**p, name: v} for p in out for v in values]
        return out

    def values(self, point: dict[str, str]) -> dict[str, Any]:
        """The option values of a point given as texts."""
        try:
            return {name: self.dims[name][self.texts[name].index(text)] for name, text in point.items()}
        except (KeyError, ValueError):
            raise AATriggerError(f"the study holds a point {point} that this scan's dimensions do not have; "
                                 "use another scan folder or the same dimensions") from None


def _field(name: str) -> dataclasses.Field:
    key = name.replace("-", "_").lstrip("_")
    match = [f for f in fields(TrainConfig) if f.name == key]
    if not match or key in NOT_DIMENSIONS:
        raise AATriggerError(f"--grid: {name!r} is not a train option that can be scanned")
    if key in DATA_FIELDS:
        raise AATriggerError(f"--grid: {name!r} changes the data set; a scan keeps the data fixed (give it as a "
                             "train option instead)")
    return match[0]


def _value(f: dataclasses.Field, text: str) -> Any:
    kind = kind_of(f)
    if f.metadata.get("nargs"):  # a list option: space-separated values in one point ("32 16")
        return [_scalar(f, kind, t) for t in text.split()]
    return _scalar(f, kind, text)


def _scalar(f: dataclasses.Field, kind: type, text: str) -> Any:
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        value = kind(text)
        if f.name == "quantize":  # text with a grammar of its own: N, N:N:... (one width per layer), hgq
            QuantMode.parse(value)
    except AATriggerError as exc:
        raise AATriggerError(f"--grid: {exc}") from None
    except ValueError:
        raise AATriggerError(f"--grid: {f.name.replace('_', '-')}={text!r} is not a valid "
                             f"{kind.__name__}") from None
    return value


def parse_grid(items: list[str], seeds: int = 0) -> Space:
    """``NAME=V1,V2,...`` items (list-valued options take one value per point) and ``seeds`` seeds."""
    dims: dict[str, list[Any]] = {}
    texts: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise AATriggerError(f"--grid takes NAME=V1,V2,..., got {item!r}")
        name, values = item.split("=", 1)
        f = _field(name)
        if f.name in dims:
            raise AATriggerError(f"--grid names {name!r} twice")
        texts[f.name] = list(dict.fromkeys(v.strip() for v in values.split(",") if v.strip()))
        dims[f.name] = [_value(f, v) for v in texts[f.name]]
        if not dims[f.name]:
            raise AATriggerError(f"--grid {name}: no values")
    if seeds:
        if "seed" in dims:
            raise AATriggerError("give seeds either with --seeds or as a --grid dimension, not both")
        dims["seed"] = list(range(seeds))
        texts["seed"] = [str(v) for v in dims["seed"]]
    if not dims:
        raise AATriggerError("the scan has no dimension: give --grid NAME=V1,V2 and/or --seeds N")
    return Space(dims, texts)


def parse_yaml(path: Path, seeds: int = 0) -> Space:
    """A YAML mapping ``option: [values]`` (option names as on the command line or as fields)."""
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise AATriggerError(f"{path}: not a readable YAML file ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not all(isinstance(v, list) for v in doc.values()):
        raise AATriggerError(f"{path}: expected a mapping of option names to lists of values")
    return parse_grid([f"{k}={','.join(map(str, v))}" for k, v in doc.items()], seeds)


def trial_config(base: TrainConfig, point: dict[str, Any]) -> TrainConfig:
    """The base configuration with one point's values, validated like the command line."""
    cfg = dataclasses.replace(base, **point)
    try:
        cfg.validate()
    except AATriggerError as exc:
        raise AATriggerError(f"scan point {point}: {exc}") from None
    return cfg
