"""``python -m aa_trigger.benchmark``: events/s of the emulators of one deployable graph.

Scores the same events (hardware-scaled built-in background) with the numpy fixed-point
emulator, QKeras ``predict()``, hls4ml ``predict()``, the g++ C simulation and (when Verilator is
installed) the RTL simulation at 200 MHz, checks that they agree bit for bit, and prints a
Markdown table. Also times hls4ml convert + compile.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def rtl_available() -> bool:
    import shutil

    return shutil.which("verilator") is not None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aa_trigger.benchmark", description=__doc__.split("\n\n")[1])
    p.add_argument("--run", default="", help="run folder (default: the newest under models/)")
    p.add_argument("--score", default="mu2", choices=["mu2", "surrogate"], help="deployed score (default: mu2)")
    p.add_argument("--events", type=int, default=100_000, help="events per emulator (default: 100000)")
    p.add_argument("--hls-events", type=int, default=0,
                   help="events for hls4ml predict(), which is slow (default: same as --events)")
    a = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    warnings.filterwarnings("ignore")
    import numpy as np

    from aa_trigger import deploy, fixedpoint, generator, hls, preprocess, runfolder
    from aa_trigger.conversion import newest_run
    from aa_trigger.errors import AATriggerError

    try:
        run = runfolder.load_run(Path(a.run) if a.run else newest_run())
        graph = deploy.fixed_graph(run, a.score)
    except AATriggerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n = a.events
    ev = generator.generate_sample("background", n, seed=12345)
    x_int = run.scaler.transform_int(preprocess.to_hardware(ev))
    x = x_int * 2.0 ** -run.scaler.frac_bits
    rows = []

    def timed(name, fn, count):
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        rows.append((name, count, dt, count / dt))
        print(f"{name}: {count / dt:,.0f} events/s", file=sys.stderr)
        return out

    emu = timed("numpy fixed-point emulator", lambda: fixedpoint.score(graph, x_int), n)
    model = deploy.build_keras_model(run, a.score)
    model.predict(x[:1000].astype(np.float32), verbose=0)  # warm-up (graph tracing)
    q = timed("QKeras predict (batch 16384)",
              lambda: model.predict(x.astype(np.float32), batch_size=16384, verbose=0)[:, 0], n)
    n_hls = a.hls_events or n
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        hls_model = hls.convert(model, graph, hls.HLSSettings(hls.resolve_part("xcvu9p")), Path(tmp) / "prj",
                                x, emu)
        convert_s = time.perf_counter() - t
        h = timed("hls4ml predict", lambda: hls.predict(hls_model, x[:n_hls]), n_hls)
        t = time.perf_counter()
        cs = hls.csim(Path(tmp) / "prj")
        rows.append(("g++ C simulation (build + run)", n, time.perf_counter() - t, n / (time.perf_counter() - t)))
        rtl_out = None
        if rtl_available():
            from aa_trigger import rtl

            design = rtl.generate(graph, rtl.levels_per_stage(200.0))
            rtl.write_project(Path(tmp) / "rtl", design, hls.resolve_part("xcvu9p"), 200.0)
            t = time.perf_counter()
            rtl.build_verilator(Path(tmp) / "rtl")
            build_s = time.perf_counter() - t
            rtl_out, rate = rtl.simulate(Path(tmp) / "rtl", design, x_int)
            rows.append((f"Verilator RTL simulation (run only; build {build_s:.0f} s)", n, n / rate, rate))
    exact = {"QKeras": np.array_equal(q, emu), "hls4ml": np.array_equal(h, emu[:n_hls]), "csim": np.array_equal(cs, emu)}
    if rtl_out is not None:
        exact["Verilator"] = np.array_equal(rtl_out, emu)
    print(f"Benchmark: encoder + {a.score} of {run.path}, {n} background events, {os.cpu_count()} CPU cores\n")
    print("| emulator | events | seconds | events/s |\n|---|---|---|---|")
    for name, count, dt, rate in rows:
        print(f"| {name} | {count} | {dt:.2f} | {rate:,.0f} |")
    print(f"\nhls4ml convert + compile: {convert_s:.1f} s")
    ratio_hls = rows[0][3] / rows[2][3]
    ratio_q = rows[0][3] / rows[1][3]
    print(f"numpy emulator vs hls4ml predict: {ratio_hls:,.0f}x; vs QKeras predict: {ratio_q:.1f}x")
    print("bit-exact with the numpy emulator: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in exact.items()))
    return 0 if all(exact.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
