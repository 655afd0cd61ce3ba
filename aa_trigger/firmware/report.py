"""The conversion report: one typed object, written as strict JSON and rendered as Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aa_trigger.firmware.backend import Description
from aa_trigger.firmware.compare import Comparison

REPORT_FORMAT = 2

#: named L1 latency budgets (ns) the report checks against
BUDGETS = {
    "AXOL1TL-like (CMS Global Trigger, 50 ns)": 50.0,
    "CICADA-like (calorimeter layer 1, < 200 ns)": 200.0,
}


@dataclass
class SignalMetrics:
    auc: float
    tpr: dict[str, float]  # working point label -> signal efficiency (NaN: not resolvable)


@dataclass
class Threshold:
    working_point: str
    fpr: float
    threshold: float  # NaN: too few background events to resolve the working point
    threshold_int: int | None = None
    background_rate_khz: float | None = None
    note: str = ""


@dataclass
class Budget:
    name: str
    budget_ns: float
    max_cycles_at_clock: int
    meets: str


@dataclass
class ConvertReport:
    run: str
    project: str
    score: str
    score_choice: str
    part: str
    input_type: str
    score_type: str
    score_frac_bits: int
    score_range_seen: list[float]
    largest_intermediate_bits: int
    n_features: int
    n_background_test: int
    n_signal_test: dict[str, int]
    #: model ("float_reference", "qkeras" or for HGQ models "hgq_proxy", "emulated_firmware") -> signal -> metrics
    auc: dict[str, dict[str, SignalMetrics]]
    bit_exact: list[Comparison]
    thresholds: list[Threshold]
    sample: str  # which events the slower emulators check, and why that many
    designs: list[Description]
    budgets: dict[str, list[Budget]]  # back end -> budgets
    nonzero_weights: dict[str, int]  # dense layer -> non-zero weights (constant multiplications)
    options: dict[str, Any]
    aa_trigger_version: str
    timings_s: dict[str, float] = field(default_factory=dict)
    divergence: dict[str, Any] | None = None
    #: per test split: input values at the limits of the input type, per feature (saturated)
    input_saturation: dict[str, dict[str, int]] = field(default_factory=dict)
    all_bit_exact: bool = False
    format: int = REPORT_FORMAT

    def __post_init__(self) -> None:
        self.all_bit_exact = all(c.bit_exact for c in self.bit_exact)


def budgets(design: Description) -> list[Budget]:
    """The named L1 budgets, met or not by a design's latency."""
    lat = design.latency
    out = []
    for name, ns in BUDGETS.items():
        cycles = int(ns * lat.clock_mhz / 1000.0 + 1e-9)  # 12 cycles of 240 MHz fit in 50 ns despite rounding
        if lat.ns is None:
            meets = "unknown (needs synthesis)"
        else:
            meets = (f"yes ({lat.ns:.1f} ns)" if lat.ns <= ns + 1e-9 else f"no ({lat.ns:.1f} ns)") + \
                " if timing closes at this clock"
        out.append(Budget(name, ns, cycles, meets))
    return out


def _v(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.4f}"


def _auc_table(r: ConvertReport) -> list[str]:
    model = next(k for k in r.auc if k not in ("float_reference", "emulated_firmware"))  # qkeras or hgq_proxy
    f, q, e = (r.auc[k] for k in ("float_reference", model, "emulated_firmware"))
    points = list(next(iter(e.values())).tpr) if e else []
    label = "HGQ proxy" if model == "hgq_proxy" else "QKeras"
    lines = [f"## AUC and signal efficiency (float reference / {label} / emulated firmware)", "",
             "| signal | AUC | " + " | ".join(f"TPR@{p}" for p in points) + " |", "|---|---|" + "---|" * len(points)]
    for sig in e:
        cells = [f"{_v(f[sig].auc)} / {_v(q[sig].auc)} / {_v(e[sig].auc)}"]
        cells += [f"{_v(f[sig].tpr[p])} / {_v(q[sig].tpr[p])} / {_v(e[sig].tpr[p])}" for p in points]
        lines.append(f"| {sig} | " + " | ".join(cells) + " |")
    return lines


