"""The benchmark job: events/s of every emulator of one deployable graph, checked bit for bit."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from aa_trigger.errors import AATriggerError

Progress = Callable[[str], None]


@dataclass
class Timing:
    name: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


@dataclass
class BenchmarkResult:
    run: str
    score: str
    events: int
    timings: list[Timing] = field(default_factory=list)
    convert_s: float = 0.0
    exact: dict[str, bool] = field(default_factory=dict)

    def markdown(self) -> str:
        lines = [f"Benchmark: encoder + {self.score} of {self.run}, {self.events} background events, "
                 f"{os.cpu_count()} CPU cores", "", "| emulator | events | seconds | events/s |", "|---|---|---|---|"]
        lines += [f"| {t.name} | {t.events} | {t.seconds:.2f} | {t.rate:,.0f} |" for t in self.timings]
        rate = {t.name: t.rate for t in self.timings}
        lines += ["", f"hls4ml convert + compile: {self.convert_s:.1f} s",
                  f"numpy emulator vs hls4ml predict: {rate['numpy fixed-point emulator'] / rate['hls4ml predict']:,.0f}x;"
                  f" vs QKeras predict: {rate['numpy fixed-point emulator'] / rate['QKeras predict (batch 16384)']:.1f}x",
                  "bit-exact with the numpy emulator: "
                  + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in self.exact.items())]
        return "\n".join(lines)


def _timed(result: BenchmarkResult, name: str, fn: Callable[[], Any], count: int, progress: Progress) -> Any:
    t = time.perf_counter()
    out = fn()
    result.timings.append(Timing(name, count, time.perf_counter() - t))
    progress(f"{name}: {result.timings[-1].rate:,.0f} events/s")
    return out


def run_benchmark(run_path: Path, score: str, n: int, n_hls: int, progress: Progress = lambda m: None
                  ) -> BenchmarkResult:
    """Score ``n`` built-in background events with every emulator (hls4ml ``predict()`` on ``n_hls``)."""
    from aa_trigger import runfolder
    from aa_trigger.data import generator, preprocess
    from aa_trigger.firmware import emulator
    from aa_trigger.firmware.graph import build_graph
    from aa_trigger.firmware.hls import csim, writer
    from aa_trigger.firmware.keras_model import keras_model, keras_scores
    from aa_trigger.firmware.parts import resolve_part

    if n < 1 or not 1 <= n_hls <= n:
        raise AATriggerError(f"--events must be positive and --hls-events between 1 and --events, got {n}, {n_hls}")
    run = runfolder.load_run(run_path)
    graph = build_graph(run.aa, run.scaler.input_type, score)
    frac = graph.input_type.frac
    x_int = run.scaler.transform_int(preprocess.to_hardware(generator.generate_sample("background", n, seed=12345)))
    res = BenchmarkResult(str(run_path), score, n)
    emu = _timed(res, "numpy fixed-point emulator", lambda: emulator.score(graph, x_int), n, progress)
    model = keras_model(graph)
    keras_scores(model, x_int[:1000], frac)  # warm-up (graph tracing)
    q = _timed(res, "QKeras predict (batch 16384)", lambda: keras_scores(model, x_int, frac), n, progress)
    part = resolve_part("xcvu9p")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        settings = writer.HLSSettings(part.full, "Vitis", 200.0, 1, "Latency", "io_parallel")
        hls_model = writer.write_project(model, graph, settings, Path(tmp) / "prj", x_int * 2.0**-frac, emu)
        res.convert_s = time.perf_counter() - t
        h = _timed(res, "hls4ml predict", lambda: writer.predict(hls_model, x_int[:n_hls] * 2.0**-frac), n_hls, progress)
        cs = _timed(res, "g++ C simulation (build + run)", lambda: csim.csim(Path(tmp) / "prj"), n, progress)
        res.exact = {"QKeras": np.array_equal(q, emu), "hls4ml": np.array_equal(h, emu[:n_hls]),
                     "csim": np.array_equal(cs, emu)}
        if shutil.which("verilator"):
            res.exact["Verilator"] = _rtl(res, graph, part, x_int, emu, Path(tmp) / "rtl")
    return res


def _rtl(res: BenchmarkResult, graph: Any, part: Any, x_int: np.ndarray, emu: np.ndarray, folder: Path) -> bool:
    from aa_trigger.firmware.rtl import project, tools, verilog

    design = verilog.generate(graph, verilog.levels_per_stage(200.0))
    project.write_project(folder, design, part.full, 200.0)
    t = time.perf_counter()
    tools.build_verilator(folder)
    build_s = time.perf_counter() - t
    out, rate = tools.simulate(folder, design, x_int)
    res.timings.append(Timing(f"Verilator RTL simulation (run only; build {build_s:.0f} s)", len(x_int),
                              len(x_int) / rate))
    return bool(np.array_equal(out, emu))


@dataclass
class ScanBenchmark:
    trials: int
    trial_s: dict[int, float] = field(default_factory=dict)  # workers -> mean seconds inside run_trial
    wall_s: dict[int, float] = field(default_factory=dict)  # workers -> wall seconds of the scan
    plain_s: dict[int, float] = field(default_factory=dict)  # processes -> wall seconds without any engine

    def markdown(self) -> str:
        lines = [f"Scan engine benchmark: {self.trials} tiny single-threaded trials per run", "",
                 "| workers | wall s | trials/hour | mean s inside a trial | engine overhead per trial |",
                 "|---|---|---|---|---|"]
        for k, wall in self.wall_s.items():
            inside = self.trial_s[k]
            over = wall * k / self.trials - inside
            lines.append(f"| {k} | {wall:.1f} | {3600 * self.trials / wall:,.0f} | {inside:.1f} | {over:.1f} s "
                         f"({100 * over / inside:.0f}% of a trial) |")
        if 1 in self.wall_s and 2 in self.wall_s:
            lines += ["", f"throughput with 2 workers: {self.wall_s[1] / self.wall_s[2]:.2f}x one worker"]
        if 1 in self.plain_s and 2 in self.plain_s:
            lines += [f"the same trials in 1 and 2 plain Python processes, no engine: {self.plain_s[1]:.1f} s and "
                      f"{self.plain_s[2]:.1f} s, {self.plain_s[1] / self.plain_s[2]:.2f}x (this machine's ceiling "
                      "for two concurrent trials)"]
        return "\n".join(lines)


def run_scan_benchmark(n_trials: int, folder: Path, progress: Progress = lambda m: None) -> ScanBenchmark:
    """The same grid of tiny single-threaded trials with 1 and with 2 Dask workers, each in a new study."""
    from aa_trigger.config import TrainConfig
    from aa_trigger.scans import engine
    from aa_trigger.scans.space import parse_grid

    if n_trials < 2:
        raise AATriggerError(f"--scan-trials must be at least 2, got {n_trials}")
    base = TrainConfig(n_background_train=20_000, n_background_test=20_000, n_signal=4_000, n_finetune=1_000,
                       epochs_pretrain=3, epochs_finetune=2, epochs_surrogate=1, batch_size=512,
                       signals=["Ato4l", "leptoquark"], cache_dir=str(folder / "cache"), rate_khz=[100.0])
    from aa_trigger.data.dataset import load_dataset

    load_dataset(base)
    space = parse_grid([], seeds=n_trials)
    result = ScanBenchmark(n_trials)
    for workers in (1, 2):
        settings = engine.EngineSettings(folder / f"w{workers}", workers=workers)
        settings.folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        study = engine.run_scan(base, space, settings, progress)
        result.wall_s[workers] = time.perf_counter() - t
        secs = [t.user_attrs["result"]["seconds"] for t in study.get_trials(deepcopy=False) if "result" in t.user_attrs]
        result.trial_s[workers] = float(np.mean(secs))
    for processes in (1, 2):
        result.plain_s[processes] = _plain_processes(base, n_trials, processes)
    return result


_PLAIN = """
import json, sys
from dataclasses import replace
from aa_trigger.config import TrainConfig
from aa_trigger.scans.trial import run_trial
base = TrainConfig(**json.loads(sys.argv[1]))
for seed in json.loads(sys.argv[2]):
    run_trial(replace(base, seed=seed), base)
