"""C++ source of the emulator library: the deployed graph in exact 64-bit integer arithmetic.

Written by this project from the documented interface of the CMS ``hls4mlEmulatorExtras`` package
(``hls4mlEmulator::Model`` with ``prepare_input(std::any)``, ``predict()``, ``read_result(std::any)``,
and the ``extern "C"`` factories ``create_model`` / ``destroy_model`` that ``ModelLoader`` finds with
``dlsym``). Every value is an integer in units of ``2**-frac``, computed exactly as the numpy emulator
does: dense layers accumulate exactly, then ReLU, round half to even and saturate to their output type;
squares and sums of squares are exact. The graph's widest integer must fit 63 bits (checked).
"""

from __future__ import annotations

import re

import numpy as np

from aa_trigger.errors import AATriggerError
from aa_trigger.firmware.graph import (Dense, FixedGraph, Quantize, Relu, Scale, Squares, SumSquares, accumulator_bits,
                                      intervals)

INT64_BITS = 63


def library_name(model: str, version: int) -> str:
    """``<model>_v<N>``: the library file (``<name>.so``), the C++ namespace and the name CMSSW loads."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", model):
        raise AATriggerError(f"--emulator-name {model!r}: letters, digits and underscores, starting with a letter")
    if version < 1:
        raise AATriggerError(f"--emulator-version must be >= 1, got {version}")
    return f"{model}_v{version}"


def _ctype(lo: int, hi: int) -> str:
    for bits in (8, 16, 32):
        if -(1 << (bits - 1)) <= lo and hi < (1 << (bits - 1)):
            return f"int{bits}_t"
    return "int64_t"


def _array(name: str, values: np.ndarray) -> str:
    ctype = _ctype(int(values.min()), int(values.max())) if values.size else "int8_t"
    dims = "".join(f"[{d}]" for d in values.shape)
    if values.ndim == 1:
        body = ", ".join(str(int(v)) for v in values)
    else:
        body = ",\n    ".join("{" + ", ".join(str(int(v)) for v in row) + "}" for row in values)
    return f"static const {ctype} {name}{dims} = {{\n    {body}}};\n"


def _node_code(graph: FixedGraph) -> tuple[str, str, int, int]:
    """Constant tables, the body of ``score_int`` and the score's width and fractional bits."""
    tables, body = [], []
    n, frac, src = graph.n_features, graph.input_type.frac, "x"
    for i, node in enumerate(graph.nodes):
        dst = f"t{i}"
        if isinstance(node, Dense):
            acc_frac = frac + node.w_frac
            shift = acc_frac - node.b_frac
            tables.append(_array(f"W{i}", node.kernel) + _array(f"B{i}", node.bias))
            lines = [f"    // {node.name}: dense {n} -> {node.n_out}" + (", ReLU" if node.relu else "")
                     + (f", to {node.out_type.hls()}" if node.out_type is not None else ", exact"),
                     f"    int64_t {dst}[{node.n_out}];",
                     f"    for (int j = 0; j < {node.n_out}; ++j) {{",
                     f"        int64_t acc = static_cast<int64_t>(B{i}[j]) * {1 << shift}LL;",
                     f"        for (int k = 0; k < {n}; ++k) acc += {src}[k] * static_cast<int64_t>(W{i}[k][j]);"]
            if node.relu:
                lines.append("        if (acc < 0) acc = 0;")
            if node.out_type is not None:
                t = node.out_type
                lines.append(f"        acc = saturate(round_half_even(acc, {acc_frac - t.frac}), "
                             f"{t.int_min}LL, {t.int_max}LL);")
                frac = t.frac
            else:
                frac = acc_frac
            lines += [f"        {dst}[j] = acc;", "    }"]
            n = node.n_out
        elif isinstance(node, Scale):
            o = node.out_type
            tables.append(_array(f"OFF{i}", node.offset) + _array(f"SH{i}", node.shift))
            lines = [f"    // {node.name}: the Global-Trigger scaling ((x - offset) << {o.frac}) >> shift, to {o.hls()}",
                     f"    int64_t {dst}[{n}];",
                     f"    for (int j = 0; j < {n}; ++j) {dst}[j] = saturate(((({src}[j] - OFF{i}[j]) * "
                     f"(int64_t(1) << {o.frac})) >> SH{i}[j]), {o.int_min}LL, {o.int_max}LL);"]
            frac = o.frac
        elif isinstance(node, Quantize):
            live = node.width > 0
            tables.append(_array(f"SH{i}", frac - node.elem_frac) + _array(f"UP{i}", node.frac - node.elem_frac)
                          + _array(f"LO{i}", node.elem_min) + _array(f"HI{i}", node.elem_max)
                          + _array(f"LIVE{i}", live.astype(np.int64)))
            half = "(int64_t(1) << (s - 1))" if node.rounding == "RND" else "0"
            lines = [f"    // {node.name}: per-element types ({node.rounding}, SAT); zero-width elements are 0",
                     f"    int64_t {dst}[{n}];",
                     f"    for (int j = 0; j < {n}; ++j) {{",
                     f"        const int s = SH{i}[j];",
                     f"        int64_t v = s > 0 ? ({src}[j] + {half}) >> s : {src}[j] * (int64_t(1) << -s);",
                     f"        {dst}[j] = LIVE{i}[j] ? saturate(v, LO{i}[j], HI{i}[j]) * (int64_t(1) << UP{i}[j]) : 0;",
                     "    }"]
            frac = node.frac
        elif isinstance(node, Relu):
            lines = [f"    // {node.name}: ReLU", f"    int64_t {dst}[{n}];",
                     f"    for (int j = 0; j < {n}; ++j) {dst}[j] = {src}[j] < 0 ? 0 : {src}[j];"]
        elif isinstance(node, Squares):
            lines = [f"    // {node.name}: squares", f"    int64_t {dst}[{n}];",
                     f"    for (int j = 0; j < {n}; ++j) {dst}[j] = {src}[j] * {src}[j];"]
            frac *= 2
        elif isinstance(node, SumSquares):
            lines = [f"    // {node.name}: sum of squares", f"    int64_t {dst}[1] = {{0}};",
                     f"    for (int j = 0; j < {n}; ++j) {dst}[0] += {src}[j] * {src}[j];"]
            n, frac = 1, frac * 2
        else:  # pragma: no cover - every node type is handled above
            raise AATriggerError(f"the emulator library cannot compute node {node!r}")
        body += lines
        src = dst
    body.append(f"    return {src}[0];")
    lo, hi, _ = intervals(graph)[-1]
    width = max(abs(lo), abs(hi)).bit_length() + 1
    return "".join(tables), "\n".join(body), width, frac


