"""What every ``python -m aa_trigger.*`` entry point shares: progress on stderr, one-line errors."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Callable


def quiet() -> None:
    """Silence TensorFlow's start-up chatter and library warnings on the terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore")


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_job(job: Callable[[], Any], what: str) -> tuple[int, Any]:
    """Run ``job``; an :class:`AATriggerError` or Ctrl-C becomes one ``error:`` line and an exit code.

    ``what`` names the output that was not written (for the interrupt message)."""
    from aa_trigger.errors import AATriggerError

    try:
        return 0, job()
    except AATriggerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, None
    except KeyboardInterrupt:
        print(f"error: interrupted; no {what} was written", file=sys.stderr)
        return 130, None
