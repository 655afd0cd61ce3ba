"""Strict JSON: no NaN tokens out, checked fields in."""

import json
from dataclasses import dataclass

import numpy as np
import pytest

from aa_trigger import jsonio
from aa_trigger.errors import AATriggerError


@dataclass
class _Row:
    name: str
    value: float


def test_nan_becomes_null_and_numpy_values_plain(tmp_path):
    path = tmp_path / "x.json"
    jsonio.write_json(path, {"rows": [_Row("a", float("nan")), _Row("b", np.float64(2.5))], "n": np.int64(3),
                             "inf": float("inf"), "arr": np.arange(2)})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"rows": [{"name": "a", "value": None}, {"name": "b", "value": 2.5}], "n": 3,
                                "inf": None, "arr": [0, 1]}


def test_fields_are_checked_with_file_and_name(tmp_path):
    path = tmp_path / "m.json"
    d = {"latent": "8", "ok": 3, "flag": True}
    with pytest.raises(AATriggerError, match=r"m.json: field 'latent' should be int"):
        jsonio.field(d, "latent", int, path)
    with pytest.raises(AATriggerError, match=r"missing field 'widths'"):
        jsonio.field(d, "widths", list, path)
    with pytest.raises(AATriggerError, match=r"field 'flag' should be int"):
        jsonio.field(d, "flag", int, path)  # a bool is not an integer here
    assert jsonio.field(d, "ok", float, path) == 3.0


def test_broken_json_is_one_line(tmp_path):
    (tmp_path / "b.json").write_text("{")
    with pytest.raises(AATriggerError, match="b.json: not valid JSON"):
        jsonio.read_json(tmp_path / "b.json")
    (tmp_path / "n.json").write_text('{"a": Infinity}')
    with pytest.raises(AATriggerError, match="not valid JSON"):
        jsonio.read_json(tmp_path / "n.json")