def _design_section(d: Description, budget_list: list[Budget]) -> list[str]:
    lat = d.latency
    lines = [f"### {d.backend} ({d.folder}/)", "", f"Clock {lat.clock_mhz:g} MHz ({1000.0 / lat.clock_mhz:.3g} ns). "
             + (f"Latency {lat.cycles} cycles = {lat.ns:.1f} ns, II = {lat.initiation_interval}. " if lat.cycles else "")
             + lat.how, ""]
    if lat.stages:
        lines += ["Pipeline stages: " + "; ".join(f"{i + 1}. {st}" for i, st in enumerate(lat.stages)) + ".", ""]
    if d.details.get("verilator_events_per_s"):
        lines += [f"Verilator simulation: built in {d.details['verilator_build_s']:.0f} s, "
                  f"{d.details['verilator_events_per_s']:,.0f} events/s. Tools: "
                  + ", ".join(d.details.get("tools", {}).values()) + ".", ""]
    lines += [f"- {b.name}: at most {b.max_cycles_at_clock} cycles at this clock; meets: {b.meets}" for b in budget_list]
    res = d.resources
    if res is not None:
        lines += ["", "| resource | count | % of part |", "|---|---|---|"]
        for k, n in res.counts.items():
            pct = res.percent_of_part.get(k)
            lines.append(f"| {k} | {n} | {pct:.3f} |" if pct is not None else f"| {k} | {n} | |")
        if res.logic_depth_cells is not None:
            lines += ["", f"Deepest combinational path between registers: {res.logic_depth_cells} cells."]
        lines += ["", f"({res.how}; {res.seconds:.0f} s)"]
    return lines + [""]


def _saturation_line(r: ConvertReport) -> str:
    total = {k: sum(v.values()) for k, v in r.input_saturation.items()}
    if not any(total.values()):
        return "No input value saturates the input type."
    return "Input values saturated at the limits of the input type: " + ", ".join(
        f"{k} {n}" for k, n in total.items() if n) + " (per feature in report.json)."


def render_markdown(r: ConvertReport) -> str:
    """``report.md``: what the report holds, for a reader."""
    backends = ", ".join(d.backend for d in r.designs)
    lines = [f"# Firmware report: encoder + {r.score} on {r.part} ({backends})", "",
             f"Run `{r.run}`; score choice: {r.score_choice}.",
             f"Input type `{r.input_type}`, score type `{r.score_type}` (exact: every value the inputs can produce "
             f"fits; largest intermediate {r.largest_intermediate_bits} bits; scores seen: "
             f"{r.score_range_seen[0]:.6g} to {r.score_range_seen[1]:.6g}).",
             f"{r.n_background_test} background test events.", _saturation_line(r), ""]
    lines += _auc_table(r)
    lines += ["", "## Bit-exactness", "", "| compared | events | equal | bit-exact |", "|---|---|---|---|"]
    lines += [f"| {c.a} vs {c.b} | {c.events} | {c.equal} | {'yes' if c.bit_exact else 'NO'} |" for c in r.bit_exact]
    lines += ["", r.sample + ".", "", "## Thresholds", "",
              "| working point | FPR | threshold | firmware integer |", "|---|---|---|---|"]
    for t in r.thresholds:
        thr = f"n/a ({t.note})" if t.threshold != t.threshold else f"{t.threshold:.8g}"
        lines.append(f"| {t.working_point} | {t.fpr:.3g} | {thr} | "
                     f"{t.threshold_int if t.threshold_int is not None else 'n/a'} |")
    lines += ["", f"Firmware rule: accept if score_int > threshold integer (score = score_int * 2^-{r.score_frac_bits}).",
              "", "## Latency and resources", ""]
    for d in r.designs:
        lines += _design_section(d, r.budgets[d.backend])
    mults = sum(r.nonzero_weights.values())
    lines += [f"{mults} constant multiplications (non-zero quantised weights, exact: "
              + ", ".join(f"{k} {v}" for k, v in r.nonzero_weights.items()) + ")."]
    return "\n".join(lines) + "\n"


def project_readme(r: ConvertReport) -> str:
    """The firmware project's README: what is where and how to rebuild it."""
    head = f"""# aa_trigger firmware project

Encoder + `{r.score}` score of run `{r.run}`, for `{r.part}`.

- Input: {r.n_features} features, `{r.input_type}` each, after the run's preprocessing
  (`conversion.json` holds the scaler).
- Output: the score, `{r.score_type}`; trigger thresholds and the bit-exactness proof in `report.md`.

"""
    return head + "\n".join(d.readme for d in r.designs)
