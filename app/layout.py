"""Where the maps of a page sit: side by side while each keeps its full size, one under another when not."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

# A map is drawn whole (its plot at the full height of the figure, its colour bar's labels level) in a slot at least
# this wide: its plot of ~205 px, the latitude labels and title (72 px) and the right margin (app/maps.py). In
# st.columns, three maps on a laptop's page (1100 px with the sidebar open) were 118 px wide, their colour bars'
# labels turned on end and the heavy class's label cut off.
MAP_MIN_WIDTH_PX = 300


def map_slots(n: int, key: str) -> list[DeltaGenerator]:
    """``n`` equal slots in a row for maps, which wrap onto a new row where the page is too narrow for all of them to
    be ``MAP_MIN_WIDTH_PX`` wide. ``key`` names the row (a CSS class ``st-key-<key>``) and must be unique on a page."""
    st.html(f"<style>.st-key-{key} > div {{ min-width: {MAP_MIN_WIDTH_PX}px; }}</style>")
    row = st.container(horizontal=True, wrap=True, key=key)
    return [row.container() for _ in range(n)]
