"""Plotly figures: rain maps on the KMA-like scale, contingency maps, lead-time curves, diagrams."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go

from engine.geo.coastlines import plotly_paths

LEVELS = [0.1, 0.5, 1, 2, 5, 10, 20, 30, 50]  # mm/h, KMA-like steps
RAIN_COLOURS = [
    "#ffffff",
    "#c6e8fb",
    "#7fc8f0",
    "#3a9be0",
    "#1c5fc7",
    "#38b24a",
    "#f7e53b",
    "#f39c1f",
    "#e0301e",
    "#8e1a91",
]
# Behind maps where a pixel has no observation: the count maps' pixels never scored (beyond the QPE coverage),
# the QPE map's unobserved pixels.
UNSCORED_GREY = "#d9d9d9"
PROB_LEVELS = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]
CLASS_COLOURS = ["#ffffff", "#3a9be0", "#e0301e"]  # < 0.1, 0.1-10, >= 10 mm/h
PROB_COLOURS = ["#ffffff", "#e3eef9", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c", "#54278f", "#3f007d"]
# Okabe-Ito colour-blind-safe: correct negative, hit, miss, false alarm
CONTINGENCY = {
    0: ("correct negative", "#f2f2f2"),
    1: ("hit", "#009E73"),
    2: ("miss", "#D55E00"),
    3: ("false alarm", "#0072B2"),
}
# One name and one colour per forecast source on every chart of every page, clear of the contingency colours:
# grey for the NWP that comes in, purple for the network's forecast.
SOURCES = {"nwp": ("raw NWP", "#737373"), "model": ("model", "#7b3294")}


def source_style(src: str) -> dict:
    """Plotly trace settings that name and colour a forecast source ("nwp" or "model") alike everywhere."""
    name, colour = SOURCES[src]
    return {"name": name, "legendgroup": src, "line": {"color": colour}, "marker": {"color": colour}}


def translucent(colour: str, alpha: float = 0.18) -> str:
    """A "#rrggbb" colour as rgba with the given opacity (interval bands under their line)."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _f4(a: np.ndarray) -> np.ndarray:
    """float32: plotly sends numpy arrays as base64 typed arrays, half the bytes of float64."""
    return np.asarray(a, dtype=np.float32)


def _stepped(colours: list[str]) -> list[list]:
    n = len(colours)
    scale = []
    for i, c in enumerate(colours):
        scale += [[i / n, c], [(i + 1) / n, c]]
    return scale


# Colour bars lie under the maps: beside them they took a third of a map's width, and unequal label widths gave the
# maps of one row unequal sizes. ``_frame`` sets their height (y).
COLORBAR_UNDER = {"orientation": "h", "yanchor": "top", "thickness": 12, "len": 1.0}
# A map's margins are fixed, wide enough for its axis labels, its colour bar and a title of two lines. Grown by
# plotly (autoexpand) around a bar placed at a share of the plot's height, the bar of a shorter map (the hit/miss
# maps) overlapped the longitude title, and a title of two lines reached into the map.
MAP_MARGIN = {"l": 72, "r": 10, "t": 50, "b": 134, "autoexpand": False}
BAR_BELOW_PX = 58  # the colour bar's top, under the plot: below the longitude ticks and the axis title


def _under(colorbar: dict) -> dict:
    """A map's colour bar settings, the bar laid under the map with its title on top."""
    title = {"side": "top", **({"text": colorbar["title"]} if "title" in colorbar else {})}
    return {**colorbar, **COLORBAR_UNDER, "title": title}


