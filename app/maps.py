"""Plotly figures: rain maps on the KMA-like scale, contingency maps, lead-time curves, diagrams."""

from __future__ import annotations

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
# Okabe-Ito colour-blind-safe: correct negative, hit, miss, false alarm
CONTINGENCY = {
    0: ("correct negative", "#f2f2f2"),
    1: ("hit", "#009E73"),
    2: ("miss", "#D55E00"),
    3: ("false alarm", "#0072B2"),
}


def _stepped(colours: list[str]) -> list[list]:
    n = len(colours)
    scale = []
    for i, c in enumerate(colours):
        scale += [[i / n, c], [(i + 1) / n, c]]
    return scale


def _frame(fig: go.Figure, lat: np.ndarray, lon: np.ndarray, title: str, height: int = 430) -> go.Figure:
    for kind, colour in (("coastline", "#222"), ("border", "#666")):
        lons, lats = plotly_paths(kind)
        fig.add_trace(
            go.Scattergl(
                x=lons, y=lats, mode="lines", line={"color": colour, "width": 1}, hoverinfo="skip", showlegend=False
            )
        )
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=height,
        margin={"l": 10, "r": 10, "t": 36, "b": 10},
        plot_bgcolor="white",
        xaxis={"range": [lon[0], lon[-1]], "title": "longitude (°E)", "showgrid": False},
        yaxis={
            "range": [lat[0], lat[-1]],
            "title": "latitude (°N)",
            "scaleanchor": "x",
            "scaleratio": 1.2,
            "showgrid": False,
        },
    )
    return fig


def rain_map(values: np.ndarray, lat: np.ndarray, lon: np.ndarray, title: str, when: str) -> go.Figure:
    binned = np.digitize(values, LEVELS).astype(float)
    binned[~np.isfinite(values)] = np.nan
    fig = go.Figure(
        go.Heatmap(
            z=binned,
            x=lon,
            y=lat,
            customdata=values,
            zmin=0,
            zmax=len(RAIN_COLOURS),
            colorscale=_stepped(RAIN_COLOURS),
            colorbar={
                "title": "mm/h",
                "tickvals": np.arange(1, len(RAIN_COLOURS)),
                "ticktext": [str(v) for v in LEVELS],
            },
            hovertemplate="%{customdata:.2f} mm/h<br>%{y:.2f}°N %{x:.2f}°E<br>" + when + "<extra></extra>",
        )
    )
    return _frame(fig, lat, lon, title)


def probability_map(prob: np.ndarray, lat: np.ndarray, lon: np.ndarray, title: str, when: str) -> go.Figure:
    fig = go.Figure(
        go.Heatmap(
            z=prob,
            x=lon,
            y=lat,
            zmin=0,
            zmax=1,
            colorscale="Blues",
            colorbar={"title": "probability"},
            hovertemplate="P = %{z:.2f}<br>%{y:.2f}°N %{x:.2f}°E<br>" + when + "<extra></extra>",
        )
    )
    return _frame(fig, lat, lon, title)


def class_map(cls: np.ndarray, lat: np.ndarray, lon: np.ndarray, title: str, when: str) -> go.Figure:
    colours = ["#ffffff", "#3a9be0", "#e0301e"]
    names = np.array(["no rain (<0.1 mm/h)", "rain (0.1-10 mm/h)", "heavy rain (>=10 mm/h)"])
    fig = go.Figure(
        go.Heatmap(
            z=cls.astype(float),
            x=lon,
            y=lat,
            zmin=-0.5,
            zmax=2.5,
            colorscale=_stepped(colours),
            customdata=names[cls],
            colorbar={"title": "class", "tickvals": [0, 1, 2], "ticktext": ["<0.1", "0.1-10", ">=10 mm/h"]},
            hovertemplate="%{customdata}<br>%{y:.2f}°N %{x:.2f}°E<br>" + when + "<extra></extra>",
        )
    )
    return _frame(fig, lat, lon, title)


def contingency_map(f_event: np.ndarray, o_event: np.ndarray, valid: np.ndarray, lat, lon, title: str) -> go.Figure:
    code = np.where(f_event & o_event, 1, np.where(o_event, 2, np.where(f_event, 3, 0))).astype(float)
    code[~valid] = np.nan
    names = np.array([CONTINGENCY[i][0] for i in range(4)] + [""])
    colours = [CONTINGENCY[i][1] for i in range(4)]
    fig = go.Figure(
        go.Heatmap(
            z=code,
            x=lon,
            y=lat,
            zmin=-0.5,
            zmax=3.5,
            colorscale=_stepped(colours),
            customdata=names[np.nan_to_num(code, nan=4).astype(int)],
            colorbar={"tickvals": [0, 1, 2, 3], "ticktext": names[:4].tolist()},
            hovertemplate="%{customdata}<br>%{y:.2f}°N %{x:.2f}°E<extra></extra>",
        )
    )
    return _frame(fig, lat, lon, title, height=380)


def lead_curve(leads: list[int], series: dict[str, np.ndarray], title: str, y_title: str = "CSI") -> go.Figure:
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
    for name, values in series.items():
        fig.add_trace(go.Scatter(x=leads, y=values, mode="lines+markers", name=name))
    fig.update_layout(
        title=title,
        height=330,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis_title="lead time (h)",
        yaxis_title=y_title,
        yaxis_range=[0, 1],
    )
    return fig
