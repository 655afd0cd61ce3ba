"""The convert job: run folder -> graph -> back ends -> exact comparison -> report, in one folder."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from aa_trigger import __version__, runfolder
from aa_trigger.config import BX_RATES_MHZ, ConvertConfig, check_rates
from aa_trigger.data.preprocess import HardwareScaler
from aa_trigger.errors import AATriggerError
from aa_trigger.evaluation import metrics
from aa_trigger.evaluation.evaluate import mean_unseen_auc
from aa_trigger.evaluation.metrics import WorkingPoint, working_points
from aa_trigger.firmware import emulator, graph as fgraph
from aa_trigger.firmware.backend import Backend, Emulation, Events
from aa_trigger.firmware.compare import Comparison, compare
from aa_trigger.firmware.parts import Part, resolve_part
from aa_trigger.firmware.report import ConvertReport, SignalMetrics, Threshold, budgets, project_readme, render_markdown
from aa_trigger.jsonio import write_json
from aa_trigger.outputs import PROJECT_MARKER, atomic_folder, check_writable, ensure_free
from aa_trigger.model.vae import available_scores

Progress = Callable[[str], None]
PROJECT_FORMAT = 2


def newest_run(root: Path = Path("models")) -> Path:
    runs = [p for p in root.glob("*") if (p / "provenance.json").is_file()] if root.is_dir() else []
    if not runs:
        raise AATriggerError(f"no run folder under {root}/; train one with `python -m aa_trigger.train` "
                             "or pass --run")
    return max(runs, key=lambda p: (p / "provenance.json").stat().st_mtime)


def choose_score(run: runfolder.Run, score: str, scan: str = "") -> tuple[str, str]:
    """Resolve ``auto`` to a deployable score by the run's metrics after AA, as the AA study chose: the higher
    mean efficiency over the signals unseen in fine-tuning at the first trigger rate the background resolves
    (trigger data), else the higher mean unseen AUC (tables, images); with ``scan``, the same over the scan's
    seeds."""
    if score != "auto":
        if scan:
            raise AATriggerError("--score-from needs --score auto")
        return score, "chosen with --score"
    if scan:
        from aa_trigger.scans.choice import score_from_scan

        return score_from_scan(Path(scan), run.config, available_scores(run.aa))
    if run.metrics is None:
        return "mu2", "default (the run has no metrics.json)"
    after = run.metrics["aa"]
    scores = [s for s in available_scores(run.aa)
              if all(s in r["scores"] for r in after.values())]  # older runs: no wmu2 metrics
    unseen = [r for r in after.values() if not r["used_in_finetuning"]]
    rates = [k for k in next(iter(after.values()))["scores"][scores[0]] if k.startswith("tpr_")
             and not k.startswith("tpr_fpr_") and not k.endswith("_err")]
    rate = next((k for k in rates if unseen and all(np.isfinite(r["scores"][s][k]) for r in unseen for s in scores)),
                None)
    aucs = {s: mean_unseen_auc(after, s) for s in scores}
    effs = {s: float(np.mean([r["scores"][s][rate] for r in unseen])) if rate else float("nan") for s in scores}
    best = max(scores, key=lambda s: (np.nan_to_num(effs[s], nan=-1.0), np.nan_to_num(aucs[s], nan=-1.0), s == "mu2"))
    if rate:
        return best, f"auto: higher mean efficiency at {rate[4:]} on signals unseen in fine-tuning (" + \
            ", ".join(f"{k} {100 * v:.2f}%" for k, v in effs.items()) + "; one seed: --score-from SCAN chooses over seeds)"
    return best, "auto: higher mean AUC on signals unseen in fine-tuning (" + \
        ", ".join(f"{k} {v:.4f}" for k, v in aucs.items()) + ")"


def check_output(out: Path, run_path: Path, force: bool) -> None:
    """The project folder may not be, hold or sit inside the run folder; free (or one project with
    ``force``) and writable, all before any work."""
    o, r = out.resolve(), run_path.resolve()
    if o == r or r in o.parents or o in r.parents:
        raise AATriggerError(f"--output {out} overlaps the run folder {run_path}; write the project elsewhere")
    ensure_free(out, force, PROJECT_MARKER)
    check_writable(out)


def make_backends(cfg: ConvertConfig, part: Part) -> list[Backend]:
    """The chosen back ends, in the order given (hls4ml is imported only when an HLS one is chosen)."""
    out: list[Backend] = []
    for name in cfg.backend:
        if name == "rtl":
            from aa_trigger.firmware.rtl.backend import RTLBackend

            out.append(RTLBackend(part, cfg.clock_mhz, cfg.adder_levels, cfg.estimate, cfg.latency_target_ns))
        elif name == "cmssw":
            from aa_trigger.firmware.cmssw.backend import CMSSWBackend

            out.append(CMSSWBackend(cfg.emulator_name, cfg.emulator_version, cfg.clock_mhz))
        else:
            from aa_trigger.config import BACKENDS
            from aa_trigger.firmware.hls.backend import HLSBackend
            from aa_trigger.firmware.hls.writer import HLSSettings

            settings = HLSSettings(part.full, BACKENDS[name], cfg.clock_mhz, cfg.reuse_factor, cfg.strategy,
                                   cfg.io_type)
            out.append(HLSBackend(settings, cfg.n_hls, not cfg.no_csim))
    for b in out:
        b.check()
    return out


def run_test_events(run: runfolder.Run, progress: Progress, raw: bool = False
                    ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, dict[str, int]]]:
    """The run's test events as firmware input integers (``raw``: the raw integers before the scaling),
    rebuilt from its data and checked against it, and the input values saturated per test split and feature."""
    from aa_trigger.data.dataset import load_dataset

    data = load_dataset(runfolder.train_config(run.config, run.path / "config.json"), progress, keep_raw=raw)
    if data.scaler.to_dict() != run.scaler.to_dict():
        raise AATriggerError(f"the data found for run {run.path} no longer match its preprocessing "
                             "(preprocessing.json); was the data set changed?")
    saturated = {k: v for k, v in data.saturated.items() if k == "test" or k in data.int_signals_test}
    if raw:
        assert data.raw_test is not None and data.raw_signals_test is not None
        t = fgraph.RAW_INPUT_TYPE
        for name, x in [("background", data.raw_test), *data.raw_signals_test.items()]:
            if len(x) and (x.min() < t.int_min or x.max() > t.int_max):
                raise AATriggerError(f"--raw-input: {name} has raw values outside {t.hls()} "
                                     f"({int(x.min())} to {int(x.max())})")
        return data.raw_test, data.raw_signals_test, saturated
    return data.int_test, data.int_signals_test, saturated


def events_for(graph: fgraph.FixedGraph, bg: np.ndarray, sig: dict[str, np.ndarray], n_hls: int,
               n_tb: int) -> Events:
    """All test events with their exact scores; the sample is background first, then every signal."""
    x = np.concatenate([bg, *sig.values()])
    expected = emulator.score(graph, x)
    expected_int = np.rint(expected * 2.0 ** fgraph.intervals(graph)[-1][2]).astype(np.int64)  # exact: < 2^53
    ends = _ends(bg, sig)
    per_signal = max(1, n_hls // (2 * len(sig)))
    sample = np.concatenate([np.arange(min(ends[0], n_hls // 2))]
                            + [np.arange(a, min(a + per_signal, b)) for a, b in zip(ends[:-1], ends[1:])])
    return Events(x, expected, expected_int, sample, min(n_tb, len(sample)), ends)


def _metrics(bg: np.ndarray, sig: dict[str, np.ndarray], points: list[WorkingPoint]) -> dict[str, SignalMetrics]:
    return {s: SignalMetrics(metrics.auc(bg, v), {p.label: metrics.tpr_at_fpr(bg, v, p.fpr) for p in points})
            for s, v in sig.items()}


def working_points_of(cfg: ConvertConfig, run: runfolder.Run) -> tuple[list[WorkingPoint], float]:
    """The working points given, else the run's (format-1 runs: FPR 1e-5 and their rates)."""
    bx_mhz = cfg.bx_mhz or run.config["bx_mhz"]
    rates = cfg.rate_khz or list(run.config["rate_khz"])
    check_rates(rates, bx_mhz)
    bx_khz = BX_RATES_MHZ[bx_mhz] * 1000.0
    return working_points(cfg.fpr or list(run.config.get("fpr", [1e-5])), rates, bx_khz), bx_khz


