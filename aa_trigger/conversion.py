"""The convert job: run folder -> hls4ml firmware project, three-way bit-exact proof, report."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from aa_trigger import __version__, deploy, fixedpoint, hls, metrics, runfolder
from aa_trigger.config import BX_RATES_MHZ, TrainConfig
from aa_trigger.data import load_dataset
from aa_trigger.errors import AATriggerError
from aa_trigger.evaluate import FPR_REFERENCE, mean_unseen_auc

Progress = Callable[[str], None]
HLS_DIR = "hls4ml_prj"

#: named L1 latency budgets (ns) the report checks against
BUDGETS = {
    "AXOL1TL-like (CMS Global Trigger, 50 ns)": 50.0,
    "CICADA-like (calorimeter layer 1, < 200 ns)": 200.0,
}


@dataclass
class ConvertSettings:
    run: str = ""
    part: str = "xcvu9p"
    backend: str = "vitis"
    clock_mhz: float = 200.0
    reuse_factor: int = 1
    strategy: str = "Latency"
    io_type: str = "io_parallel"
    score: str = "auto"
    output: str = ""
    force: bool = False
    rate_khz: list[float] = field(default_factory=lambda: [1.0, 5.0, 10.0])
    bx_mhz: str = "40"
    n_tb: int = 2000
    n_hls: int = 20000
    csim: bool = True
    estimate: bool = False
    adder_levels: str = "auto"  # RTL: adder levels per pipeline stage, or auto (from the clock)


def newest_run(root: Path = Path("models")) -> Path:
    runs = [p for p in root.glob("*") if (p / "provenance.json").is_file()] if root.is_dir() else []
    if not runs:
        raise AATriggerError(f"no run folder under {root}/; train one with `python -m aa_trigger.train` "
                             "or pass --run")
    return max(runs, key=lambda p: (p / "provenance.json").stat().st_mtime)


def choose_score(run: runfolder.Run, score: str) -> tuple[str, str]:
    """Resolve ``auto`` to the deployable score with the better mean unseen-signal AUC after AA."""
    if score != "auto":
        return score, "chosen with --score"
    path = run.path / "metrics.json"
    if not path.is_file():
        return "mu2", "default (the run has no metrics.json)"
    after = json.loads(path.read_text())["aa"]
    aucs = {s: mean_unseen_auc(after, s) for s in deploy.SCORE_TYPES}
    best = max(aucs, key=lambda s: (np.nan_to_num(aucs[s], nan=-1.0), s == "mu2"))
    return best, "auto: higher mean AUC on signals unseen in fine-tuning (" + \
        ", ".join(f"{k} {v:.4f}" for k, v in aucs.items()) + ")"


def float_reference_scores(run: runfolder.Run, score: str, x: np.ndarray) -> np.ndarray:
    """The same trained network without quantisation (float shadow weights, float activations)."""
    rel = lambda a: np.maximum(a, 0.0)  # noqa: E731
    enc, sur, cfg = run.aa.encoder, run.aa.surrogate, run.model_config
    h = x.astype(np.float64)
    for i in range(len(cfg.widths)):
        k, b = enc.get_layer(f"enc_dense{i}").get_weights()
        h = rel(h @ k + b)
    k, b = enc.get_layer("mu_dense").get_weights()
    mu = h @ k + b
    if score == "mu2":
        return np.sum(mu**2, axis=1)
    k, b = sur.get_layer("sur_dense0").get_weights()
    h = rel(mu @ k + b)
    k, b = sur.get_layer("sur_out").get_weights()
    return (h @ k + b)[:, 0]


def _metrics_table(bg: np.ndarray, sig: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    return {s: {"auc": metrics.auc(bg, v), "tpr_fpr_1e-05": metrics.tpr_at_fpr(bg, v, FPR_REFERENCE)}
            for s, v in sig.items()}


def compare(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray, x_int: np.ndarray | None = None,
            show: int = 5) -> dict[str, Any]:
    """Exact comparison of two score arrays, with the first differing events."""
    diff = np.flatnonzero(a != b)
    out: dict[str, Any] = {"a": name_a, "b": name_b, "events": int(len(a)), "equal": int(len(a) - len(diff)),
                           "bit_exact": bool(len(diff) == 0)}
    if len(diff):
        out["max_abs_diff"] = float(np.max(np.abs(a[diff] - b[diff])))
        out["examples"] = [{"event": int(i), name_a: float(a[i]), name_b: float(b[i])} for i in diff[:show]]
    return out


def first_divergent_layer(graph: deploy.FixedGraph, hls_model: Any, x_int: np.ndarray, frac: int,
                          events: np.ndarray) -> dict[str, Any]:
    """Locate where hls4ml and the numpy model part ways, layer by layer."""
    x = x_int[events] * 2.0**-frac
    tr = hls.trace(hls_model, x)
    _, ours = fixedpoint.run_graph(graph, x_int[events], trace=True)
    for layer in graph.layers:
        name = layer.name
        if name not in tr:
            continue
        mine = ours[name].to_float()
        bad = np.flatnonzero(np.any(tr[name] != mine, axis=1))
        if len(bad):
            i = bad[0]
            return {"layer": name, "event": int(events[i]), "hls4ml": tr[name][i].tolist(), "numpy": mine[i].tolist()}
    return {"layer": "score", "note": "all traced layers agree; the final score step differs"}


def thresholds(graph: deploy.FixedGraph, bg: np.ndarray, frac: int, rates_khz: list[float],
               bx_khz: float) -> list[dict[str, Any]]:
    out = []
    for r in rates_khz:
        fpr = metrics.rate_to_fpr(r, bx_khz)
        thr = metrics.threshold_at_fpr(bg, fpr)
        entry = {"rate_khz": r, "fpr": fpr, "threshold": thr}
        if not np.isnan(thr):
            entry["threshold_int"] = int(round(thr * 2**frac))
            entry["firmware_rule"] = f"accept if score_int > {entry['threshold_int']} (score = score_int * 2^-{frac})"
            entry["background_rate_khz"] = float(np.mean(bg > thr) * bx_khz)
        out.append(entry)
    return out


def resource_summary(graph: deploy.FixedGraph) -> dict[str, Any]:
    """What can be stated exactly without vendor tools: operation counts of the graph."""
    mults = sum(int(np.count_nonzero(l.kernel)) for l in graph.layers)
    if graph.score == "mu2":
        mults += len(graph.layers[-1].bias)
    return {
        "nonzero_weight_multiplications": mults,
        "dense_layers": [f"{l.name}: {l.kernel.shape[0]}x{l.kernel.shape[1]}, "
                         f"{int(np.count_nonzero(l.kernel))} non-zero weights" for l in graph.layers],
        "how": "counted from the quantised weights (exact); each is a constant multiplication that Vitis HLS maps "
               "to LUTs or DSPs",
    }


def _short_part(part: str) -> str:
    return next((k for k, v in hls.PARTS.items() if v == part), part)


def _cycles_within(budget_ns: float, clock_mhz: float) -> int:
    """Whole clock cycles that fit in a budget (12 cycles of 240 MHz fit in 50 ns, despite rounding)."""
    return int(budget_ns * clock_mhz / 1000.0 + 1e-9)


def latency_summary(settings: hls.HLSSettings, rtl_info: dict[str, Any] | None = None) -> dict[str, Any]:
    period = 1000.0 / settings.clock_mhz
    if rtl_info is not None:
        ns = rtl_info["latency_ns"]
        return {
            "clock_mhz": settings.clock_mhz, "clock_period_ns": period,
            "latency_cycles": rtl_info["latency_cycles"], "latency_ns": ns, "initiation_interval": 1,
            "how": f"RTL back end: {rtl_info['latency_cycles']} pipeline stages by construction, "
                   f"{rtl_info['adder_levels_per_stage']} adder levels per stage ({rtl_info['adder_levels_choice']}), "
                   f"initiation interval 1; {rtl_info['timing']}",
            "budgets": {name: {"budget_ns": b, "max_cycles_at_clock": _cycles_within(b, settings.clock_mhz),
                               "meets": (f"yes ({ns:.1f} ns)" if ns <= b + 1e-9 else f"no ({ns:.1f} ns)")
                               + " if timing closes at this clock"}
                        for name, b in BUDGETS.items()},
        }
    return {
        "clock_mhz": settings.clock_mhz,
        "clock_period_ns": period,
        "latency_cycles": None,
        "latency_ns": None,
        "how": "not computed: hls4ml 1.3 has no latency/resource estimator that works without Vitis/Vivado HLS. "
               "Run the synthesis command in README.md; the csynth report gives cycles, II and LUT/FF/DSP.",
        "budgets": {name: {"budget_ns": ns, "max_cycles_at_clock": _cycles_within(ns, settings.clock_mhz),
                           "meets": "unknown (needs synthesis)"}
                    for name, ns in BUDGETS.items()},
    }


def run_convert(s: ConvertSettings, progress: Progress = lambda m: None) -> dict[str, Any]:
    """Convert a run folder into a firmware project with a report; returns the report."""
    t0 = time.time()
    part = hls.resolve_part(s.part)
    use_rtl = s.backend.strip().lower() == "rtl"
    backend = "Vitis" if use_rtl else hls.resolve_backend(s.backend)
    if use_rtl:
        from aa_trigger import rtl

        rtl.require_tools(estimate=s.estimate)
    elif s.estimate:
        raise AATriggerError("--estimate needs --backend rtl (the HLS back end has no estimate without Vitis HLS)")
    if s.strategy not in hls.STRATEGIES:
        raise AATriggerError(f"unknown strategy {s.strategy!r}; choose one of {', '.join(hls.STRATEGIES)}")
    if s.io_type not in hls.IO_TYPES:
        raise AATriggerError(f"unknown io type {s.io_type!r}; choose one of {', '.join(hls.IO_TYPES)}")
    if s.clock_mhz <= 0 or s.reuse_factor < 1 or s.n_tb < 1 or s.n_hls < 1:
        raise AATriggerError("--clock-mhz, --reuse-factor, --n-tb and --n-hls must be positive")
    levels, given = 0, str(s.adder_levels)  # 0: chosen from the clock
    if given != "auto":
        if not use_rtl:
            raise AATriggerError("--adder-levels needs --backend rtl")
        levels = int(given) if given.isdigit() else 0
        if levels < 1:
            raise AATriggerError(f"--adder-levels must be a positive integer or auto, not {s.adder_levels!r}")
    if s.bx_mhz not in BX_RATES_MHZ:
        raise AATriggerError(f"--bx-mhz must be one of {', '.join(BX_RATES_MHZ)}")
    run_path = Path(s.run) if s.run else newest_run()
    out = Path(s.output) if s.output else Path("firmware") / run_path.name
    runfolder.ensure_free(out, s.force)
    run = runfolder.load_run(run_path)
    score, why = choose_score(run, s.score)
    graph = deploy.fixed_graph(run, score)
    settings = hls.HLSSettings(part, backend, s.clock_mhz, s.reuse_factor, s.strategy, s.io_type)
    progress(f"run {run_path}: deploying encoder + {score} ({why}) to {part} with {backend}")

    cfg = TrainConfig(**run.config)
    data = load_dataset(cfg, progress)
    if data.scaler.to_dict() != run.scaler.to_dict():
        raise AATriggerError(f"the data found for run {run_path} no longer match its preprocessing "
                             "(preprocessing.json); was the data set changed?")
    x_bg_int, x_sig_int = data.int_test, data.int_signals_test
    frac_in = run.scaler.frac_bits
    to_x = lambda xi: (xi * 2.0**-frac_in).astype(np.float32)  # noqa: E731  (exact: 14-bit values)

    progress(f"scoring {len(x_bg_int)} background and {sum(map(len, x_sig_int.values()))} signal events "
             "with the float reference, QKeras and the numpy fixed-point emulator")
    model = deploy.build_keras_model(run, score)
    emu_bg = fixedpoint.score(graph, x_bg_int)
    emu_sig = {k: fixedpoint.score(graph, v) for k, v in x_sig_int.items()}
    q_bg = model.predict(to_x(x_bg_int), batch_size=16384, verbose=0)[:, 0].astype(np.float64)
    q_sig = {k: model.predict(to_x(v), batch_size=16384, verbose=0)[:, 0].astype(np.float64)
             for k, v in x_sig_int.items()}
    f_bg = float_reference_scores(run, score, to_x(x_bg_int))
    f_sig = {k: float_reference_scores(run, score, to_x(v)) for k, v in x_sig_int.items()}

    all_int = np.concatenate([x_bg_int, *x_sig_int.values()])
    all_emu = np.concatenate([emu_bg, *emu_sig.values()])
    # the test-bench and hls4ml-predict events: background first, then every signal
    ends = np.cumsum([len(x_bg_int), *map(len, x_sig_int.values())])
    per_signal = max(1, s.n_hls // (2 * len(x_sig_int)))
    mix_idx = np.concatenate([np.arange(min(ends[0], s.n_hls // 2))]
                             + [np.arange(a, min(a + per_signal, b)) for a, b in zip(ends[:-1], ends[1:])])
    mix, mix_emu = all_int[mix_idx], all_emu[mix_idx]
    tb = mix[: s.n_tb]

    with runfolder.atomic_folder(out, force=s.force) as tmp:
        progress(f"writing and compiling the hls4ml project ({len(tb)} test-bench events)")
        tc = time.time()
        hls_model = hls.convert(model, graph, settings, tmp / HLS_DIR, tb * 2.0**-frac_in, mix_emu[: len(tb)])
        convert_s = time.time() - tc
        progress(f"hls4ml predict() on {len(mix)} events")
        hls_scores = hls.predict(hls_model, mix * 2.0**-frac_in)
        checks = [compare("numpy", all_emu, "qkeras", np.concatenate([q_bg, *q_sig.values()])),
                  compare("numpy", mix_emu, "hls4ml_predict", hls_scores)]
        if s.csim:
            progress("C simulation of the generated testbench with g++")
            cs = hls.csim(tmp / HLS_DIR)
            checks.append(compare("numpy", mix_emu[: len(tb)], "csim", cs))
        rtl_info = None
        if use_rtl:
            levels_given = levels > 0
            levels = levels or rtl.levels_per_stage(s.clock_mhz)
            design = rtl.generate(graph, levels)
            progress(f"RTL: {design.latency_cycles}-stage pipeline ({levels} adder levels per stage); "
                     "building the Verilator simulation (minutes)")
            rtl.write_project(tmp / "rtl", design, part, s.clock_mhz)
            tv = time.time()
            rtl.build_verilator(tmp / "rtl")
            build_s = time.time() - tv
            progress(f"RTL: Verilator simulation of {len(all_int)} events")
            sim, rate = rtl.simulate(tmp / "rtl", design, all_int)
            rtl.save_design(tmp / "rtl", design, part, s.clock_mhz)
            rtl.write_testbench(tmp / "rtl", design, tb, fixedpoint.score_int(graph, tb)[0], s.clock_mhz)
            checks.append(compare("numpy", all_emu, "verilator_rtl", sim))
            checks.append(compare("hls4ml_predict", hls_scores, "verilator_rtl", sim[mix_idx]))
            rtl_info = {"latency_cycles": design.latency_cycles, "initiation_interval": 1,
                        "adder_levels_per_stage": levels, "tools": rtl.tool_versions(),
                        "adder_levels_choice": ("--adder-levels" if levels_given else
                                                f"auto: floor((clock period - {rtl.REGISTER_OVERHEAD_NS} ns) / "
                                                f"{rtl.ADDER_LEVEL_NS} ns per adder level), an assumption for "
                                                "UltraScale+ -2, not a timing analysis"),
                        "stages": design.stages,
                        "latency_ns": design.latency_cycles * 1000.0 / s.clock_mhz,
                        "output_width": design.output_width, "output_frac": design.output_frac,
                        "verilator_build_s": build_s,
                        "verilator_events_per_s": rate,
                        "timing": "timing closure NOT verified: no open tool gives Fmax for this part; "
                                  "run rtl/build_vivado.tcl with Vivado"}
            if s.estimate:
                progress("RTL: yosys resource estimate (minutes)")
                rtl_info["resources"] = rtl.yosys_estimate(tmp / "rtl", _short_part(part))
            shutil.rmtree(tmp / "rtl" / "obj_dir", ignore_errors=True)
        divergence = None
        if not checks[1]["bit_exact"]:
            events = np.flatnonzero(mix_emu != hls_scores)[:20]
            divergence = first_divergent_layer(graph, hls_model, mix, frac_in, events)

        score_frac = fixedpoint.score_int(graph, x_bg_int[:1])[1]
        out_type = hls.score_type(graph) if score == "mu2" else hls.hls_type_of(hls_model, graph.layers[-1].name)
        auc_table = {"float_reference": _metrics_table(f_bg, f_sig), "qkeras": _metrics_table(q_bg, q_sig),
                     "emulated_firmware": _metrics_table(emu_bg, emu_sig)}
        report = {
            "aa_trigger_version": __version__, "run": str(run_path), "score": score, "score_choice": why,
            "part": part, "backend": backend, "hls_settings": asdict(settings),
            "input_type": graph.input_type.hls(), "score_type": out_type,
            "score_range_seen": [float(all_emu.min()), float(all_emu.max())],
            "score_type_check": (f"no wrap possible: the score type holds every value the inputs of type "
                                 f"{graph.input_type.hls()} can produce (exact accumulator widths; "
                                 f"largest intermediate {fixedpoint.accumulator_bits(graph)} bits)"),
            "n_background_test": int(len(emu_bg)), "n_signal_test": {k: int(len(v)) for k, v in emu_sig.items()},
            "auc": auc_table,
            "auc_gap_emulated_vs_qkeras": {k: auc_table["emulated_firmware"][k]["auc"] - auc_table["qkeras"][k]["auc"]
                                           for k in emu_sig},
            "auc_gap_emulated_vs_float": {k: auc_table["emulated_firmware"][k]["auc"]
                                          - auc_table["float_reference"][k]["auc"] for k in emu_sig},
            "bit_exact": checks, "divergence": divergence,
            "thresholds": thresholds(graph, emu_bg, score_frac, s.rate_khz, BX_RATES_MHZ[s.bx_mhz] * 1000),
            "score_frac_bits": score_frac,
            "latency": latency_summary(settings, rtl_info), "resources": resource_summary(graph),
            "rtl": rtl_info, "n_features": graph.n_features, "convert_options": asdict(s),
            "timings_s": {"convert_and_compile": convert_s, "total": time.time() - t0},
        }
        ok = all(c["bit_exact"] for c in checks)
        report["all_bit_exact"] = ok
        _write_project_files(tmp, out, run, graph, settings, report, s)
        if not ok:
            bad = next(c for c in checks if not c["bit_exact"])
            where = f"; first divergence at layer {divergence['layer']}" if divergence else ""
            raise AATriggerError(f"emulators disagree: {bad['a']} vs {bad['b']} equal on {bad['equal']} of "
                                 f"{bad['events']} events (e.g. {bad['examples'][0]}){where}")
    report["project"] = str(out)
    return report


def _write_project_files(tmp: Path, final: Path, run: runfolder.Run, graph: deploy.FixedGraph,
                         settings: hls.HLSSettings, report: dict[str, Any], s: ConvertSettings) -> None:
    yml = tmp / HLS_DIR / "hls4ml_config.yml"
    if yml.is_file():  # record the final location, not the temporary one
        yml.write_text(yml.read_text().replace(str(tmp), str(final)))
    runfolder.write_json(tmp / "conversion.json", {
        "run": str(run.path), "score": graph.score, "settings": asdict(settings), "input_type": graph.input_type.hls(),
        "input_frac_bits": graph.input_type.frac, "project": HLS_DIR, "project_name": hls.PROJECT,
        "convert_options": asdict(s), "scaler": run.scaler.to_dict()})
    runfolder.write_json(tmp / "report.json", report)
    (tmp / "report.md").write_text(report_markdown(report))
    shutil.copy(run.path / "model.json", tmp / "model.json")
    (tmp / "README.md").write_text(project_readme(report, settings, final))


def report_markdown(r: dict[str, Any]) -> str:
    lines = [f"# Firmware report: encoder + {r['score']} on {r['part']} ({r['backend']})", "",
             f"Run `{r['run']}`; score choice: {r['score_choice']}.",
             f"Input type `{r['input_type']}`, score type `{r['score_type']}` "
             f"(scores seen: {r['score_range_seen'][0]:.6g} to {r['score_range_seen'][1]:.6g}).",
             f"{r['n_background_test']} background test events.", "",
             "## AUC and TPR at FPR 1e-5", "",
             "| signal | AUC float | AUC QKeras | AUC firmware | TPR@1e-5 float | TPR@1e-5 QKeras | TPR@1e-5 firmware |",
             "|---|---|---|---|---|---|---|"]
    a = r["auc"]
    def v(x: float) -> str:
        return "n/a" if np.isnan(x) else f"{x:.4f}"

    for sig in a["emulated_firmware"]:
        f, q, e = a["float_reference"][sig], a["qkeras"][sig], a["emulated_firmware"][sig]
        lines.append(f"| {sig} | {v(f['auc'])} | {v(q['auc'])} | {v(e['auc'])} | {v(f['tpr_fpr_1e-05'])} | "
                     f"{v(q['tpr_fpr_1e-05'])} | {v(e['tpr_fpr_1e-05'])} |")
    lines += ["", "## Bit-exactness", "", "| compared | events | equal | bit-exact |", "|---|---|---|---|"]
    for c in r["bit_exact"]:
        lines.append(f"| {c['a']} vs {c['b']} | {c['events']} | {c['equal']} | {'yes' if c['bit_exact'] else 'NO'} |")
    lines += ["", "## Thresholds", "", "| rate (kHz) | FPR | threshold | firmware integer |", "|---|---|---|---|"]
    for t in r["thresholds"]:
        thr = "n/a (too few background events)" if np.isnan(t["threshold"]) else f"{t['threshold']:.8g}"
        lines.append(f"| {t['rate_khz']:g} | {t['fpr']:.3g} | {thr} | {t.get('threshold_int', 'n/a')} |")
    lat = r["latency"]
    lines += ["", "## Latency and resources", "", f"Clock {lat['clock_mhz']:g} MHz ({lat['clock_period_ns']:.3g} ns). "
              f"{lat['how']}", ""]
    stages = (r.get("rtl") or {}).get("stages")
    if stages:
        lines += ["Pipeline stages: " + "; ".join(f"{i + 1}. {st}" for i, st in enumerate(stages)) + ".", "",
                  f"Verilator simulation: built in {r['rtl']['verilator_build_s']:.0f} s, "
                  f"{r['rtl']['verilator_events_per_s']:,.0f} events/s. Tools: "
                  + ", ".join(r["rtl"].get("tools", {}).values()) + ".", ""]
    for name, b in lat["budgets"].items():
        lines.append(f"- {name}: at most {b['max_cycles_at_clock']} cycles at this clock; meets: {b['meets']}")
    res = r["resources"]
    lines += ["", f"{res['nonzero_weight_multiplications']} constant multiplications ({res['how']}).", ""]
    est = (r.get("rtl") or {}).get("resources")
    if est:
        pct = est.get("percent_of_part", {})
        lines += ["| resource | count | % of part |", "|---|---|---|"]
        for k in ("LUT", "FF", "DSP", "CARRY"):
            lines.append(f"| {k} | {est[k]} | {pct[k]:.3f} |" if k in pct else f"| {k} | {est[k]} | |")
        if est.get("logic_depth_cells") is not None:
            lines += ["", f"Deepest combinational path between registers: {est['logic_depth_cells']} cells."]
        lines += ["", f"({est['how']}; {est['seconds']:.0f} s)", ""]
    return "\n".join(lines) + "\n"


def project_readme(r: dict[str, Any], settings: hls.HLSSettings, final: Path) -> str:
    cmds = "\n".join(hls.vendor_commands(settings.backend))
    n_tb = r["convert_options"]["n_tb"]
    text = f"""# aa_trigger firmware project

