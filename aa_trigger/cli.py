"""What every ``python -m aa_trigger.*`` verb shares: ``--version``, progress on stderr, one-line errors
(exit 2), Ctrl-C handled (exit 130), library warnings kept off the terminal."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from typing import Any, Callable, NoReturn

#: third-party packages whose deprecation and user warnings are noise on a terminal (TensorFlow 2.14,
#: QKeras and hls4ml warn about their own internals); numpy's RuntimeWarnings stay visible
NOISY = r"(tensorflow|keras|qkeras|hls4ml|tf_keras|h5py|absl|mlflow|alembic)(\.|$)"


class Parser(argparse.ArgumentParser):
    """argparse with ``--version`` and a one-line error (``prog: error: ...``, exit 2)."""

    def __init__(self, prog: str, description: str) -> None:
        super().__init__(prog=prog, description=description)
        from aa_trigger import __version__

        self.add_argument("--version", action="version", version=f"aa_trigger {__version__}")

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def quiet() -> None:
    """Silence TensorFlow's chatter and the noisy libraries' deprecation warnings. TensorFlow's C++ log is
    cut to fatal lines (level 3: the rest is start-up talk about CUDA plug-ins on a CPU machine,
    tensorflow#62075, and XLA's stream priorities; real failures raise Python exceptions), its Python log to
    errors (HGQ's quantisers retrace tf.functions, harmlessly). Set TF_CPP_MIN_LOG_LEVEL to see more."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for category in (DeprecationWarning, FutureWarning, UserWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=NOISY)
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the job unwinds and removes what it had half-written."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def run_job(job: Callable[[], Any], what: str) -> tuple[int, Any]:
    """Run ``job``; an :class:`AATriggerError`, Ctrl-C or SIGTERM becomes one ``error:`` line and an
    exit code (2; 130 or 143 for the signals). ``what`` names the output that was not written."""
    from aa_trigger.errors import AATriggerError

    previous = signal.signal(signal.SIGTERM, _terminate)
    # a job started in the background of a non-interactive shell inherits SIGINT ignored; Ctrl-C and
    # `kill -INT` must still stop it
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return 0, job()
    except AATriggerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, None
    except KeyboardInterrupt as exc:
        name, code = ("terminated", 143) if isinstance(exc, Terminated) else ("interrupted", 130)
        print(f"error: {name}; no {what} was written", file=sys.stderr)
        return code, None
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def run_verb(job: Callable[[], Any], show: Callable[[Any], int | None], what: str) -> int:
    """The body of every verb's ``main``: quiet libraries, run the job, show its result."""
    quiet()
    code, result = run_job(job, what)
    if code:
        return code
    return show(result) or 0


def config_parser(prog: str, description: str, config_cls: type) -> Parser:
    """A verb's parser with one ``--option`` per field of its configuration class."""
    from aa_trigger.options import add_arguments

    parser = Parser(prog, description)
    add_arguments(parser, config_cls)
    return parser


def run_config_verb(parser: Parser, argv: list[str] | None, config_cls: type, job: Callable[[Any], Any],
                    show: Callable[[Any], int | None], what: str) -> int:
    """Parse, build and validate the configuration, run ``job(config)``, show the result."""
    args = parser.parse_args(argv)

    def run() -> Any:
        from aa_trigger.options import from_namespace

        return job(from_namespace(config_cls, args))

    return run_verb(run, show, what)
