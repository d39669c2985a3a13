"""Load test: N browser sessions at once stepping the lead-time slider; reports re-render latencies and bytes.

    python -m app.loadtest --sessions 5 --moves 10 [--url http://127.0.0.1:8501]

Without --url it starts its own server on the demo archive. Needs Debian chromium (Playwright drives it).
Latency = from the key press to the page showing the new lead time with its script run finished, i.e. the maps
of that lead drawn (server run + transfer + browser render). Bytes = what the app's websocket sent the browser
for the move (Streamlit sends a large element the browser already holds as a hash, so unchanged maps cost little).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.server import serve
from engine.cli import at_least_one

# Streamlit marks its root element with the state of the session's script run.
IDLE = "document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state') === 'notRunning'"
# Every chart of the page drawn: as many laid out by plotly (their _fullLayout exists) as Streamlit placed.
DRAWN = (
    "(n => n > 0 && [...document.querySelectorAll('.js-plotly-plot')].filter(p => p._fullLayout).length >= n)"
    "(document.querySelectorAll('[data-testid=stPlotlyChart]').length)"
)


async def _session(browser, url: str, moves: int, out: list[float], sent: list[int]) -> None:
    # One context per session (its own cookies, as separate forecasters); poll on a timer because a page that is
    # not in front gets no animation frames, the default polling of wait_for_function.
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    received = 0

    def count(payload: str | bytes) -> None:
        nonlocal received
        received += len(payload)

    page.on("websocket", lambda ws: ws.on("framereceived", count))
    await page.goto(url, wait_until="networkidle", timeout=300_000)
    await page.wait_for_function("document.body.innerText.includes('lead ')", timeout=300_000, polling=100)
    # The first view drawn: its script run over and every chart plotted (else the first move also waits for the
    # first view's charts, and its latency measured page load, not a move).
    await page.wait_for_function(f"{IDLE} && {DRAWN}", timeout=300_000, polling=100)
    slider = page.get_by_role("slider").first
    for _ in range(moves):
        text = await page.inner_text("body")
        lead = int(text.split("lead ")[1].split(" h")[0])
        if lead >= 48:
            break
        t0, before = time.perf_counter(), received
        await slider.focus()
        await page.keyboard.press("ArrowRight")
        shown = f"document.body.innerText.includes('lead {lead + 1} h')"
        await page.wait_for_function(shown, timeout=120_000, polling=50)
        await page.wait_for_function(IDLE, timeout=120_000, polling=50)
        out.append(time.perf_counter() - t0)
        sent.append(received - before)
    await context.close()


async def run(url: str, sessions: int, moves: int) -> dict:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    latencies: list[float] = []
    sent: list[int] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        t0 = time.perf_counter()
        await asyncio.gather(*[_session(browser, url, moves, latencies, sent) for _ in range(sessions)])
        wall = time.perf_counter() - t0
        await browser.close()
    latencies.sort()
    return {
        "sessions": sessions,
        "moves": len(latencies),
        "wall_s": round(wall, 1),
        "median_s": round(statistics.median(latencies), 3),
        "p90_s": round(latencies[int(0.9 * (len(latencies) - 1))], 3),
        "max_s": round(latencies[-1], 3),
        "median_kb_per_move": round(statistics.median(sent) / 1e3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m app.loadtest", description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=at_least_one, default=5, help="concurrent browser sessions (default 5)")
    parser.add_argument("--moves", type=at_least_one, default=10, help="slider steps per session (default 10)")
    parser.add_argument("--url", help="a running app; default: start one on the demo archive")
    args = parser.parse_args()
    if args.url:
        print(json.dumps(asyncio.run(run(args.url, args.sessions, args.moves)), indent=2))
        return
    with serve() as url:
        print(json.dumps(asyncio.run(run(url, args.sessions, args.moves)), indent=2))


if __name__ == "__main__":
    main()