Encoder + `{r['score']}` score of run `{r['run']}`, for `{settings.part}` at {settings.clock_mhz:g} MHz
({settings.backend}, {settings.io_type}, {settings.strategy}, reuse factor {settings.reuse_factor}).

- Input: {r['n_features']} features, `{r['input_type']}` each, after the run's preprocessing
  (`conversion.json` holds the scaler).
- Output: the score, `{r['score_type']}`; trigger thresholds in `report.md`.
- `{HLS_DIR}/`: the hls4ml project (`hls4ml_config.yml` is the resolved configuration);
  `{HLS_DIR}/tb_data/` holds up to {n_tb} real test events and the expected scores.

C simulation, synthesis and export with vendor tools (from `{HLS_DIR}/`):

    {cmds}

C simulation without vendor tools (g++ only):

    python -m aa_trigger.emulate {final}
"""
    rtl_info = r.get("rtl")
    if rtl_info:
        text += f"""
## rtl/: pipelined Verilog ({rtl_info['latency_cycles']} cycles, II = 1)

- `aa_trigger_score.v`: top module `aa_trigger_score` (ports `clk`, `in_0`..`in_{r['n_features'] - 1}`, `score`;
  the score is `score * 2^-{rtl_info['output_frac']}`), `{rtl_info['adder_levels_per_stage']}` adder levels per stage;
  `design.json` describes it. Timing closure is not verified: run Vivado on it.
- `constraints.xdc`, `build_vivado.tcl`: out-of-context synthesis, place and route with reports
  (`vivado -mode batch -source build_vivado.tcl`).
- `tb_aa_trigger_score.v` with `tb_inputs.mem` / `tb_expected.mem`: a self-checking test bench of
  real test events for any simulator (`iverilog -o tb tb_aa_trigger_score.v aa_trigger_score.v && vvp tb`,
  or Vivado xsim).
- `harness.cpp`: the Verilator harness `python -m aa_trigger.emulate {final}` builds.
"""
    return text
