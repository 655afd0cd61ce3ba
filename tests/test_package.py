"""Package verification refuses archives that do not match their manifest or try to write outside."""

import hashlib
import io
import json
import subprocess
import sys
import tarfile

import pytest


def _verify(path):
    return subprocess.run([sys.executable, "-m", "aa_trigger.package", "--verify", str(path)], capture_output=True,
                          text=True, timeout=300)


def _archive(path, files, manifest_files=None, extra_members=()):
    """A package whose manifest lists ``manifest_files`` (default: the true hashes of ``files``)."""
    listed = manifest_files if manifest_files is not None else {
        k: {"sha256": hashlib.sha256(v).hexdigest(), "bytes": len(v)} for k, v in files.items()}
    members = {**files, "manifest.json": json.dumps({"format": 1, "name": "p", "files": listed}).encode()}
    with tarfile.open(path, "w:xz") as tar:
        for name, data in list(members.items()) + list(extra_members):
            info = tarfile.TarInfo(name if name.startswith(("/", "..")) else f"p/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


GOOD = {"project/conversion.json": b"{}", "run/config.json": b"{}"}


@pytest.mark.parametrize("make, message", [
    (lambda p: _archive(p, GOOD, {**{k: {"sha256": "0" * 64} for k in GOOD}}), "does not match its SHA-256"),
    (lambda p: _archive(p, {**GOOD, "project/extra.txt": b"x"}, {
        k: {"sha256": hashlib.sha256(v).hexdigest()} for k, v in GOOD.items()}), "files differ from the manifest"),
    (lambda p: _archive(p, GOOD, extra_members=[("../evil.txt", b"x")]), "not a readable .tar.xz package"),
    (lambda p: (p.write_text("not an archive"), p)[1], "not a readable .tar.xz package"),
])
def test_verify_refuses_a_bad_archive_in_one_line(tmp_path, make, message):
    res = _verify(make(tmp_path / "a.tar.xz"))
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path.parent / "evil.txt").exists()


def test_package_needs_a_project(tmp_path):
    res = subprocess.run([sys.executable, "-m", "aa_trigger.package", str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 2 and "not an aa_trigger firmware project" in res.stderr
    res = subprocess.run([sys.executable, "-m", "aa_trigger.package"], capture_output=True, text=True)
    assert res.returncode == 2 and "give a PROJECT to package or --verify ARCHIVE" in res.stderr


def test_package_logs_to_a_local_mlflow_store(tmp_path):
    """--mlflow sqlite:///...: parameters, firmware metrics, threshold integers and the archive (with its
    SHA-256) land in a real local MLflow store and read back."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    run, prj = tmp_path / "run", tmp_path / "fw"
    run.mkdir()
    prj.mkdir()
    (run / "provenance.json").write_text("{}")
    (run / "config.json").write_text(json.dumps({"lambda_max": 1.0, "aa_target": "recon", "output": "models"}))
    (prj / "conversion.json").write_text(json.dumps({"run": str(run), "score": "mu2",
                                                     "options": {"backend": ["cmssw"], "raw_input": True}}))
    (prj / "report.json").write_text(json.dumps({
        "auc": {"emulated_firmware": {"Ato4l": {"auc": 0.85, "tpr": {"1 kHz": 0.02}}}},
        "thresholds": [{"working_point": "1 kHz", "fpr": 2.5e-5, "threshold": 1.5, "threshold_int": 384}],
        "all_bit_exact": True}))
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    res = subprocess.run([sys.executable, "-m", "aa_trigger.package", str(prj), "--mlflow", uri],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    run_id = res.stdout.strip().split("MLflow run ")[1]
    client = MlflowClient(uri)
    logged = client.get_run(run_id)
    assert logged.data.params["convert.raw_input"] == "True" and logged.data.params["train.lambda_max"] == "1.0"
    assert "train.output" not in logged.data.params
    assert logged.data.metrics["auc.Ato4l"] == 0.85 and logged.data.metrics["threshold_int.1 kHz"] == 384
    assert [a.path for a in client.list_artifacts(run_id)] == ["fw.tar.xz"]
    digest = hashlib.sha256((tmp_path / "fw.tar.xz").read_bytes()).hexdigest()
    assert logged.data.tags["archive_sha256"] == digest
    assert (tmp_path / "store" / "mlartifacts").is_dir()  # beside the database, not in the working folder
