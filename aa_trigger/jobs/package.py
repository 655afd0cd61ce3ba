"""The package job: one ``.tar.xz`` holding a firmware project, its run folder, the trigger thresholds and
a manifest (SHA-256 of every file, versions), and its verification from the archive alone.

Layout inside the archive, under one top folder ``<name>/``: ``manifest.json``, ``thresholds.json``,
``project/`` (the converted project: report, HLS project, RTL, CMSSW emulator library sources) and
``run/`` (the run folder: configuration, preprocessing, weights, metrics, provenance).
"""

from __future__ import annotations

import hashlib
import json
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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
    for dist in ("tensorflow", "qkeras", "hls4ml", "numpy"):
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
        files = {str(p.relative_to(top)): {"sha256": _sha256(p), "bytes": p.stat().st_size} for p in _files(top)}
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
            if not isinstance(meta, dict) or _sha256(top / rel) != meta.get("sha256"):
                raise AATriggerError(f"{archive}: {rel} does not match its SHA-256 in the manifest")
        progress(f"{archive}: {len(listed)} files match the manifest; re-running the bit-exact checks")
        checks = emulate_project(top / "project", progress=progress, run=top / "run")
        return Verification(archive, len(listed), checks)


def summary_json(v: Verification) -> str:
    return json.dumps({"archive": str(v.archive), "files": v.files,
                       "checks": [c.line() for c in v.checks]}, indent=1)