"""


def _plain_processes(base: Any, n_trials: int, processes: int) -> float:
    """Wall seconds of the trials split over ``processes`` concurrent Python processes, without Dask or
    Optuna: what the machine itself gives (a measurement, not a way to run scans)."""
    import json
    import subprocess
    import sys

    seeds = [list(range(n_trials))[i::processes] for i in range(processes)]
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", _PLAIN, json.dumps(base.to_dict()), json.dumps(s)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for s in seeds]
    errors = [p.communicate()[1] for p in procs]
    if any(p.returncode for p in procs):
        raise AATriggerError("plain trial process failed: " + next(e for e, p in zip(errors, procs) if p.returncode)
                             .decode(errors="replace").strip().splitlines()[-1])
    return time.perf_counter() - t


def _designs(path: Path) -> list[tuple[str, Any]]:
    """(name, graph) of every deployable design of a run folder, or of a scan trial's graphs file."""
    from aa_trigger import runfolder
    from aa_trigger.firmware.graph import build_graph, graph_from_dict
    from aa_trigger.jsonio import read_json
    from aa_trigger.model.vae import available_scores

    if path.is_file():
        graphs = read_json(path)
        if not isinstance(graphs, dict):
            raise AATriggerError(f"{path}: expected a scan trial's graphs (a JSON object by score)")
        return [(f"{path.parent.parent.name}-{path.stem}-{score}", graph_from_dict(g, path))
                for score, g in graphs.items()]
    run = runfolder.load_run(path)
    return [(f"{path.name}-{score}", build_graph(run.aa, run.scaler.input_type, score))
            for score in available_scores(run.aa)]


