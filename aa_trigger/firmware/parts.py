"""The FPGA parts the project knows: full part string, yosys family and device totals.

Totals are from the Xilinx data sheets; they turn resource counts into a fraction of the part."""

from __future__ import annotations

from dataclasses import dataclass

from aa_trigger.errors import AATriggerError


@dataclass(frozen=True)
class Part:
    short: str
    full: str
    family: str  # yosys synth_xilinx -family
    lut: int
    ff: int
    dsp: int

    def totals(self) -> dict[str, int]:
        return {"LUT": self.lut, "FF": self.ff, "DSP": self.dsp}


PARTS = {p.short: p for p in (
    Part("xcvu9p", "xcvu9p-flga2104-2L-e", "xcup", 1_182_240, 2_364_480, 6_840),
    Part("xcvu13p", "xcvu13p-flga2577-2-e", "xcup", 1_728_000, 3_456_000, 12_288),
    Part("xc7vx690t", "xc7vx690tffg1927-2", "xc7", 433_200, 866_400, 3_600),
    Part("xcku15p", "xcku15p-ffva1760-2-e", "xcup", 522_720, 1_045_440, 1_968),
    Part("xcu250", "xcu250-figd2104-2L-e", "xcup", 1_728_000, 3_456_000, 12_288),
)}


def resolve_part(name: str) -> Part:
    """Short name (``xcvu9p``) or full part string -> :class:`Part`."""
    p = name.strip().lower()
    for part in PARTS.values():
        if p in (part.short, part.full.lower()):
            return part
    known = ", ".join(f"{k} ({v.full})" for k, v in PARTS.items())
    raise AATriggerError(f"unknown part {name!r}; known parts: {known}")
