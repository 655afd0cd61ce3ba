"""``python -m aa_trigger.package PROJECT``: one archive of a converted project, ready to hand over.

Writes ``<project>.tar.xz``: the firmware project (report, HLS project, RTL, CMSSW emulator library
sources), its run folder (configuration, preprocessing, weights, metrics, provenance), the trigger
thresholds, and a manifest with the SHA-256 of every file and the versions. ``--verify ARCHIVE`` checks
an archive against its manifest and re-runs the bit-exact checks from the archive alone.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from aa_trigger.cli import Parser, progress, run_verb


def main(argv: list[str] | None = None) -> int:
    p = Parser("python -m aa_trigger.package", __doc__.split("\n\n")[1])
    p.add_argument("project", nargs="?", default="", help="firmware project folder written by convert")
    p.add_argument("--output", default="", help="archive path (default: <project>.tar.xz beside the project)")
    p.add_argument("--force", action="store_true", help="replace an existing archive of that name")
    p.add_argument("--verify", default="", metavar="ARCHIVE", help="check an archive instead of writing one")
    p.add_argument("--mlflow", default="", metavar="URI", help="also log parameters, metrics and the archive to "
                   "an MLflow tracking store: a server URL or sqlite:///PATH/mlflow.db (local; needs the mlflow extra)")
    a = p.parse_args(argv)
    if bool(a.project) == bool(a.verify):
        p.error("give a PROJECT to package or --verify ARCHIVE")

    def job() -> Any:
        from aa_trigger.jobs.package import build_package, verify_package

        if a.verify:
            return verify_package(Path(a.verify), progress)
        if a.mlflow:
            from importlib.util import find_spec

            if find_spec("mlflow") is None:  # before any work
                from aa_trigger.errors import AATriggerError

                raise AATriggerError("--mlflow needs MLflow: pip install 'aa_trigger[mlflow]'")
        result = build_package(Path(a.project), Path(a.output) if a.output else None, a.force, progress)
        if a.mlflow:
            from aa_trigger.jobs.package import log_mlflow

            result.mlflow_run = log_mlflow(a.mlflow, result, Path(a.project))
        return result

    def show(result: Any) -> int:
        if hasattr(result, "checks"):
            for c in result.checks:
                print(c.line())
            ok = all(c.bit_exact for c in result.checks)
            print(f"{result.archive}: {result.files} files match the manifest; bit-exact checks "
                  + ("all pass" if ok else "FAIL"))
            return 0 if ok else 1
        print(f"package: {result.archive} ({result.files} files, {result.bytes:,} bytes)"
              + (f"; MLflow run {result.mlflow_run}" if result.mlflow_run else ""))
        return 0

    return run_verb(job, show, "archive")


if __name__ == "__main__":
    sys.exit(main())
