"""A real browser (Debian chromium through Playwright) loads the running app and sees the maps."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from app.loadtest import IDLE
from app.server import serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed")]


@pytest.fixture(scope="module")
def server(demo_archive: Path, prediction_cache: Path):
    env = {"PRECIP_DATA": str(demo_archive), "PRECIP_CACHE": str(prediction_cache)}
    with serve(env) as url:
        yield url


# The area each drawn map shows: [[lon0, lon1], [lat0, lat1]] as plotly rendered it, for plots with a latitude axis.
MAP_EXTENTS = """[...document.querySelectorAll('.js-plotly-plot')]
    .filter(p => p._fullLayout && String(p._fullLayout.yaxis.title.text).startsWith('latitude'))
    .map(p => ({extent: [p._fullLayout.xaxis.range, p._fullLayout.yaxis.range],
                size: [p._fullLayout.xaxis._length, p._fullLayout.yaxis._length],
                row: Math.round(p.getBoundingClientRect().top + window.scrollY),
                // in viewport pixels: the title's bottom and right end, the longitude title's bottom, the top and
                // bottom of the colour bar's texts (its title and tick labels), the figure's bottom and right end
                texts: (() => {
                    const bar = [...p.querySelectorAll('.colorbar text')].map(t => t.getBoundingClientRect());
                    const title = p.querySelector('.gtitle').getBoundingClientRect();
                    return {title: title.bottom, title_right: title.right, right: p.getBoundingClientRect().right,
                            plot: p.getBoundingClientRect().top + p._fullLayout.yaxis._offset,
                            xtitle: p.querySelector('.g-xtitle').getBoundingClientRect().bottom,
                            bar_top: Math.min(...bar.map(b => b.top)), bar_bottom: Math.max(...bar.map(b => b.bottom)),
                            figure: p.querySelector('.main-svg').getBoundingClientRect().bottom};
                })(),
                // colour-bar labels plotly turned on end, as it does where they do not fit side by side
                turned: [...p.querySelectorAll('.colorbar text')]
                    .filter(t => (t.getAttribute('transform') || '').includes('rotate')).length}))"""


def screenshot(
    url: str, path: Path | None = None, wait_charts: int = 3, scroll_to: str | None = None, width: int = 1600
) -> tuple[bytes, str, list]:
    """The page at ``url``, in a window ``width`` pixels wide, once ``wait_charts`` charts are drawn (scrolled to
    the heading ``scroll_to`` if given): its PNG, its text and, for each map, the area it shows, its plot's size in
    pixels and the row it lies on."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": width, "height": 1300})
        page.goto(url, wait_until="networkidle", timeout=180_000)
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {wait_charts}", timeout=180_000)
        page.locator("h1").first.wait_for(timeout=180_000)  # a page without charts is drawn too, not blank
        if scroll_to:
            page.get_by_text(scroll_to, exact=True).first.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(1500)
        png = page.screenshot(path=str(path) if path else None, full_page=True)
        text = page.inner_text("body")
        extents = page.evaluate(MAP_EXTENTS)
        browser.close()
    return png, text, extents


def test_main_page_renders_maps_in_a_real_browser(server: str, tmp_path: Path):
    _png, text, extents = screenshot(server, tmp_path / "main.png")
    assert "Traceback" not in text and "Error" not in text
    assert "Hourly rain over Korea" in text and "KST" in text
    # NWP, post-processed, observed, the two hit/miss maps, the three heavy-rain maps and the three of the wettest
    # hour: all over the same area
    assert len(extents) == 11, extents
    areas = [m["extent"] for m in extents]
    assert np.allclose(areas, areas[0], atol=0.01), f"the maps show different areas: {areas}"
    # maps side by side are drawn the same size, so a forecaster compares like with like (the heavy-rain row's
    # hit/miss map, whose colour bar had no title, was drawn a sixth larger than the level maps beside it)
    rows: dict[int, list] = {}
    for m in extents:
        rows.setdefault(m["row"], []).append(m["size"])
    assert sorted(map(len, rows.values())) == [2, 3, 3, 3], rows
    for sizes in rows.values():
        assert np.ptp(np.array(sizes), axis=0).max() <= 2, f"maps in one row drawn at different sizes: {sizes}"
    # each map's title above it (the model map's two lines reached into it), its colour bar, title and labels
    # whole: under the longitude title (the hit/miss maps' bar title overlapped it), inside the figure
    for m in extents:
        t = m["texts"]
        assert t["title"] <= t["plot"] and t["xtitle"] <= t["bar_top"] and t["bar_bottom"] <= t["figure"], t
        assert m["turned"] == 0, m
    from PIL import Image

    img = np.asarray(Image.open(tmp_path / "main.png").convert("L"), dtype=float)
    assert img.std() > 20, "the page is not blank"
    assert len(np.unique(img)) > 50, "maps add many shades"


