"""The interface every firmware back end implements, and what it returns.

A back end writes its project into a sub-folder of the firmware project, scores events with its
own emulation of the firmware, and describes latency and resources with how they were obtained.
The convert job (:mod:`aa_trigger.jobs.convert`) only orchestrates: it hands every back end the
same graph and events and compares what each returns with the numpy emulator.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from aa_trigger.firmware.graph import FixedGraph

Progress = Callable[[str], None]


@dataclass
class Events:
    """The events a conversion checks, as input integers, with the numpy emulator's exact scores.

    ``sample`` indexes a mix of background and every signal (the slower emulators run on it);
    its first ``n_tb`` events are the test bench's."""

    x_int: np.ndarray
    expected: np.ndarray
    expected_int: np.ndarray
    sample: np.ndarray
    n_tb: int
    ends: np.ndarray  # where the background and each signal end in ``x_int``

    @property
    def tb(self) -> np.ndarray:
        return self.sample[: self.n_tb]


@dataclass
class Emulation:
    """Scores of one emulator of a back end on ``events`` (indices into :class:`Events`)."""

    name: str
    events: np.ndarray
    scores: np.ndarray


@dataclass
class Latency:
    """Latency with how it was obtained (``cycles`` is None when it cannot be stated)."""

    clock_mhz: float
    cycles: int | None
    initiation_interval: int | None
    how: str
    stages: list[str] = field(default_factory=list)
    ns: float | None = None

    def __post_init__(self) -> None:
        self.ns = None if self.cycles is None else self.cycles * 1000.0 / self.clock_mhz


@dataclass
class Resources:
    """Resource counts of a back end's design, with how they were obtained."""

    counts: dict[str, int]
    percent_of_part: dict[str, float]
    how: str
    seconds: float
    logic_depth_cells: int | None = None


@dataclass
class Description:
    """What a back end says about its design after writing it."""

    backend: str
    folder: str
    latency: Latency
    resources: Resources | None
    details: dict[str, Any] = field(default_factory=dict)
    readme: str = ""  # the project README's section about this back end's folder


class Backend(ABC):
    """One firmware back end (hls4ml HLS project, pipelined Verilog, ...)."""

    name: str
    folder: str

    @abstractmethod
    def check(self) -> None:
        """Fail early (one line) when a tool this back end needs is missing."""

    @abstractmethod
    def write(self, graph: FixedGraph, root: Path, events: Events, progress: Progress) -> None:
        """Write the project into ``root / self.folder`` (with a test bench of ``events.tb``)."""

    @abstractmethod
    def emulate(self, graph: FixedGraph, root: Path, events: Events, progress: Progress) -> list[Emulation]:
        """Score events with this back end's emulation of the firmware."""

    @abstractmethod
    def describe(self, graph: FixedGraph, root: Path, final: Path, progress: Progress) -> Description:
        """Latency, resources and a README section (``final``: where the project will be)."""

    def diagnose(self, graph: FixedGraph, events: Events, bad: np.ndarray) -> dict[str, Any] | None:
        """Where this back end parts ways with the numpy emulator on events ``bad`` (None: unknown)."""
        return None

    def cleanup(self, root: Path, final: Path) -> None:
        """Remove build products that do not belong in the project; ``final``: where it will be."""
