"""``--estimate yosys``: synthesise the Verilog of the Pareto configurations with yosys (out of context),
beside the linear LUT estimate every trial gets. One trial per configuration (the seed whose LUT estimate
is the median of its seeds); results are kept in ``yosys/`` of the scan folder and never redone."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

Progress = Callable[[str], None]


def pareto_trials(rows: list[dict[str, Any]], dims: list[str], score: str) -> dict[int, dict[str, Any]]:
    """Trial number -> its configuration, one trial per Pareto configuration of :func:`results.overview`."""
    from aa_trigger.scans.results import overview

    _, table, _, front = overview(rows, dims, score)
    keys = [d for d in dims if d != "seed"]
    picks = {}
    for i in sorted(front):
        config = {k: table[i][k] for k in keys}
        members = [r for r in rows if r["state"] == "COMPLETE" and all(r.get(k) == v for k, v in config.items())
                   and not math.isnan(r.get(f"{score}.lut_estimate", math.nan))]
        members.sort(key=lambda r: (r[f"{score}.lut_estimate"], r["trial"]))
        if members:
            picks[members[(len(members) - 1) // 2]["trial"]] = config
    return picks


def yosys_task(graph: dict[str, Any], clock_mhz: float, part: str) -> dict[str, Any]:
    """Runs in a Dask worker: the graph's Verilog through yosys."""
    from aa_trigger.firmware.graph import graph_from_dict
    from aa_trigger.firmware.rtl.estimate import synthesise

    design, res = synthesise(graph_from_dict(graph), clock_mhz, part)
    return {**{k.lower(): v for k, v in res.counts.items()}, "logic_depth": res.logic_depth_cells,
            "adder_bits": design.adder_bits, "seconds": res.seconds, "how": res.how}


def synthesise_front(folder: Path, rows: list[dict[str, Any]], dims: list[str], score: str, client: Any,
                     clock_mhz: float, part: str, progress: Progress) -> dict[int, dict[str, Any]]:
    """yosys results of the Pareto trials (cached in ``folder/yosys``), by trial number."""
    from aa_trigger.errors import AATriggerError
    from aa_trigger.jsonio import read_json, write_json
    from aa_trigger.scans.engine import graph_file

    out, todo = {}, []
    for number in pareto_trials(rows, dims, score):
        cached = folder / "yosys" / f"trial-{number}-{score}.json"
        if cached.is_file():
            out[number] = read_json(cached)
            continue
        graphs = read_json(graph_file(folder, number))
        if not isinstance(graphs, dict) or score not in graphs:
            raise AATriggerError(f"{graph_file(folder, number)}: no {score} graph")
        todo.append((number, cached, graphs[score]))
    if todo:
        progress(f"yosys: synthesising {len(todo)} Pareto trial(s) (minutes each)")
        futures = client.map(yosys_task, [g for _, _, g in todo], clock_mhz=clock_mhz, part=part, pure=False)
        for (number, cached, _), fut in zip(todo, futures):
            out[number] = fut.result()
            cached.parent.mkdir(exist_ok=True)
            tmp = cached.with_name(f".{cached.name}.tmp")
            write_json(tmp, out[number])
            tmp.replace(cached)
            progress(f"yosys: trial #{number}: {out[number]['lut']} LUT, {out[number]['ff']} FF, "
                     f"{out[number]['dsp']} DSP")
    return out