def test_on_a_laptop_the_maps_wrap_onto_more_rows_instead_of_shrinking(server: str):
    """A window 1100 px wide with the sidebar open: three maps in a row were 118 px wide, their colour bars'
    labels turned on end and the heavy class's cut off. Each map is drawn as large as on a wide screen, its title
    whole."""
    _png, _text, wide = screenshot(server)
    _png, text, laptop = screenshot(server, width=1100)
    assert "Traceback" not in text
    assert np.allclose([m["size"] for m in laptop], [m["size"] for m in wide], atol=1), (laptop, wide)
    assert len({m["row"] for m in laptop}) > len({m["row"] for m in wide}), "the maps wrapped onto more rows"
    for m in laptop:
        t = m["texts"]
        assert m["turned"] == 0 and t["bar_bottom"] <= t["figure"] and t["title_right"] <= t["right"], m


def test_the_sidebar_names_each_page_and_each_page_has_its_own_address(server: str):
    """The sidebar lists the pages by what they are (it read "main" for the case viewer), a page's address (and
    its old one) opens it, and the browser tab is named after it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # Streamlit (1.67) shows a spurious "Page not found" over the right page when a fresh server's very first
        # session opens a page other than the default (streamlit/streamlit#8860): open the default page first.
        page.goto(server, wait_until="networkidle", timeout=180_000)
        page.wait_for_function("document.body.innerText.includes('Hourly rain over Korea')", timeout=180_000)
        assert page.title() == "Case viewer"
        page.goto(server + "/model_card", wait_until="networkidle", timeout=180_000)
        page.get_by_role("heading", name="Model card").first.wait_for(timeout=180_000)
        nav = page.locator('[data-testid="stSidebarNav"] a')
        labels = [t.split("\n")[-1].strip() for t in nav.all_inner_texts()]
        assert labels == ["Case viewer", "Verification", "Case library", "Model card"]
        assert page.title() == "Model card"
        assert "Page not found" not in page.inner_text("body")
        # a bookmark of the address the page had in the pages/ folder's days still opens it, query included
        page.goto(server + "/Model_card?lead=7", wait_until="networkidle", timeout=180_000)
        page.wait_for_url("**/model_card?lead=7", timeout=60_000)
        page.get_by_role("heading", name="Model card").first.wait_for(timeout=60_000)
        assert "Page not found" not in page.inner_text("body")
        nav.filter(has_text="Case viewer").click()
        page.wait_for_function("document.body.innerText.includes('Hourly rain over Korea')", timeout=180_000)
        assert page.url.split("?")[0].rstrip("/") == server.rstrip("/")
        browser.close()


def _upload(page, files: list, timeout_s: float = 60) -> None:
    """Choose ``files`` in the uploader and wait until the server has received every one of them: the form sends no
    file that is still uploading, so pressing its button earlier scores nothing."""
    received: list = []

    def on_response(response) -> None:
        if "/_stcore/upload_file/" in response.url and response.request.method == "PUT":
            received.append(response.status)

    page.on("response", on_response)
    page.locator("input[type=file]").set_input_files(files)
    for _ in range(int(timeout_s * 10)):
        if len(received) >= len(files):
            break
        page.wait_for_timeout(100)
    page.remove_listener("response", on_response)
    assert len(received) == len(files) and all(200 <= code < 300 for code in received), f"uploads answered {received}"


def _press_score(page) -> None:
    """Press "Score this run" once it stays put: the uploader's drop zone (drawn a moment after the box opens) and
    its list of chosen files push the button down, and a click sent meanwhile lands its mouse-up on another element
    and submits nothing (as it would for a user who clicks that fast)."""
    page.locator("[data-testid=stFileUploaderDropzone]").wait_for(state="visible", timeout=60_000)
    button = page.get_by_role("button", name="Score this run")
    box = None
    for _ in range(50):
        now = button.bounding_box()
        if now is not None and now == box:
            button.click()
            return
        box = now
        page.wait_for_timeout(200)
    raise AssertionError(f"the 'Score this run' button never settled: last at {box}")


def test_a_forecaster_uploads_a_grib_run_and_sees_it_scored(server: str, demo_archive: Path):
    from playwright.sync_api import sync_playwright

    run = sorted(p.name for p in (demo_archive / "nwp").iterdir())[1]
    files = sorted((demo_archive / "nwp" / run).glob("*.grib2"))[:4]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(server, wait_until="networkidle", timeout=180_000)
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=180_000)
        page.get_by_text("Data source").click()
        _press_score(page)  # nothing chosen yet: told so, not ignored
        page.wait_for_function("document.body.innerText.includes('No GRIB2 file received')", timeout=180_000)
        _upload(page, [{"name": "bad.grib2", "mimeType": "application/octet-stream", "buffer": b"GRIB garbage"}])
        _press_score(page)
        page.wait_for_function("document.body.innerText.includes('Upload refused')", timeout=180_000)
        assert "bad.grib2: message 1 is truncated" in page.inner_text("body")
        _upload(page, [str(f) for f in files])
        _press_score(page)
        page.wait_for_function(f"document.body.innerText.includes('Showing your uploaded run {run}')", timeout=120_000)
        # the uploaded run holds lead times 0-3 h only
        page.wait_for_function(f"/Run {run} UTC · lead [123] h/.test(document.body.innerText)", timeout=120_000)
        text = page.inner_text("body")
        browser.close()
    assert "Traceback" not in text and "CSI" in text


# The place chart's box, the box of the controls' last widget (the "Earlier run too" toggle) and of the place list
# (as wide as the controls' column), in viewport pixels.
PLACE_ROW = """() => {
    const chart = [...document.querySelectorAll('.js-plotly-plot')]
        .find(p => p._fullLayout && /, run \\d+ UTC/.test(String(p._fullLayout.title.text)));
    const toggle = [...document.querySelectorAll('[data-testid=stCheckbox]')]
        .find(e => e.innerText.includes('Earlier run too'));
    const place = [...document.querySelectorAll('[data-testid=stSelectbox]')]
        .find(e => e.innerText.startsWith('Place'));
    const box = e => { const r = e.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top,
                                                                  bottom: r.bottom, width: r.width}; };
    return {chart: box(chart), controls: box(toggle), place: box(place)};
}"""


def test_the_place_chart_goes_under_its_controls_on_a_laptop_and_beside_them_on_a_wide_screen(server: str):
    """In st.columns([1, 3]) on a laptop the controls' column was 150 px wide, its text a word a line, beside a
    narrow chart. Now the controls keep 300 px and the chart goes under them where it would be under 460 px."""
    from playwright.sync_api import sync_playwright

    rows = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for width in (1600, 1100):
            page = browser.new_page(viewport={"width": width, "height": 1300})
            page.goto(server, wait_until="networkidle", timeout=180_000)
            page.wait_for_function("document.body.innerText.includes('Seoul, run')", timeout=180_000)
            page.wait_for_timeout(1000)
            rows[width] = page.evaluate(PLACE_ROW)
            page.close()
        browser.close()
    wide, laptop = rows[1600], rows[1100]
    assert wide["chart"]["left"] >= wide["controls"]["right"] and wide["chart"]["width"] >= 600, wide
    assert laptop["chart"]["top"] >= laptop["controls"]["bottom"] and laptop["chart"]["width"] >= 460, laptop
    assert laptop["place"]["width"] >= 250, laptop


LEAD_SHOWN = "(document.body.innerText.match(/· lead (\\d+) h ·/) || [])[1]"


def test_the_arrow_keys_step_through_the_lead_times(server: str):
    """Right and Left step the maps one lead time on or back, as the sidebar's buttons do, but not while a
    slider or a text box has the keyboard (the slider moves itself, the caret moves in the box)."""
    from playwright.sync_api import sync_playwright

    def press(page, key: str, expected: int | None) -> int:
        page.keyboard.press(key)
        if expected is not None:
            page.wait_for_function(f"{LEAD_SHOWN} === '{expected}'", timeout=60_000)
        page.wait_for_timeout(1500)  # a rerun that should not happen has time to show itself
        return int(page.evaluate(LEAD_SHOWN))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        page.goto(server + "/?lead=27", wait_until="networkidle", timeout=180_000)
        page.wait_for_function(f"{LEAD_SHOWN} === '27'", timeout=180_000)
        page.wait_for_function(IDLE, timeout=180_000)
        page.get_by_role("heading", level=1).click()  # the keyboard on the page, not in a widget
        page.keyboard.press("ArrowRight")
        try:
            page.wait_for_function(f"{LEAD_SHOWN} === '28'", timeout=15_000)
        except Exception:
            # The first press on a fresh page is sometimes lost after a long suite (the note of 2026-12-02: not
            # reproduced alone); a second must work, and every later one below the first time.
            print("arrow keys: the first press was lost, pressed again", file=sys.stderr)
            page.keyboard.press("ArrowRight")
            page.wait_for_function(f"{LEAD_SHOWN} === '28'", timeout=60_000)
        after_right = int(page.evaluate(LEAD_SHOWN))
        after_left = press(page, "ArrowLeft", 27)
        page.get_by_test_id("stTextInputField").first.click()
        in_box = press(page, "ArrowLeft", None)
        page.get_by_role("slider").nth(1).focus()  # the event threshold's
        on_threshold = press(page, "ArrowLeft", None)
        text = page.inner_text("body")
        browser.close()
    assert (after_right, after_left, in_box, on_threshold) == (28, 27, 27, 27)
    assert "Traceback" not in text


def test_play_steps_through_the_lead_times_round_the_run_until_paused(server: str):
    """Play shows the next lead time every couple of seconds, the first after the last; paused (here with the Space
    key, as a video), the page stays."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        page.goto(server + "/?lead=47", wait_until="networkidle", timeout=180_000)
        page.wait_for_function(f"{LEAD_SHOWN} === '47'", timeout=180_000)
        page.get_by_role("button", name="Play").click()
        shown = ["47"]
        for lead in ("48", "1", "2"):
            page.wait_for_function(f"{LEAD_SHOWN} === '{lead}'", timeout=30_000)
            shown.append(lead)
        page.get_by_role("heading", level=1).click()  # the keyboard on the page, not in a widget
        page.keyboard.press("Space")
        page.get_by_role("button", name="Play").wait_for(timeout=30_000)  # the button offers Play again
        page.wait_for_timeout(3000)  # a step already on its way lands
        paused = page.evaluate(LEAD_SHOWN)
        page.wait_for_timeout(6000)  # three steps' time
        still = page.evaluate(LEAD_SHOWN)
        text = page.inner_text("body")
        browser.close()
    assert shown == ["47", "48", "1", "2"]
    assert still == paused, f"paused at {paused} h, then showed {still} h"
    assert "Traceback" not in text