def thresholds(bg: np.ndarray, frac: int, points: list[WorkingPoint], bx_khz: float) -> list[Threshold]:
    """Score cuts of the firmware (accept strictly above) at every working point."""
    out = []
    for p in points:
        thr = metrics.threshold_at_fpr(bg, p.fpr)
        t = Threshold(p.label, p.fpr, thr)
        if not np.isnan(thr):
            t.threshold_int = int(round(thr * 2**frac))
            t.background_rate_khz = float(np.mean(bg > thr) * bx_khz)
        else:
            t.note = f"needs at least {p.min_background} background events, have {len(bg)}"
        out.append(t)
    return out


def _ends(bg: np.ndarray, sig: dict[str, np.ndarray]) -> np.ndarray:
    """Where the background and each signal end in the concatenated events."""
    return np.cumsum([len(bg), *map(len, sig.values())])


def _split(scores: np.ndarray, bg: np.ndarray, sig: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    ends = _ends(bg, sig)
    return scores[: ends[0]], {k: scores[a:b] for k, a, b in zip(sig, ends[:-1], ends[1:])}


def reference_scores(graph: fgraph.FixedGraph, events: Events, progress: Progress,
                     parts: Any = None) -> dict[str, np.ndarray]:
    """Float reference and the trained model's own quantised scores of every event (the numpy emulator's are in
    ``events``): QKeras, or for an HGQ model HGQ's own bit-accurate proxy model (``hgq_proxy``)."""
    from aa_trigger.firmware.keras_model import float_reference, keras_model, keras_scores

    hgq_run = parts is not None and parts.config.hgq
    progress(f"scoring {len(events.x_int)} events with the float reference, {'HGQ' if hgq_run else 'QKeras'} and "
             "the numpy emulator")
    net, x = emulator.network_inputs(graph, events.x_int)  # QKeras starts after the input scaling
    frac = net.input_type.frac
    if hgq_run:
        from aa_trigger.model import hgq

        return {"float_reference": float_reference(net, x, frac),
                "hgq_proxy": hgq.proxy_scores(parts, graph.score, x * 2.0**-frac)}
    return {"float_reference": float_reference(net, x, frac), "qkeras": keras_scores(keras_model(net), x, frac)}


def cross_checks(events: Events, emulations: list[tuple[Backend, Emulation]], model: str,
                 scores: np.ndarray) -> list[Comparison]:
    """Every emulator against the numpy emulator (first the trained model's own quantised scores, ``model``);
    the first emulators of two back ends against each other."""
    checks = [compare("numpy", events.expected, model, scores)]
    checks += [compare("numpy", events.expected[e.events], e.name, e.scores) for _, e in emulations]
    firsts = [e for i, (b, e) in enumerate(emulations) if i == 0 or emulations[i - 1][0] is not b]
    for a, b in zip(firsts, firsts[1:]):
        _, ia, ib = np.intersect1d(a.events, b.events, return_indices=True)
        checks.append(compare(a.name, a.scores[ia], b.name, b.scores[ib]))
    return checks


def run_convert(cfg: ConvertConfig, progress: Progress = lambda m: None) -> ConvertReport:
    """Convert a run folder into a firmware project with a report; returns the report."""
    t0 = time.time()
    cfg.validate()
    part = resolve_part(cfg.part)
    backends = make_backends(cfg, part)
    run_path = Path(cfg.run) if cfg.run else newest_run()
    out = Path(cfg.output) if cfg.output else Path("firmware") / run_path.name
    check_output(out, run_path, cfg.force)
    run = runfolder.load_run(run_path)
    working_points_of(cfg, run)  # a bad rate fails before any work
    score, why = choose_score(run, cfg.score, cfg.score_from)
    graph = fgraph.build_graph(run.aa, run.scaler.input_type, score)
    if "cmssw" in cfg.backend and isinstance(run.scaler, HardwareScaler) and not cfg.raw_input:
        from dataclasses import replace

        cfg = replace(cfg, raw_input=True)  # the emulator takes what the Global Trigger delivers, as the firmware
        progress("--backend cmssw: the emulator library and the firmware take the raw object integers (--raw-input)")
    if cfg.raw_input:
        if not isinstance(run.scaler, HardwareScaler):
            raise AATriggerError("--raw-input needs a run with hardware input scaling (trigger data or images); "
                                 "this run's tables are standardised in float upstream of the firmware")
        graph = fgraph.with_scaling(graph, run.scaler.offset, run.scaler.shift)
    progress(f"run {run_path}: deploying encoder + {score} ({why}) to {part.full} with {', '.join(cfg.backend)}"
             + (", raw object integers in" if cfg.raw_input else ""))
    bg, sig, saturated = run_test_events(run, progress, cfg.raw_input)
    events = events_for(graph, bg, sig, cfg.n_hls, cfg.n_tb)
    refs = reference_scores(graph, events, progress, run.aa)
    model = next(k for k in refs if k != "float_reference")
    with atomic_folder(out, cfg.force, PROJECT_MARKER) as tmp:
        emulations = []
        for b in backends:
            b.write(graph, tmp, events, progress)
            emulations += [(b, e) for e in b.emulate(graph, tmp, events, progress)]
        checks = cross_checks(events, emulations, model, refs[model])
        designs = [b.describe(graph, tmp, out, progress) for b in backends]
        for b in backends:
            b.cleanup(tmp, out)
        report = _report(cfg, run, graph, why, part, events, refs, bg, sig, checks, designs, out)
        report.divergence = _diagnose(graph, events, emulations)
        report.input_saturation = saturated
        report.timings_s["total"] = time.time() - t0
        _write_project_files(tmp, run, graph, part, backends, report, cfg)
        if not report.all_bit_exact:
            bad = next(c for c in checks if not c.bit_exact)
            where = f"; first divergence at layer {report.divergence['layer']}" if report.divergence else ""
            raise AATriggerError(f"emulators disagree: {bad.a} vs {bad.b} equal on {bad.equal} of "
                                 f"{bad.events} events (e.g. {bad.examples[:1]}){where}")
    return report


def _diagnose(graph: fgraph.FixedGraph, events: Events, emulations: list[tuple[Backend, Emulation]]) -> dict | None:
    for b, e in emulations:
        bad = e.events[e.scores != events.expected[e.events]]
        if len(bad):
            return b.diagnose(graph, events, bad)
    return None


def _report(cfg: ConvertConfig, run: runfolder.Run, graph: fgraph.FixedGraph, why: str, part: Part, events: Events,
            refs: dict[str, np.ndarray], bg: np.ndarray, sig: dict[str, np.ndarray], checks: list[Comparison],
            designs: list, out: Path) -> ConvertReport:
    points, bx_khz = working_points_of(cfg, run)
    tables = {k: _metrics(*_split(v, bg, sig), points) for k, v in
              (*refs.items(), ("emulated_firmware", events.expected))}
    emu_bg, _ = _split(events.expected, bg, sig)
    frac = fgraph.intervals(graph)[-1][2]
    return ConvertReport(
        run=str(run.path), project=str(out), score=graph.score, score_choice=why, part=part.full,
        input_type=graph.input_type.hls(), score_type=fgraph.score_type(graph).hls(), score_frac_bits=frac,
        score_range_seen=[float(events.expected.min()), float(events.expected.max())],
        largest_intermediate_bits=fgraph.accumulator_bits(graph), n_features=graph.n_features,
        n_background_test=len(bg), n_signal_test={k: len(v) for k, v in sig.items()}, auc=tables, bit_exact=checks,
        thresholds=thresholds(emu_bg, frac, points, bx_khz), sample=_sample_note(events, cfg),
        designs=designs, budgets={d.backend: budgets(d) for d in designs},
        nonzero_weights={n.name: int(np.count_nonzero(n.kernel)) for n in graph.dense},
        options=cfg.to_dict(), aa_trigger_version=__version__)


def _sample_note(events: Events, cfg: ConvertConfig) -> str:
    """Which events the test benches (and hls4ml ``predict()``) check, and why that many."""
    n_bg = min(cfg.n_hls // 2, len(events.sample))
    hls = any(b in ("vitis", "vivado") for b in cfg.backend)
    return (f"Sample of {len(events.sample)} test events (--n-hls {cfg.n_hls}): the first {n_bg} background events "
            f"and {len(events.sample) - n_bg} signal events, up to {max(1, cfg.n_hls // (2 * max(1, len(events.ends) - 1)))} "
            f"of each signal; " + ("hls4ml predict() runs on all of them, " if hls else "")
            + f"the test benches hold the first {events.n_tb}")


def _write_project_files(tmp: Path, run: runfolder.Run, graph: fgraph.FixedGraph, part: Part,
                         backends: list[Backend], report: ConvertReport, cfg: ConvertConfig) -> None:
    scale, net = fgraph.split_scaling(graph)  # the network's input type: the HLS test bench's features
    write_json(tmp / "conversion.json", {
        "format": PROJECT_FORMAT, "run": str(run.path), "score": graph.score, "part": part.full,
        "folders": {b.name: b.folder for b in backends}, "input_type": net.input_type.hls(),
        "input_frac_bits": net.input_type.frac, "raw_input_type": graph.input_type.hls() if scale else None,
        "options": cfg.to_dict(), "scaler": run.scaler.to_dict()})
    write_json(tmp / "report.json", report)
    (tmp / "report.md").write_text(render_markdown(report))
    shutil.copy(run.path / "model.json", tmp / "model.json")
    (tmp / "README.md").write_text(project_readme(report))
