"""Quantisation specs: one description per tensor kind gives the QKeras quantiser (training) and
the fixed-point type with its rounding and saturation (every firmware back end).

QKeras' own documentation states the mapping: ``quantized_bits(W, I, alpha=1)`` holds the values
of ``ap_fixed<W, I + 1>`` (one sign bit, ``I`` integer bits), ``quantized_relu(W, I)`` those of
``ap_ufixed<W, I>``; activations round half to even and clip (``AP_RND_CONV``, ``AP_SAT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aa_trigger.errors import AATriggerError


@dataclass(frozen=True)
class FixedType:
    """``ap_fixed<width, int_bits, rounding, saturation>`` (``ap_ufixed`` when unsigned).

    Empty rounding/saturation modes are the HLS defaults (truncation, wrap-around)."""

    width: int
    int_bits: int
    signed: bool = True
    rounding: str = ""
    saturation: str = ""

    @property
    def frac(self) -> int:
        return self.width - self.int_bits

    @property
    def int_min(self) -> int:
        """Smallest value in units of ``2**-frac``."""
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def int_max(self) -> int:
        """Largest value in units of ``2**-frac``."""
        return (1 << (self.width - (1 if self.signed else 0))) - 1

    def hls(self, modes: bool = True) -> str:
        """The hls4ml precision string, e.g. ``fixed<12,6,RND_CONV,SAT>``."""
        name = "fixed" if self.signed else "ufixed"
        extra = "".join(f",{m}" for m in (self.rounding, self.saturation) if m and modes)
        return f"{name}<{self.width},{self.int_bits}{extra}>"


@dataclass(frozen=True)
class QuantSpec:
    """A QKeras quantiser that hls4ml maps exactly: ``quantized_bits`` (signed) or ``quantized_relu``."""

    kind: str  # "bits" | "relu"
    bits: int
    integer: int

    def fixed(self) -> FixedType:
        if self.kind == "relu":
            return FixedType(self.bits, self.integer, False, "RND_CONV", "SAT")
        return FixedType(self.bits, self.integer + 1, True, "RND_CONV", "SAT")

    def qkeras(self) -> Any:
        """The QKeras quantiser object (alpha=1: an ``alpha='auto'`` scale has no exact HLS type)."""
        from qkeras import quantized_bits, quantized_relu

        if self.kind == "relu":
            return quantized_relu(self.bits, self.integer)
        return quantized_bits(self.bits, self.integer, alpha=1)


@dataclass(frozen=True)
class Quantisation:
    """The quantiser of every tensor kind of the VAE for ``bits``-bit quantisation-aware training."""

    kernel: QuantSpec
    bias: QuantSpec
    relu: QuantSpec
    latent: QuantSpec

    @classmethod
    def uniform(cls, bits: int) -> "Quantisation":
        """Kernels ``ap_fixed<N,2>``, biases ``ap_fixed<N,4>``, ReLUs ``ap_ufixed<N,4>``, latent
        means ``ap_fixed<N+4,6>`` (the type the deployed score is computed from)."""
        if not 4 <= bits <= 16:
            raise AATriggerError(f"--quantize must be 0 (float) or between 4 and 16 bits, got {bits}")
        return cls(QuantSpec("bits", bits, 1), QuantSpec("bits", bits, 3), QuantSpec("relu", bits, 4),
                   QuantSpec("bits", bits + 4, 5))


#: --quantize hgq: HGQ's per-weight and per-neuron widths, trained with a resource regulariser
HGQ = "hgq"


@dataclass(frozen=True)
class QuantMode:
    """What ``--quantize`` asks for: ``0`` (float), ``N`` (uniform N-bit QKeras), ``N,N,...`` (QKeras, one width
    per encoder dense layer, the latent-mean layer last) or ``hgq`` (HGQ: per-weight and per-neuron widths)."""

    kind: str  # "float" | "qkeras" | "hgq"
    bits: tuple[int, ...] = ()

    @classmethod
    def parse(cls, value: "int | str") -> "QuantMode":
        text = str(value).strip().lower()
        if text == HGQ:
            return cls("hgq")
        try:
            bits = tuple(int(v) for v in text.replace(":", ",").split(","))
        except ValueError:
            raise AATriggerError(f"--quantize takes 0 (float), N bits, N,N,... (one per encoder layer) or 'hgq', "
                                 f"not {value!r}") from None
        if bits == (0,):
            return cls("float")
        for b in bits:
            Quantisation.uniform(b)
        return cls("qkeras", bits)

    @property
    def label(self) -> str:
        """Run-name part: ``float``, ``q8``, ``q8-6-4``, ``hgq``."""
        return {"float": "float", "hgq": HGQ}.get(self.kind, "q" + "-".join(map(str, self.bits)))

    def layer_bits(self, n_layers: int) -> list[int]:
        """QKeras: the width of each of ``n_layers`` encoder dense layers (the latent mean last)."""
        if len(self.bits) == 1:
            return [self.bits[0]] * n_layers
        if len(self.bits) != n_layers:
            raise AATriggerError(f"--quantize {','.join(map(str, self.bits))} gives {len(self.bits)} widths; the "
                                 f"encoder has {n_layers} dense layers ({n_layers - 1} hidden and the latent mean)")
        return list(self.bits)