def library_source(graph: FixedGraph, lib: str, thresholds: dict[str, int] | None = None) -> str:
    """The library's single C++ translation unit for ``graph``, in namespace ``lib``."""
    bits = accumulator_bits(graph)
    if bits > INT64_BITS:
        raise AATriggerError(f"the graph needs {bits}-bit integers; the emulator library computes in 64 bits")
    tables, body, width, frac = _node_code(graph)
    t = graph.input_type
    what = ("the raw input integers (trigger data: the Global-Trigger object integers in ADC2021 order, pT, "
            "eta, phi of MET, 4 e/gamma, 4 muons, 10 jets), scaled here as in the firmware"
            if isinstance(graph.nodes[0], Scale) else "the firmware input integers")
    thr = "".join(f"constexpr int64_t THRESHOLD_{k.upper()} = {v}LL;  // score_int > this fires at {k}\n"
                  for k, v in (thresholds or {}).items())
    return f"""// {lib}: the {graph.score} score of the deployed anomaly detector, written by aa_trigger.
// Input: {graph.n_features} integers per event, {what} ({t.hls()}, units of 2^-{t.frac}).
// Output: the score as the integer the firmware holds (units of 2^-{frac}, {width} bits with sign) and
// as its value score_int * 2^-{frac}. Exact 64-bit integer arithmetic, bit for bit the firmware's.
#include <any>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "hls4ml/emulator.h"

namespace {lib} {{

constexpr int N_INPUTS = {graph.n_features};
constexpr int SCORE_FRAC_BITS = {frac};
constexpr int INPUT_FRAC_BITS = {t.frac};
constexpr int64_t INPUT_MIN = {t.int_min}LL;
constexpr int64_t INPUT_MAX = {t.int_max}LL;
{thr}
{tables}
// v / 2^shift rounded to the nearest integer, ties to even (AP_RND_CONV); shift <= 0 scales up.
static inline int64_t round_half_even(int64_t v, int shift) {{
    if (shift <= 0) return v * (int64_t(1) << (-shift));
    const int64_t q = v >> shift;  // arithmetic shift: floor
    const int64_t r = v - q * (int64_t(1) << shift);
    const int64_t half = int64_t(1) << (shift - 1);
    return q + ((r > half || (r == half && (q & 1))) ? 1 : 0);
}}

static inline int64_t saturate(int64_t v, int64_t lo, int64_t hi) {{ return v < lo ? lo : (v > hi ? hi : v); }}

// The score of one event's input integers (each within [INPUT_MIN, INPUT_MAX]).
int64_t score_int(const int64_t* x) {{
{body}
}}

class Model : public hls4mlEmulator::Model {{
public:
    // input: std::vector<int32_t> or std::vector<int64_t> of N_INPUTS integers, or a pointer to them
    void prepare_input(std::any input) override {{
        if (auto* v = std::any_cast<std::vector<int32_t>>(&input)) return load(v->data(), v->size());
        if (auto* v = std::any_cast<std::vector<int64_t>>(&input)) return load(v->data(), v->size());
        if (auto* p = std::any_cast<const int32_t*>(&input)) return load(*p, N_INPUTS);
        if (auto* p = std::any_cast<int32_t*>(&input)) return load(*p, N_INPUTS);
        if (auto* p = std::any_cast<const int64_t*>(&input)) return load(*p, N_INPUTS);
        if (auto* p = std::any_cast<int64_t*>(&input)) return load(*p, N_INPUTS);
        throw std::invalid_argument("{lib}: input must be a std::vector<int32_t|int64_t> or a pointer to int32_t|int64_t");
    }}
    void predict() override {{ result_ = score_int(x_); }}
    // result: int64_t* (the score integer), double* (its value) or std::pair<int64_t, double>*
    void read_result(std::any result) override {{
        if (auto* p = std::any_cast<int64_t*>(&result)) {{ **p = result_; return; }}
        if (auto* p = std::any_cast<double*>(&result)) {{ **p = std::ldexp(double(result_), -SCORE_FRAC_BITS); return; }}
        if (auto* p = std::any_cast<std::pair<int64_t, double>*>(&result)) {{
            **p = {{result_, std::ldexp(double(result_), -SCORE_FRAC_BITS)}};
            return;
        }}
        throw std::invalid_argument("{lib}: result must be int64_t*, double* or std::pair<int64_t, double>*");
    }}

private:
    template <typename T>
    void load(const T* in, size_t n) {{
        if (n != size_t(N_INPUTS)) throw std::invalid_argument("{lib}: expected {graph.n_features} inputs");
        for (int i = 0; i < N_INPUTS; ++i) {{
            const int64_t v = static_cast<int64_t>(in[i]);
            if (v < INPUT_MIN || v > INPUT_MAX) throw std::out_of_range("{lib}: input outside the input type");
            x_[i] = v;
        }}
    }}
    int64_t x_[N_INPUTS] = {{}};
    int64_t result_ = 0;
}};

}}  // namespace {lib}

extern "C" hls4mlEmulator::Model* create_model() {{ return new {lib}::Model; }}

extern "C" void destroy_model(hls4mlEmulator::Model* m) {{ delete m; }}

// Many events at once (row-major n x N_INPUTS), for tests and offline use; returns 0, or 1 for an input
// outside the input type (out[i] is then not written).
extern "C" int {lib}_score_batch(const int64_t* x, int64_t n, int64_t* out) {{
    for (int64_t e = 0; e < n; ++e) {{
        const int64_t* row = x + e * {lib}::N_INPUTS;
        for (int i = 0; i < {lib}::N_INPUTS; ++i)
            if (row[i] < {lib}::INPUT_MIN || row[i] > {lib}::INPUT_MAX) return 1;
        out[e] = {lib}::score_int(row);
    }}
    return 0;
}}
"""