def _frame(fig: go.Figure, lat: np.ndarray, lon: np.ndarray, title: str, height: int = 430) -> go.Figure:
    """The map's coasts and borders over its traces, its axes and title. The layout is assigned whole, not merged
    with ``update_layout``: plotly validates a merge property by property, 4.4 ms a map against 1.7 ms, on every
    map of every rerun."""
    extent = (float(lon.min()), float(lon.max()), float(lat.min()), float(lat.max()))
    for kind, colour in (("coastline", "#222"), ("border", "#666")):
        lons, lats = plotly_paths(kind, extent)
        fig.add_trace(
            # SVG lines, not WebGL: six maps per page would need twelve WebGL contexts (browsers cap them at
            # about 16), drawn by software GL where there is no GPU.
            go.Scatter(
                x=_f4(lons),
                y=_f4(lats),
                mode="lines",
                line={"color": colour, "width": 1},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    fig.layout = {
        "title": {"text": title, "font": {"size": 14}},
        "height": height,
        "margin": MAP_MARGIN,
        "plot_bgcolor": "white",
        # constrain="domain": the locked aspect shrinks the plot, never widens the range, so every map of a page
        # shows the same area whatever the width of its colour-bar labels.
        "xaxis": {"range": [lon[0], lon[-1]], "title": "longitude (°E)", "showgrid": False, "constrain": "domain"},
        "yaxis": {
            "range": [lat[0], lat[-1]],
            "title": "latitude (°N)",
            "scaleanchor": "x",
            "scaleratio": 1.2,
            "constrain": "domain",
            "showgrid": False,
        },
    }
    plot_height = height - MAP_MARGIN["t"] - MAP_MARGIN["b"]
    for trace in fig.data:
        if trace.type == "heatmap" and trace.colorbar.orientation == "h":
            trace.colorbar.y = -BAR_BELOW_PX / plot_height
    return fig


def _stepped_at(levels: list[float], colours: list[str], top: float) -> list[list]:
    """A colour scale over 0..``top`` that takes ``colours[i + 1]`` from ``levels[i]`` on, as ``np.digitize`` bins.
    Each step sits a millionth below its level: a value of exactly 10 mm/h takes the colour of ">= 10" whatever the
    rounding of the scale's positions."""
    edges = [0.0, *(level * (1 - 1e-6) / top for level in levels), 1.0]
    scale = []
    for i, c in enumerate(colours):
        scale += [[edges[i], c], [edges[i + 1], c]]
    return scale


def _levels_map(
    values: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    levels: list[float],
    colours: list[str],
    colorbar: dict,
    hovertemplate: str,
    title: str,
    learnt: np.ndarray | None = None,
    customdata: np.ndarray | None = None,
) -> go.Figure:
    """``values`` coloured in the uneven steps between ``levels``, with the value itself under the cursor; with
    ``learnt``, greyed outside it (``_veil``); with ``customdata`` (numbers for each pixel, in the smallest dtype
    that holds them: they are sent as they are), those for the hover too.

    The trace carries the values alone, coloured by a scale whose steps sit at the levels: one float32 array, not
    binned codes plus the values for the hover (twice the bytes, on every move of the lead time). Its own colour bar
    would space the steps by value, 0.1-0.5 mm/h a sliver beside 50-100; the bar shown is an empty trace's, one
    even step per level. NaN (no observation) is left undrawn, without a hover, on grey: white is "below the first
    level", and a QPE map that left its unobserved pixels white showed them as dry.
    """
    top = 2.0 * levels[-1]  # above it, all take the last colour
    n = len(colours)
    legend = go.Heatmap(
        z=np.zeros((2, 2), dtype=np.float32),
        opacity=0,
        x=_f4(lon[:2]),
        y=_f4(lat[:2]),
        zmin=0,
        zmax=n,
        colorscale=_stepped(colours),
        colorbar=_under({**colorbar, "tickvals": np.arange(1, n)}),
        hoverinfo="skip",
    )
    traces = [legend]
    observed = np.isfinite(values).all()
    if learnt is not None and not learnt.all():
        code = np.where(np.isfinite(values), np.digitize(values, levels), -1)  # -1: no value, left transparent
        traces.append(_veil(code, learnt, colours, lat, lon))
        values = np.where(learnt, values, np.nan)
    data = go.Heatmap(
        z=_f4(values),
        x=_f4(lon),
        y=_f4(lat),
        zmin=0,
        zmax=top,
        colorscale=_stepped_at(levels, colours, top),
        showscale=False,
        hoverongaps=False,
        hovertemplate=hovertemplate,
        customdata=customdata,
    )
    fig = _frame(go.Figure([*traces, data]), lat, lon, title)
    return fig if observed else _grey_under(fig, lat, lon)


def _grey_under(fig: go.Figure, lat: np.ndarray, lon: np.ndarray) -> go.Figure:
    """Grey under the map's grid, shown where no trace draws a pixel: a rectangle over the grid's cells, not the
    plot's background colour, which overhangs the grid by a few pixels on every side."""
    dx, dy = abs(float(lon[1] - lon[0])) / 2, abs(float(lat[1] - lat[0])) / 2
    box = {"x0": lon.min() - dx, "x1": lon.max() + dx, "y0": lat.min() - dy, "y1": lat.max() + dy}
    return fig.add_shape(type="rect", **box, fillcolor=UNSCORED_GREY, line_width=0, layer="below")


def rain_map(
    values: np.ndarray, lat: np.ndarray, lon: np.ndarray, title: str, when: str, customdata: np.ndarray | None = None
) -> go.Figure:
    """Hourly rain in steps; ``when`` ends its hover, and may name ``customdata`` (``%{customdata[0]}``...),
    numbers for each pixel (:func:`_levels_map`)."""
    colorbar = {"title": "mm/h", "ticktext": [str(v) for v in LEVELS]}
    hover = "%{z:.2f} mm/h<br>%{y:.2f}°N %{x:.2f}°E<br>" + when + "<extra></extra>"
    return _levels_map(values, lat, lon, LEVELS, RAIN_COLOURS, colorbar, hover, title, customdata=customdata)


def probability_map(
    prob: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    title: str,
    when: str,
    learnt: np.ndarray | None = None,
    customdata: np.ndarray | None = None,
) -> go.Figure:
    """Event probability in steps: heavy rain is rare, so calibrated probabilities of a few per cent matter and a
    linear 0-1 scale would show them all as the same pale colour. With ``learnt``, greyed outside it; ``when`` and
    ``customdata`` as in :func:`rain_map`."""
    colorbar = {"title": "probability (%)", "ticktext": [f"{100 * v:g}" for v in PROB_LEVELS]}
    hover = "P = %{z:.1f} %<br>%{y:.2f}°N %{x:.2f}°E<br>" + when + "<extra></extra>"
    percent = [100 * v for v in PROB_LEVELS]
    prob = 100 * np.asarray(prob)
    return _levels_map(prob, lat, lon, percent, PROB_COLOURS, colorbar, hover, title, learnt, customdata)


def outline(where: np.ndarray, lat: np.ndarray, lon: np.ndarray, name: str, colour: str = "#d7191c") -> go.Scatter:
    """The boundary of the pixels ``where`` is True, along their edges: one line per run of edges on a row or column
    boundary (a few hundred points where a trace of every pixel would be 25,600), NaN between runs. Named in the
    legend and never hovered, so the heatmap under it keeps the cursor."""
    dy, dx = float(lat[1] - lat[0]), float(lon[1] - lon[0])
    xs, ys = [], []
    for grid, along, across, d_along, d_across, horizontal in (
        (np.asarray(where, bool), lon, lat, dx, dy, True),  # edges between rows: horizontal lines
        (np.asarray(where, bool).T, lat, lon, dy, dx, False),  # between columns: vertical lines
    ):
        padded = np.pad(grid, 1)
        change = padded[1:, 1:-1] != padded[:-1, 1:-1]  # (rows + 1, cols): an edge below each row boundary
        steps = np.diff(np.pad(change, ((0, 0), (1, 1))).astype(np.int8), axis=1)
        # Each boundary's runs start (+1) and end (-1) in turn: in row-major order the two lists pair up.
        k, start = np.nonzero(steps == 1)
        end = np.nonzero(steps == -1)[1]
        gap = np.full(k.size, np.nan)
        line = across[0] + (k - 0.5) * d_across
        ends = np.stack([along[0] + (start - 0.5) * d_along, along[0] + (end - 0.5) * d_along, gap], axis=1).ravel()
        level = np.stack([line, line, gap], axis=1).ravel()
        xs.append(ends if horizontal else level)
        ys.append(level if horizontal else ends)
    return go.Scatter(
        x=_f4(np.concatenate(xs)),
        y=_f4(np.concatenate(ys)),
        mode="lines",
        line={"color": colour, "width": 1.5},
        name=name,
        hoverinfo="skip",
        showlegend=True,
    )


def _extent(where: np.ndarray) -> tuple[slice, slice]:
    """The rows and the columns that hold ``where``'s pixels, at least two of each: plotly sizes the cells of a
    lone row or column by a default step, not by the grid's."""

    def span(present: np.ndarray) -> slice:
        found = np.flatnonzero(present)
        lo, hi = int(found[0]), int(found[-1]) + 1
        hi = max(hi, min(lo + 2, present.size))
        return slice(min(lo, max(hi - 2, 0)), hi)

    return span(where.any(axis=1)), span(where.any(axis=0))


def _category_traces(
    code: np.ndarray, colours: list[str], colorbar: dict, lat, lon, own: Callable[[int, slice, slice], dict]
) -> list[go.Heatmap]:
    """One heatmap trace per category ``k`` present in ``code`` (0 .. len(colours) - 1), all on one stepped colour
    scale (the first shows its bar), so each trace's hover can name its category without a per-pixel string
    array (which tripled a figure's size). Each trace covers only the rows and columns its category occupies: the
    hits of a storm are a few dozen pixels, and full-grid traces made a contingency map about 550 KB, sent again on
    every move of the lead time. ``own(k, rows, cols)`` gives a trace its own settings: its hover."""
    n = len(colours)
    traces = []
    for k in range(n):
        where = code == k
        if not where.any():
            continue
        rows, cols = _extent(where)
        traces.append(
            go.Heatmap(
                z=np.where(where[rows, cols], np.float32(k), np.float32(np.nan)),
                x=_f4(lon[cols]),
                y=_f4(lat[rows]),
                zmin=-0.5,
                zmax=n - 0.5,
                colorscale=_stepped(colours),
                showscale=not traces,
                colorbar=_under(colorbar),
                # A gap is another trace's pixel: with plotly's default, the top trace's name took every hover.
                hoverongaps=False,
                **own(k, rows, cols),
            )
        )
    return traces


def _category_map(
    code: np.ndarray,
    names: list[str],
    colours: list[str],
    colorbar: dict,
    lat,
    lon,
    title: str,
    hover_tail: str,
    learnt: np.ndarray | None = None,
    **kw,
) -> go.Figure:
    def own(k: int, rows: slice, cols: slice) -> dict:
        return {"hovertemplate": f"{names[k]}<br>%{{y:.2f}}°N %{{x:.2f}}°E{hover_tail}<extra></extra>"}

    veil = []
    if learnt is not None and not learnt.all():
        veil, code = [_veil(code, learnt, colours, lat, lon)], np.where(learnt, code, -1)
    traces = veil + _category_traces(code, colours, colorbar, lat, lon, own)
    return _frame(go.Figure(traces), lat, lon, title, **kw)


UNTRAINED = "not learnt from observations"
VEIL_GREY = "#8c8c8c"  # model pixels outside the area learnt from observations: their colour half-way to this grey


def greyed(colour: str) -> str:
    """``colour`` half-way to ``VEIL_GREY``: how a model pixel outside the learnt area is drawn."""
    mixed = (round((int(colour[i : i + 2], 16) + int(VEIL_GREY[i : i + 2], 16)) / 2) for i in (1, 3, 5))
    return "#" + "".join(f"{c:02x}" for c in mixed)


def _veil(code: np.ndarray, learnt: np.ndarray, colours: list[str], lat: np.ndarray, lon: np.ndarray) -> go.Heatmap:
    """The model's pixels outside ``learnt``, the area where the network learnt from observations
    (``engine.trained_area``; without one, where the data's QPE is scored): its loss never read them, so its rain
    there is an extrapolation, often with a grid texture. Drawn in their category's colour (``code`` indexes
    ``colours``) greyed half-way.

    One uint8 trace over the whole grid, transparent on learnt pixels, drawn under the traces of the learnt pixels:
    a quarter of the bytes of a float32 trace with gaps (sent on every move of the lead time). It answers the hover
    only where no later trace draws: plotly gives a pixel that two traces report to the one drawn last.
    """
    return go.Heatmap(
        z=np.where(learnt, 0, code + 1).astype(np.uint8),
        x=_f4(lon),
        y=_f4(lat),
        name=UNTRAINED,
        zmin=-0.5,
        zmax=len(colours) + 0.5,
        colorscale=_stepped(["rgba(0,0,0,0)", *(greyed(c) for c in colours)]),
        showscale=False,
        hovertemplate="no valid QPE here in the training data: not learnt from observations<extra></extra>",
    )


def class_map(
    cls: np.ndarray, lat: np.ndarray, lon: np.ndarray, title: str, when: str, learnt: np.ndarray | None = None
) -> go.Figure:
    """The model's class at each pixel; with ``learnt``, greyed outside it (``_veil``)."""
    names = ["no rain (<0.1 mm/h)", "rain (0.1-10 mm/h)", "heavy rain (>=10 mm/h)"]
    colorbar = {"title": "class", "tickvals": [0, 1, 2], "ticktext": ["<0.1", "0.1-10", ">=10 mm/h"]}
    return _category_map(cls, names, CLASS_COLOURS, colorbar, lat, lon, title, f"<br>{when}", learnt=learnt)


def contingency_map(
    f_event: np.ndarray, o_event: np.ndarray, valid: np.ndarray, lat, lon, title: str, height: int = 380
) -> go.Figure:
    code = np.where(f_event & o_event, 1, np.where(o_event, 2, np.where(f_event, 3, 0)))
    code[~valid] = -1  # not scored: no trace
    names = [CONTINGENCY[i][0] for i in range(4)]
    # titled like every other map's bar: an untitled bar leaves its plot taller than the maps beside it
    colorbar = {"title": "forecast vs observed", "tickvals": [0, 1, 2, 3], "ticktext": names}
    colours = [CONTINGENCY[i][1] for i in range(4)]
    return _category_map(code, names, colours, colorbar, lat, lon, title, "", height=height)


def lead_curve(
    leads: list[int],
    series: dict[str, np.ndarray],
    title: str,
    y_title: str = "CSI",
    bands: dict[str, tuple[list, list]] | None = None,
    height: int = 330,
) -> go.Figure:
    """A score by lead time per forecast source (keys of SOURCES), with optional (low, high) interval bands."""
    fig = go.Figure()
    fig.add_vrect(
        x0=25,
        x1=30,
        fillcolor="#f7e53b",
        opacity=0.25,
        line_width=0,
        annotation_text="paper's 25-30 h window",
        annotation_position="top left",
    )
    for src, (low, high) in (bands or {}).items():
        fig.add_trace(
            go.Scatter(
                x=list(leads) + list(leads)[::-1],
                y=list(high) + list(low)[::-1],
                fill="toself",
                fillcolor=translucent(SOURCES[src][1]),
                line={"width": 0},
                legendgroup=src,
                name=f"{SOURCES[src][0]}, 95 % interval",
                showlegend=False,
                hoverinfo="skip",
            )
        )
    for src, values in series.items():
        fig.add_trace(go.Scatter(x=leads, y=values, mode="lines+markers", **source_style(src)))
    fig.update_layout(
        title=title,
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis_title="lead time (h)",
        yaxis_title=y_title,
        yaxis_range=[0, 1],
        # under the plot: beside it, the legend met the window's label in a narrow chart (a laptop's page)
        legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
    )
    return fig


OBSERVED_HOURS_COLOURS = "Blues"
# brown where a forecast has fewer event hours than observed (too dry), green where more (too wet)
BALANCE_COLOURS = [[0.0, "#8c510a"], [0.25, "#d8b365"], [0.5, "#f5f5f5"], [0.75, "#5ab4ac"], [1.0, "#01665e"]]


def event_hours_map(
    values: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    title: str,
    hover: np.ndarray | None,
    zmax: float,
    balance: bool,
) -> go.Figure:
    """A count over runs and lead times at each pixel (NaN = never observed): observed event hours, or with
    ``balance`` a forecast's event hours minus the observed ones on a diverging scale centred on zero.
    ``hover`` (with ``balance``): (lat, lon, 3) hits, misses, false alarms shown under the cursor."""
    fig = go.Figure(
        go.Heatmap(
            z=_f4(values),
            x=_f4(lon),
            y=_f4(lat),
            zmin=-zmax if balance else 0,
            zmax=zmax,
            colorscale=BALANCE_COLOURS if balance else OBSERVED_HOURS_COLOURS,
            customdata=None if hover is None else np.asarray(hover, dtype=np.int32),
            colorbar=_under({"title": "forecast − observed (h)" if balance else "hours"}),
            hoverongaps=False,  # a never-scored pixel read "NaN h observed"
            hovertemplate=(
                "%{z:+.0f} h: %{customdata[0]} hits, %{customdata[1]} misses, %{customdata[2]} false alarms"
                if balance
                else "%{z:.0f} h observed"
            )
            + "<br>%{y:.2f}°N %{x:.2f}°E<extra></extra>",
        )
    )
    return _grey_under(_frame(fig, lat, lon, title, height=400), lat, lon)


KMA_LEVEL_COLOURS = ["#ffffff", "#f7e53b", "#e0301e"]  # none, advisory (yellow), warning (red), as KMA draws them


def level_map(
    code: np.ndarray,
    sums: dict[int, np.ndarray],
    lat: np.ndarray,
    lon: np.ndarray,
    title: str,
    notes: np.ndarray | None = None,
) -> go.Figure:
    """The KMA heavy-rain level a run reached at each pixel (``engine.heavy_rain.level_codes``: 0 none, 1 advisory,
    2 warning, -1 unknown, in grey), the largest 3 h and 12 h sums (``sums``, mm) under the cursor, and a pixel's
    ``notes`` line (say, when its level was reached) above them where it is not empty.

    One trace per level, over that level's rows and columns, as the category maps: only the advisory and warning
    traces carry notes. A note for every pixel was 25,600 Python strings a map, which plotly copied and serialised on
    every rerun of the page, most of the heavy-rain section's server time, although the section never changes with
    the lead time.
    """
    sums_tail = (
        "largest sums: %{customdata[0]:.0f} mm in 3 h, %{customdata[1]:.0f} mm in 12 h"
        "<br>advisory 60 / 110 mm, warning 90 / 180 mm<br>%{y:.2f}°N %{x:.2f}°E<extra></extra>"
    )
    colorbar = {"title": "KMA heavy rain", "tickvals": [0, 1, 2], "ticktext": ["none", "advisory", "warning"]}

    def own(level: int, rows: slice, cols: slice) -> dict:
        text = None if notes is None or level == 0 else notes[rows, cols]
        return {
            "customdata": _f4(np.stack([sums[3][rows, cols], sums[12][rows, cols]], axis=-1)),
            "text": text,
            "hovertemplate": ("%{text}" if text is not None else "") + sums_tail,
        }

    fig = go.Figure(_category_traces(code, KMA_LEVEL_COLOURS, colorbar, lat, lon, own))
    if (code < 0).any():  # drawn, not left to the background: the plot area reaches beyond the grid
        fig.add_trace(
            go.Heatmap(
                z=_f4(np.where(code < 0, 1.0, np.nan)),
                x=_f4(lon),
                y=_f4(lat),
                colorscale=[[0, UNSCORED_GREY], [1, UNSCORED_GREY]],
                showscale=False,
                hoverongaps=False,
                hovertemplate="unknown: no 3 h window wholly observed<br>%{y:.2f}°N %{x:.2f}°E<extra></extra>",
            )
        )
    return _frame(fig, lat, lon, title)


def mark_places(fig: go.Figure, places: dict, chosen: str | None) -> go.Figure:
    """The cities of the place chart on a map (``engine.places.Place`` by name), a click on one picks it (their
    ``customdata`` is the name), and the one the chart shows ringed, so map and chart meet."""
    keep = {"marker": {"opacity": 1.0}}  # a click selects a point: no dimming the others
    fig.add_trace(
        go.Scatter(
            x=[p.lon for p in places.values()],
            y=[p.lat for p in places.values()],
            customdata=list(places),
            mode="markers",
            marker={"symbol": "circle", "size": 6, "color": "#fff", "line": {"width": 1, "color": "#000"}},
            name="cities",
            hovertemplate="%{customdata}: click for its rain through the run<extra></extra>",
            selected=keep,
            unselected=keep,
            showlegend=False,
        )
    )
    if chosen in places:
        place = places[chosen]
        fig.add_trace(
            go.Scatter(
                x=[place.lon],
                y=[place.lat],
                mode="markers",
                marker={"symbol": "circle-open", "size": 13, "color": "#000", "line": {"width": 2}},
                name=place.name,
                hovertemplate=f"{place.label}<extra></extra>",
                selected=keep,
                unselected=keep,
                showlegend=False,
            )
        )
    # Clicks pick cities; a drag still zooms (Streamlit would make it pan on a chart that reports selections).
    # A heatmap's hover loses to any point within hoverdistance (20 px by default): on a small map the dots would
    # take the hover over much of Korea, so a dot hovers only under the cursor.
    return fig.update_layout(dragmode="zoom", clickmode="event+select", hoverdistance=5)


QPE_COLOUR = "#3a9be0"  # the observations (a rain-scale blue), on the one chart that draws them beside the forecasts


def place_series(
    leads: list[int],
    valid: list[str],
    nwp: np.ndarray,
    qpe: np.ndarray,
    p_event: np.ndarray | None,
    threshold: float,
    p_threshold: float,
    lead: int,
    title: str,
    clock: list[str] | None = None,
    previous: dict | None = None,
) -> go.Figure:
    """One place's hours of a run: raw NWP and observed rain (mm/h, left axis) and the model's calibrated
    P(rain >= threshold) (right axis, with the decision threshold), by lead time; ``valid`` labels each lead's valid
    time in the hover, ``clock`` (e.g. "07-07 12 KST") the x ticks under the lead time, every 6 h. Hours without a
    valid observation are gaps, not dry hours. ``previous`` (``run``, and ``nwp`` and ``p`` at this run's valid
    times, NaN where it has none): an earlier run's forecasts of the same hours, dashed."""
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=leads,
            y=_f4(qpe),
            name="observed QPE",
            marker={"color": QPE_COLOUR},
            opacity=0.7,
            customdata=valid,
            hovertemplate="observed %{y:.1f} mm/h<br>+%{x} h, %{customdata}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=leads,
            y=_f4(nwp),
            mode="lines+markers",
            customdata=valid,
            hovertemplate="raw NWP %{y:.1f} mm/h<br>+%{x} h, %{customdata}<extra></extra>",
            **source_style("nwp"),
        )
    )
    fig.add_hline(y=threshold, line={"dash": "dash", "color": "#999", "width": 1})
    if p_event is not None:
        style = source_style("model")
        style["name"] = f"model P(>= {threshold:g} mm/h)"
        fig.add_trace(
            go.Scatter(
                x=leads,
                y=_f4(p_event),
                yaxis="y2",
                mode="lines+markers",
                customdata=valid,
                hovertemplate="model P = %{y:.2f}<br>+%{x} h, %{customdata}<extra></extra>",
                **style,
            )
        )
        fig.add_hline(y=p_threshold, yref="y2", line={"dash": "dot", "color": SOURCES["model"][1], "width": 1})
    for key, src, axis, unit in (("nwp", "nwp", "y", "mm/h"), ("p", "model", "y2", "")):
        if previous is None or previous.get(key) is None:
            continue
        style = source_style(src)
        name = "raw NWP" if src == "nwp" else f"model P(>= {threshold:g} mm/h)"
        fig.add_trace(
            go.Scatter(
                x=leads,
                y=_f4(previous[key]),
                yaxis=axis,
                mode="lines",
                name=f"{name}, run {previous['run']}",
                legendgroup=f"{src}_previous",
                line={"color": style["line"]["color"], "dash": "dash", "width": 1.5},
                opacity=0.6,
                customdata=valid,
                hovertemplate=f"run {previous['run']}: %{{y:.2f}} {unit}<br>+%{{x}} h, %{{customdata}}<extra></extra>",
            )
        )
    fig.add_vline(x=lead, line={"color": "#f39c1f", "width": 2})
    earlier = np.asarray(previous["nwp"]) if previous is not None else np.zeros(0)
    top = max(float(np.nanmax(nwp, initial=0.0)), float(np.nanmax(qpe, initial=0.0)), threshold) * 1.1
    top = max(top, float(np.nanmax(earlier, initial=0.0)) * 1.1)
    xaxis: dict = {"title": "lead time (h)"}
    if clock is not None:
        ticks = [j for j, lt in enumerate(leads) if lt % 6 == 0] or list(range(len(leads)))
        xaxis = {
            "title": "lead time (h) and valid time (KST)",
            "tickvals": [leads[j] for j in ticks],
            "ticktext": [f"+{leads[j]} h<br>{clock[j]}" for j in ticks],
        }
    fig.update_layout(
        title=title,
        height=350,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        xaxis=xaxis,
        yaxis={"title": "rain (mm/h)", "range": [0, top]},
        yaxis2={
            "title": "model probability",
            "range": [0, 1],
            "tickvals": [0, 0.2, 0.4, 0.6, 0.8, 1],
            "tickformat": ".0%",
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
        },
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
        bargap=0.15,
    )
    return fig
