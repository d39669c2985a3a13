"""Where the charts of a page sit: side by side while each keeps a useful size, one under another when not."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

# A map is drawn whole (its plot at the full height of the figure, its colour bar's labels level) in a slot at least
# this wide: its plot of ~205 px, the latitude labels and title (72 px) and the right margin (app/maps.py). In
# st.columns, three maps on a laptop's page (1100 px with the sidebar open) were 121 px wide, their colour bars'
# labels turned on end and the heavy class's label cut off.
CHART_MIN_WIDTH_PX = 300


def chart_slots(n: int, key: str, min_width_px: int = CHART_MIN_WIDTH_PX) -> list[DeltaGenerator]:
    """``n`` equal slots in a row, which wrap onto a new row where the page is too narrow for each to be
    ``min_width_px`` wide. ``key`` names the row (a CSS class ``st-key-<key>``) and must be unique on a page."""
    row = _wrapping_row(key, f"> div {{ min-width: {min_width_px}px; }}")
    return [row.container() for _ in range(n)]


def side_and_chart(key: str, side_px: int = 300, chart_min_px: int = 460) -> tuple[DeltaGenerator, DeltaGenerator]:
    """A column of controls ``side_px`` wide beside a chart that takes the rest of the row, and goes under them
    where the row is too narrow for the chart to be ``chart_min_px`` wide. In st.columns([1, 3]) on a laptop, the
    controls' column was 150 px wide, its text a word a line."""
    row = _wrapping_row(key, f"> div:last-child {{ min-width: {chart_min_px}px; }}")
    return row.container(width=side_px), row.container()


def _wrapping_row(key: str, rule: str) -> DeltaGenerator:
    """A row whose children wrap onto new rows, named ``key`` (CSS class ``st-key-<key>``), with the CSS ``rule``
    for its children (a selector from the row on, and declarations)."""
    st.html(f"<style>.st-key-{key} {rule}</style>")
    return st.container(horizontal=True, wrap=True, key=key)