def calibrate_luts(paths: list[Path], clock_mhz: float = 240.0, progress: Progress = lambda m: None
                   ) -> tuple[list[dict[str, Any]], tuple[float, float]]:
    """yosys LUTs of every deployable design of run folders (or scan trials' ``graphs/trial-N.json``)
    against the graph's adders; returns the rows and the least-squares (LUTs per adder output bit,
    LUTs per adder), a plane through the origin."""
    from aa_trigger.firmware.rtl.estimate import synthesise

    rows = []
    for path in paths:
        for name, graph in _designs(Path(path)):
            design, res = synthesise(graph, clock_mhz)
            bits = graph.dense[0].kernel_q.bits
            rows.append({"design": name, "bits": bits, "adders": design.adders, "adder_bits": design.adder_bits,
                         "register_bits": design.register_bits, "LUT": res.counts["LUT"], "FF": res.counts["FF"],
                         "DSP": res.counts.get("DSP", 0), "stages": design.latency_cycles, "depth": design.depth,
                         "logic_depth": res.logic_depth_cells})
            progress(f"{name}: {rows[-1]}")
    a = np.array([[r["adder_bits"], r["adders"]] for r in rows], float)
    luts = np.array([r["LUT"] for r in rows], float)
    coef = np.linalg.lstsq(a, luts, rcond=None)[0] if len(rows) >= 2 else np.array([luts[0] / a[0, 0], 0.0])
    return rows, (float(coef[0]), float(coef[1]))


def compare_cmvm(paths: list[Path], progress: Progress = lambda m: None) -> list[dict[str, Any]]:
    """The constant matrix products of every dense layer of the designs of run folders (or scan trials'
    ``graphs/trial-N.json``), solved by the project's netlist (CSD digits, greedy two-term sharing that never
    deepens the product) and by da4ml's CMVM solver (``solve``, no depth constraint and ``hard_dc=0``, minimal
    depth), on the same integer kernels and input intervals: two-input adders, adder depth (unit delay per
    adder) and solve time. Each da4ml solution is checked to compute ``x @ kernel`` on random inputs."""
    from da4ml.cmvm import QInterval, solve

    from aa_trigger.firmware.graph import Dense, input_intervals
    from aa_trigger.firmware.rtl.netlist import Pipeline, Value

    rows = []
    for path in paths:
        done = set()  # the scores of one design share the encoder's layers: each layer once
        for name, graph in _designs(Path(path)):
            for node, (lo, hi, _) in zip(graph.nodes, input_intervals(graph)):
                if not isinstance(node, Dense) or node.name in done:
                    continue
                done.add(node.name)
                kernel = node.kernel
                t = time.perf_counter()
                pipe = Pipeline(10**6)
                xs = [Value(f"x{i}", lo, hi, 0) for i in range(kernel.shape[0])]
                accs = pipe.constant_products(node.name, xs, kernel.tolist(), [0] * kernel.shape[1])
                ours_s = time.perf_counter() - t
                row = {"design": name, "layer": node.name, "shape": f"{kernel.shape[0]}x{kernel.shape[1]}",
                       "nonzero": int(np.count_nonzero(kernel)), "ours_adders": pipe.adders,
                       "ours_depth": max((a.level for a in accs), default=0), "ours_s": ours_s}
                rng = np.random.default_rng(0)
                x = rng.integers(lo, hi + 1, (20, kernel.shape[0]))
                for label, dc in (("da4ml", -1), ("da4ml_dc0", 0)):
                    t = time.perf_counter()
                    sol = solve(kernel.astype(np.float64), qintervals=[QInterval(float(lo), float(hi), 1.0)]
                                * kernel.shape[0], hard_dc=dc)
                    row[f"{label}_s"] = time.perf_counter() - t
                    ops = [op for s in sol.solutions for op in s.ops]
                    row[f"{label}_adders"] = sum(op.opcode in (0, 1) for op in ops)
                    row[f"{label}_depth"] = int(sol.latency[1])
                    got = np.array([np.asarray(sol(v.astype(np.float64)), np.float64) for v in x])
                    if not np.array_equal(got, (x @ kernel).astype(np.float64)):
                        raise AATriggerError(f"{name} {node.name}: da4ml's solution does not compute x @ kernel")
                rows.append(row)
                progress(f"{name} {node.name}: {row}")
    return rows


def cmvm_markdown(rows: list[dict[str, Any]]) -> str:
    head = ("| design | layer | kernel | non-zero | ours: adders | depth | s | da4ml: adders | depth | s | "
            "da4ml hard_dc=0: adders | depth | s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['design']} | {r['layer']} | {r['shape']} | {r['nonzero']} | {r['ours_adders']} | {r['ours_depth']} | "
        f"{r['ours_s']:.2f} | {r['da4ml_adders']} | {r['da4ml_depth']} | {r['da4ml_s']:.2f} | "
        f"{r['da4ml_dc0_adders']} | {r['da4ml_dc0_depth']} | {r['da4ml_dc0_s']:.2f} |\n" for r in rows)
    tot = {k: sum(r[k] for r in rows) for k in ("ours_adders", "da4ml_adders", "da4ml_dc0_adders")}
    return head + body + (f"\nTotal adders: ours {tot['ours_adders']}, da4ml {tot['da4ml_adders']}, "
                          f"da4ml hard_dc=0 {tot['da4ml_dc0_adders']}.\n")
