"""Run folders: format-1 runs still load; every field read is checked; atomic writes."""

import json
import shutil

import pytest

from aa_trigger import runfolder
from aa_trigger.errors import AATriggerError


@pytest.fixture()
def run_copy(tmp_path, reference_path):
    dst = tmp_path / "run"
    shutil.copytree(reference_path, dst)
    return dst


def test_format1_reference_run_loads(reference_run):
    assert reference_run.model_config.recon == "mse"  # absent in format 1: squared errors
    assert reference_run.metrics["aa"]["Ato4l"]["used_in_finetuning"] is False


@pytest.mark.parametrize("file, change, message", [
    ("model.json", {"latent": "8"}, "model.json: field 'latent' should be int"),
    ("model.json", {"widths": [32, "16"]}, "model.json: field 'widths' should be a list of integers"),
    ("preprocessing.json", {"kind": "magic"}, "preprocessing.json: unknown preprocessing kind 'magic'"),
    ("provenance.json", {"run_format": 7}, "has format 7; this aa_trigger reads formats 1, 2"),
    ("config.json", {"lambda_maxx": 1.0}, "config.json: unknown field 'lambda_maxx'"),
    ("config.json", {"learning_rate": "fast"}, "config.json: --learning-rate must be a number"),
])
def test_bad_metadata_is_one_line_naming_file_and_field(run_copy, file, change, message):
    d = json.loads((run_copy / file).read_text())
    d.update(change)
    (run_copy / file).write_text(json.dumps(d))
    with pytest.raises(AATriggerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        runfolder.load_run(run_copy)
