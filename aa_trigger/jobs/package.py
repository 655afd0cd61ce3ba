"""The package job: one ``.tar.xz`` holding a firmware project, its run folder, the trigger thresholds and
a manifest (SHA-256 of every file, versions), and its verification from the archive alone.

Layout inside the archive, under one top folder ``<name>/``: ``manifest.json``, ``thresholds.json``,
``project/`` (the converted project: report, HLS project, RTL, CMSSW emulator library sources) and
``run/`` (the run folder: configuration, preprocessing, weights, metrics, provenance).
"""

from __future__ import annotations

import os
import platform
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from aa_trigger import __version__
from aa_trigger.data.dataset import sha256_file
from aa_trigger.errors import AATriggerError
from aa_trigger.jsonio import field, read_json, write_json

Progress = Callable[[str], None]
MANIFEST_FORMAT = 1
SKIP = {"__pycache__", "obj_dir"}  # build products never packaged
SKIP_SUFFIXES = (".so", ".o", ".pyc")


@dataclass
class PackageResult:
    archive: Path
    files: int
    bytes: int
    mlflow_run: str = ""  # the MLflow run id, when logged


def _files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP)
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_symlink():
                raise AATriggerError(f"{p}: a symbolic link; the package holds plain files only")
            if not name.endswith(SKIP_SUFFIXES):
                out.append(p)
    return out


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"aa_trigger": __version__, "python": platform.python_version()}
    for dist in ("tensorflow", "qkeras", "hgq", "hls4ml", "da4ml", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def thresholds_of(report: dict[str, Any], where: Path) -> list[dict[str, Any]]:
    """The menu thresholds of the report: the trigger fires when the score integer exceeds ``integer``."""
    out = []
    for t in field(report, "thresholds", list, where):
        out.append({"working_point": t.get("working_point"), "fpr": t.get("fpr"), "threshold": t.get("threshold"),
                    "integer": t.get("threshold_int"), "background_rate_khz": t.get("background_rate_khz")})
    return out


def build_package(project: Path, output: Path | None, force: bool, progress: Progress = lambda m: None
                  ) -> PackageResult:
    """Write the archive atomically (a temporary file renamed into place)."""
    project = Path(project)
    if not (project / "conversion.json").is_file():
        raise AATriggerError(f"{project}: not an aa_trigger firmware project (no conversion.json)")
    conversion = read_json(project / "conversion.json")
    report = read_json(project / "report.json")
    run = Path(field(conversion, "run", str, project / "conversion.json"))
    if not (run / "provenance.json").is_file():
        raise AATriggerError(f"{run}: the project's run folder is missing (needed in the package)")
    name = project.name
    archive = Path(output) if output else project.parent / f"{name}.tar.xz"
    if archive.exists() and not force:
        raise AATriggerError(f"{archive} exists; --force replaces it")
    if archive.exists() and archive.is_dir():
        raise AATriggerError(f"{archive} is a folder; give an archive path")
    with tempfile.TemporaryDirectory(prefix=".aa_trigger-package-", dir=archive.parent if archive.parent.is_dir()
                                     else None) as tmp:
        top = Path(tmp) / name
        progress(f"collecting {project} and its run {run}")
        shutil.copytree(project, top / "project", ignore=shutil.ignore_patterns(*SKIP, *(f"*{s}" for s in SKIP_SUFFIXES)))
        shutil.copytree(run, top / "run", ignore=shutil.ignore_patterns(*SKIP, "*.png"))
        write_json(top / "thresholds.json", {"score": conversion.get("score"), "score_type": report.get("score_type"),
                                             "rule": "the trigger fires when the score integer > integer",
                                             "thresholds": thresholds_of(report, project / "report.json")})
        files = {str(p.relative_to(top)): {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in _files(top)}
        write_json(top / "manifest.json", {"format": MANIFEST_FORMAT, "name": name, "created_unix": int(time.time()),
                                           "versions": versions(), "score": conversion.get("score"),
                                           "files": files})
        progress(f"writing {archive} ({len(files)} files)")
        archive.parent.mkdir(parents=True, exist_ok=True)
        partial = archive.with_name(f".{archive.name}.partial")
        with tarfile.open(partial, "w:xz") as tar:
            tar.add(top, arcname=name)
        partial.replace(archive)
    return PackageResult(archive, len(files) + 1, archive.stat().st_size)


@dataclass
class Verification:
    archive: Path
    files: int
    checks: list[Any]


def verify_package(archive: Path, progress: Progress = lambda m: None) -> Verification:
    """Unpack into a temporary folder (plain files only, nothing outside it), check every SHA-256 of the
    manifest and that nothing else is there, then re-run the project's bit-exact checks against the archived
    run alone."""
    from aa_trigger.jobs.emulate import emulate_project

    archive = Path(archive)
    if not archive.is_file():
        raise AATriggerError(f"{archive}: no such file")
    with tempfile.TemporaryDirectory(prefix="aa_trigger-verify-") as tmp:
        try:
            with tarfile.open(archive, "r:xz") as tar:
                tar.extractall(tmp, filter="data")  # refuses absolute paths, '..', links out, devices
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise AATriggerError(f"{archive}: not a readable .tar.xz package ({str(exc).splitlines()[0]})") from None
        tops = [p for p in Path(tmp).iterdir()]
        if len(tops) != 1 or not (tops[0] / "manifest.json").is_file():
            raise AATriggerError(f"{archive}: not an aa_trigger package (one folder with manifest.json expected)")
        top = tops[0]
        manifest = read_json(top / "manifest.json")
        if field(manifest, "format", int, archive) != MANIFEST_FORMAT:
            raise AATriggerError(f"{archive}: manifest format {manifest['format']} is not {MANIFEST_FORMAT}")
        listed = field(manifest, "files", dict, archive)
        present = {str(p.relative_to(top)) for p in _files(top)} - {"manifest.json"}
        if present != set(listed):
            extra, missing = sorted(present - set(listed)), sorted(set(listed) - present)
            raise AATriggerError(f"{archive}: files differ from the manifest (extra: {extra[:3]}, missing: "
                                 f"{missing[:3]})")
        for rel, meta in listed.items():
            if not isinstance(meta, dict) or sha256_file(top / rel) != meta.get("sha256"):
                raise AATriggerError(f"{archive}: {rel} does not match its SHA-256 in the manifest")
        progress(f"{archive}: {len(listed)} files match the manifest; re-running the bit-exact checks")
        checks = emulate_project(top / "project", progress=progress, run=top / "run")
        return Verification(archive, len(listed), checks)


def _metric_name(*parts: str) -> str:
    """MLflow metric names allow letters, digits and ``_ - . / space``."""
    return ".".join("".join(c if c.isalnum() or c in "_-/ " else "_" for c in p) for p in parts)


def log_mlflow(uri: str, result: PackageResult, project: Path) -> str:
    """Log the package to an MLflow tracking store: parameters (conversion options, the run's training
    configuration), metrics (the firmware's AUC and efficiencies per signal, the threshold integers), the
    archive as an artefact and its SHA-256 as a tag. ``sqlite:///PATH`` is a local store (the embedded
    default of MLflow 3), whose artefacts go to ``mlartifacts/`` beside the database. Returns the run id."""
    import logging

    try:
        import mlflow
    except ImportError:
        raise AATriggerError("--mlflow needs MLflow: pip install 'aa_trigger[mlflow]'") from None
    for name in ("mlflow", "alembic"):  # MLflow sets its loggers up on import: keep the store's set-up quiet
        logging.getLogger(name).setLevel(logging.WARNING)
    conversion = read_json(project / "conversion.json")
    report = read_json(project / "report.json")
    run_cfg = read_json(Path(conversion["run"]) / "config.json")
    params = {f"convert.{k}": v for k, v in (conversion.get("options") or {}).items()}
    params.update({f"train.{k}": v for k, v in run_cfg.items() if k not in ("output", "run_name", "force", "cache_dir")})
    params = {k: str(v)[:500] for k, v in params.items()}  # MLflow's value limit
    metrics: dict[str, float] = {}
    for sig, m in ((report.get("auc") or {}).get("emulated_firmware") or {}).items():
        metrics[_metric_name("auc", sig)] = float(m["auc"])
        for wp, eff in (m.get("tpr") or {}).items():
            if eff is not None:
                metrics[_metric_name("efficiency", sig, wp)] = float(eff)
    for t in report.get("thresholds") or []:
        if t.get("threshold_int") is not None:
            metrics[_metric_name("threshold_int", t["working_point"])] = float(t["threshold_int"])
    try:
        mlflow.set_tracking_uri(uri)
        name = "aa_trigger"
        if mlflow.get_experiment_by_name(name) is None:
            location = None
            if uri.startswith("sqlite:///"):
                location = (Path(uri[len("sqlite:///"):]).resolve().parent / "mlartifacts").as_uri()
            mlflow.create_experiment(name, artifact_location=location)
        mlflow.set_experiment(name)
        with mlflow.start_run(run_name=project.name) as run:
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
            mlflow.set_tags({"archive_sha256": sha256_file(result.archive), "aa_trigger_version": __version__,
                             "score": str(conversion.get("score")), "all_bit_exact": str(report.get("all_bit_exact"))})
            mlflow.log_artifact(str(result.archive))
            return str(run.info.run_id)
    except mlflow.exceptions.MlflowException as exc:
        raise AATriggerError(f"--mlflow {uri}: {str(exc).splitlines()[0]}") from None
