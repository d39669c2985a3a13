"""Server side of the case viewer: the time of a page rerun on a lead-time move, of opening another run, and the
size of each chart sent.

    python -m app.bench [--moves 10] [--switches 3] [--run YYYYMMDDHH] [--json]
    python -m app.bench --page verification [--json]

Runs the viewer headless (Streamlit's AppTest, no browser) on PRECIP_DATA (default: the demo archive). Reports the
first view (a fresh process: imports and cold caches; whether it loaded the network, i.e. post-processed a run the
prediction cache did not hold), the median rerun of a lead-time move, the median time to open a run not opened
before (reading it, from the prediction cache where it holds the run) and each chart's spec size in KB, the bytes a
browser decodes and draws for that chart. What the browser then does with them is ``python -m app.loadtest``'s to
measure. ``--page`` times another page's first view (reading and scoring every run) and its rerun.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.server import ROOT
from engine.cli import at_least_one

PAGES = ("verification", "case_library", "model_card")


def page_view(page: str) -> dict:
    """A page other than the viewer, in a fresh process: its first view and a rerun (from the caches)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=900).switch_page(f"views/{page}.py")
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        if at.exception:
            raise SystemExit(f"the {page} page failed: {at.exception[0].value}")
    return {"page": page, "first_view_s": round(times[0], 3), "rerun_s": round(times[1], 3)}


def run(moves: int = 10, run_name: str | None = None, switches: int = 3) -> dict:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=600)
    if run_name:
        at.query_params["run"] = run_name
    t0 = time.perf_counter()
    at.run()
    first_view = time.perf_counter() - t0
    network_loaded = "torch" in sys.modules  # a run not in the prediction cache had to be post-processed
    if at.exception:
        raise SystemExit(f"the viewer failed: {at.exception[0].value}")
    slider = at.select_slider(key="lead")
    leads = [int(lead) for lead in slider.options]  # AppTest gives the options as their labels
    start = leads.index(slider.value)
    steps = [leads[(start + k) % len(leads)] for k in range(1, moves + 2)]
    at.select_slider(key="lead").set_value(steps[0]).run()  # a first move warms the caches of the run
    times = []
    for lead in steps[1:]:
        t0 = time.perf_counter()
        at.select_slider(key="lead").set_value(lead).run()
        times.append(time.perf_counter() - t0)
    opened = at.selectbox(key="run").value
    others = [r for r in at.selectbox(key="run").options if r != opened][:switches]
    switch_times = []
    for other in others:
        t0 = time.perf_counter()
        at.selectbox(key="run").set_value(other).run()
        switch_times.append(time.perf_counter() - t0)
    at.selectbox(key="run").set_value(opened).run()  # its charts, as measured
    charts = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = str(spec["layout"].get("title", {}).get("text", "")).replace("<br>", " ")
        charts[title] = round(len(chart.proto.spec) / 1e3)
    return {
        "run": opened,
        "first_view_s": round(first_view, 3),
        "first_view_loaded_network": network_loaded,
        "moves": len(times),
        "rerun_median_s": round(statistics.median(times), 3),
        "rerun_max_s": round(max(times), 3),
        "run_switches": len(switch_times),
        "run_switch_median_s": round(statistics.median(switch_times), 3) if switch_times else None,
        "charts_kb": charts,
        "total_kb": sum(charts.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m app.bench", description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--moves", type=at_least_one, default=10, help="lead-time steps timed (default 10)")
    parser.add_argument("--switches", type=int, default=3, help="other runs opened and timed (default 3)")
    parser.add_argument("--run", help="the run to open (default: the newest)")
    parser.add_argument("--page", choices=PAGES, help="time this page's first view and rerun instead")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    if args.page:
        result = page_view(args.page)
        print(
            json.dumps(result, indent=2)
            if args.json
            else f"{args.page}: first view {result['first_view_s']} s "
            f"(imports, reading and scoring every run), rerun {result['rerun_s']} s"
        )
        return
    result = run(args.moves, args.run, args.switches)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    how = "the network loaded" if result["first_view_loaded_network"] else "the run read from the prediction cache"
    print(f"first view {result['first_view_s']} s (imports and cold caches; {how})")
    print(
        f"run {result['run']}: {result['moves']} lead moves, rerun median {result['rerun_median_s']} s, "
        f"max {result['rerun_max_s']} s"
    )
    if result["run_switches"]:
        print(f"{result['run_switches']} other runs opened, median {result['run_switch_median_s']} s each")
    for title, kb in result["charts_kb"].items():
        print(f"{kb:6d} KB  {title}")
    print(f"{result['total_kb']:6d} KB  all charts")


if __name__ == "__main__":
    main()