# Where on the page a city's marker of the raw NWP map lies (viewport pixels), and the map's drag mode.
NWP_MAP = """[...document.querySelectorAll('.js-plotly-plot')]
    .find(p => p._fullLayout && String(p._fullLayout.title.text).includes('Raw NWP rain'))"""
CITY_ON_MAP = (
    "name => { const gd = "
    + NWP_MAP
    + """;
    gd.scrollIntoView();
    const cities = gd._fullData.find(t => t.name === 'cities'), i = cities.customdata.indexOf(name);
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
    return {x: box.left + xa._offset + xa.l2p(cities.x[i]), y: box.top + ya._offset + ya.l2p(cities.y[i]),
            drag: gd._fullLayout.dragmode};
}"""
)


def test_a_click_on_a_city_of_the_map_charts_its_rain(server: str):
    """The maps mark the cities; a click on one shows its rain through the run below (and in the link), while a
    drag on the map still zooms."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        page.goto(server, wait_until="networkidle", timeout=180_000)
        page.wait_for_function("document.body.innerText.includes('Seoul, run')", timeout=180_000)
        page.wait_for_function(f"{NWP_MAP} !== undefined", timeout=60_000)
        where = page.evaluate(CITY_ON_MAP, "Busan")
        hover = f"{NWP_MAP}.querySelector('.hoverlayer').textContent"
        page.mouse.move(where["x"] + 12, where["y"])  # beside the dot: the map's own value, not the city
        page.wait_for_function(f"{hover}.includes('mm')", timeout=10_000)
        beside = page.evaluate(hover)
        page.mouse.move(where["x"], where["y"])
        page.wait_for_function(f"{hover}.includes('Busan')", timeout=10_000)
        page.mouse.click(where["x"], where["y"])
        page.wait_for_function("document.body.innerText.includes('Busan, run')", timeout=120_000)
        page.wait_for_function("location.search.includes('place=Busan')", timeout=30_000)
        text = page.inner_text("body")
        browser.close()
    assert where["drag"] == "zoom"
    assert "Busan" not in beside, f"a city's dot took the hover 12 px away: {beside}"
    assert "Seoul, run" not in text and "Traceback" not in text


# For each category trace of the map whose title holds ``title``: a pixel where that trace lies on top in a 3 x 3
# neighbourhood (the cursor may land a pixel off), its place on the page and the category its hover should name.
CATEGORY_PIXELS = """title => {
    const gd = [...document.querySelectorAll('.js-plotly-plot')]
        .find(p => p._fullLayout && String(p._fullLayout.title.text).includes(title));
    gd.scrollIntoView({block: 'center'});
    const heat = gd._fullData.filter(t => t.type === 'heatmap');
    const at = (t, lat, lon) => {
        const j = Math.round((lon - t.x[0]) / (t.x[1] - t.x[0])), i = Math.round((lat - t.y[0]) / (t.y[1] - t.y[0]));
        const v = i >= 0 && i < t.y.length && j >= 0 && j < t.x.length ? t.z[i][j] : NaN;
        return v !== undefined && v !== null && !Number.isNaN(v);
    };
    const top = (lat, lon) => [...heat].reverse().find(t => at(t, lat, lon));
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
    const out = [];
    for (const t of heat) {
        const dx = t.x[1] - t.x[0], dy = t.y[1] - t.y[0];
        search: for (let i = 1; i < t.y.length - 1; i++) for (let j = 1; j < t.x.length - 1; j++) {
            const lat = t.y[i], lon = t.x[j];
            if (![-1, 0, 1].every(a => [-1, 0, 1].every(b => top(lat + a * dy, lon + b * dx) === t))) continue;
            out.push({name: t.hovertemplate.split(/<br>|<extra>/)[0], x: box.left + xa._offset + xa.l2p(lon),
                      y: box.top + ya._offset + ya.l2p(lat)});
            break search;
        }
    }
    return out;
}"""


def test_a_category_map_names_the_category_under_the_cursor(server: str):
    """Hit, miss, false alarm, the forecast class and the grey of the untrained area: each map draws a trace per
    category, and the hover must name the one under the cursor, not the trace drawn last."""
    from playwright.sync_api import sync_playwright

    seen: dict[str, list[tuple[str, str]]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        page.goto(server + "/?lead=27&threshold=0.1", wait_until="networkidle", timeout=180_000)
        page.wait_for_function("document.body.innerText.includes('Seoul, run')", timeout=180_000)
        for title in ("Post-processed", "Raw NWP vs QPE", "Model (P"):
            page.wait_for_timeout(300)  # scrolled into view
            for pixel in page.evaluate(CATEGORY_PIXELS, title):
                page.mouse.move(pixel["x"], pixel["y"])
                page.wait_for_timeout(150)
                hover = page.evaluate(
                    "t => [...document.querySelectorAll('.js-plotly-plot')].find(p => p._fullLayout && "
                    "String(p._fullLayout.title.text).includes(t)).querySelector('.hoverlayer').textContent",
                    title,
                )
                if "click for its rain" not in hover:  # a city's dot, not the map's pixel
                    seen.setdefault(title, []).append((pixel["name"], hover))
        browser.close()
    for title, pairs in seen.items():
        for name, hover in pairs:
            assert hover.startswith(name), f"{title} map: the cursor on a '{name}' pixel reads {hover!r}"
    assert len(seen.get("Post-processed", [])) >= 3, f"the class map had too few categories to check: {seen}"
    assert sum(len(pairs) for pairs in seen.values()) >= 6, seen


def test_a_rain_map_colours_each_amount_in_its_step_even_at_the_step_itself(tmp_path: Path):
    """The rain map's colours come from the values through a scale with uneven steps (0.1, 0.5, 1, ... 50 mm/h):
    drawn by plotly.js in the browser, each amount has its step's colour, an amount exactly on a step the colour
    above it (10 mm/h is ">= 10"), and an unobserved pixel is grey, not the white of "dry"."""
    import plotly
    import plotly.io as pio
    from playwright.sync_api import sync_playwright

    from app import maps

    amounts = [0, 0.05, 0.1, 0.3, 0.5, 0.99, 1, 2, 4.99, 5, 10, 19.9, 20, 30, 50, 75, 300, np.nan]
    values = np.array([amounts, amounts], dtype=np.float32)
    lon, lat = np.arange(len(amounts)) * 1.0, np.array([0.0, 1.0])
    fig = maps.rain_map(values, lat, lon, "test", "now")
    fig.data = [t for t in fig.data if t.type == "heatmap"]
    fig.update_layout(width=1800, height=400, margin={"l": 0, "r": 0, "t": 0, "b": 0}, showlegend=False)
    fig.update_layout(xaxis={"range": [-0.5, len(amounts) - 0.5], "visible": False}, plot_bgcolor="#000000")
    fig.update_layout(yaxis={"range": [-0.5, 1.5], "visible": False, "scaleanchor": None})
    fig.update_traces(showscale=False)
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1800, "height": 400})
        page.set_content('<html><body style="margin:0"><div id="map"></div></body></html>')
        page.add_script_tag(path=str(plotly_js))
        page.evaluate(
            "s => { const f = JSON.parse(s); return Plotly.newPlot('map', f.data, f.layout, {staticPlot: true}) }",
            pio.to_json(fig),
        )
        page.screenshot(path=str(tmp_path / "steps.png"))
        browser.close()
    from PIL import Image

    img = np.asarray(Image.open(tmp_path / "steps.png").convert("RGB"))
    cell = 1800 / len(amounts)
    for k, amount in enumerate(amounts):
        drawn = img[100, int((k + 0.5) * cell)]
        want = maps.UNSCORED_GREY if np.isnan(amount) else maps.RAIN_COLOURS[np.digitize(amount, maps.LEVELS)]
        want_rgb = np.array([int(want[i : i + 2], 16) for i in (1, 3, 5)])
        assert np.abs(drawn.astype(int) - want_rgb).max() <= 2, f"{amount} mm/h drawn {drawn}, its step is {want}"


def test_the_load_test_times_lead_time_moves_and_counts_their_bytes(server: str):
    """``python -m app.loadtest`` (the figures in the notes) still drives the page: it waits for the first view,
    steps the lead time and counts what the websocket brought for each move."""
    import asyncio

    from app.loadtest import run

    result = asyncio.run(run(server, sessions=1, moves=2))
    assert result["moves"] == 2, result
    assert 0 < result["median_s"] <= result["max_s"] < 120, result
    assert result["median_kb_per_move"] > 50, f"a move redraws three maps at least: {result}"
