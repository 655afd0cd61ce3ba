"""Output folders that never lose data: one plain name, checked before any work, written atomically.

* A run or project is written into a hidden sibling ``.<name>.partial-<pid>`` and renamed into
  place at the end; a failure or interrupt (Ctrl-C, SIGTERM) deletes the partial folder, and the
  next job removes partial folders whose process is gone.
* Without ``--force`` an existing folder is never replaced, also when another job creates it
  while this one runs (the final rename refuses a non-empty target).
* ``--force`` replaces exactly one folder, and only one that is an aa_trigger run (it holds
  ``provenance.json``) or firmware project (``conversion.json``) of the kind being written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from aa_trigger.errors import AATriggerError

RUN_MARKER = "provenance.json"
PROJECT_MARKER = "conversion.json"
_KIND = {RUN_MARKER: "run folder", PROJECT_MARKER: "firmware project"}


def check_name(name: str, option: str) -> None:
    """A run name must be one plain path component (no separator, not ``.``/``..``, not hidden)."""
    if not name or name in (".", "..") or name.startswith(".") or "/" in name or "\\" in name or "\0" in name:
        raise AATriggerError(f"{option} must be a plain folder name (no '/', not '.' or '..', not hidden), got {name!r}")


def ensure_free(final: Path, force: bool, marker: str) -> None:
    """Refuse an existing output unless ``force``, and with ``force`` anything but one folder of this kind."""
    final = Path(final)
    if not (final.exists() or final.is_symlink()):
        return
    if not force:
        raise AATriggerError(f"{final} exists; choose another name or pass --force")
    if final.is_symlink() or not final.is_dir() or not (final / marker).is_file():
        raise AATriggerError(f"refusing to replace {final} with --force: it is not an aa_trigger {_KIND[marker]} "
                             f"(no {marker} inside); --force replaces exactly one {_KIND[marker]}")


def check_writable(final: Path) -> None:
    """Fail now, not after the work, when the output's parent folder cannot be created or written."""
    parent = Path(final).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".aa_trigger-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise AATriggerError(f"cannot write into {parent}: {exc.strerror or exc}") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(final: Path) -> list[Path]:
    """Delete partial folders of ``final`` left by jobs that were killed (their process is gone)."""
    removed = []
    for p in Path(final).parent.glob(f".{Path(final).name}.partial-*"):
        pid = p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _publish(tmp: Path, final: Path, force: bool, marker: str) -> None:
    """Rename ``tmp`` to ``final``; never onto an existing folder unless ``force`` (then exactly that one)."""
    aside = None
    if force and (final.exists() or final.is_symlink()):
        ensure_free(final, force, marker)
        aside = final.parent / f".{final.name}.replaced-{os.getpid()}"
        final.rename(aside)
    try:
        tmp.rename(final)  # rename(2) refuses a non-empty target directory
    except OSError as exc:
        if aside is not None:
            aside.rename(final)
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            raise AATriggerError(f"{final} was created by another job while this one ran; nothing was replaced "
                                 "(pass --force to replace it)") from None
        raise AATriggerError(f"cannot move the result into {final}: {exc.strerror or exc}") from None
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def atomic_folder(final: Path, force: bool, marker: str) -> Iterator[Path]:
    """Yield a temporary sibling folder; publish it as ``final`` on success, delete it on any failure."""
    final = Path(final)
    ensure_free(final, force, marker)
    check_writable(final)
    remove_stale_partials(final)
    tmp = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        _publish(tmp, final, force, marker)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
