"""The forecaster app: `streamlit run app/main.py`. Routes to the pages in `app/views/`, each named in the sidebar."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st

from app import choices

# The URL of each page is its file's name, so that a page's address, its file and a test's `switch_page` agree.
PAGES = [
    st.Page("views/case_viewer.py", title="Case viewer", icon=":material/rainy:", default=True),
    st.Page("views/verification.py", title="Verification", icon=":material/query_stats:", url_path="verification"),
    st.Page("views/case_library.py", title="Case library", icon=":material/folder_open:", url_path="case_library"),
    st.Page("views/model_card.py", title="Model card", icon=":material/description:", url_path="model_card"),
]


def _moved(path: str, title: str, old_address: str) -> st.Page:
    """A hidden page at the address the page at ``path`` had in the days of the ``pages/`` folder, for bookmarks:
    it opens that page with the same query parameters."""

    def forward() -> None:
        st.switch_page(path, query_params=st.query_params.to_dict())

    return st.Page(forward, title=title, url_path=old_address, visibility="hidden")


MOVED = [
    _moved("views/verification.py", "Verification", "Verification"),
    _moved("views/case_library.py", "Case library", "Case_library"),
    _moved("views/model_card.py", "Model card", "Model_card"),
]

st.set_page_config(page_icon=":material/rainy:", layout="wide")
choices.keep()  # what the sidebar holds outlives a page that does not draw it
page = st.navigation(PAGES + MOVED)
choices.stop_play_elsewhere(page)
page.run()
