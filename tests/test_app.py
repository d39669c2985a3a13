from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app" / "main.py")


@pytest.fixture
def app(demo_archive: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PRECIP_DATA", str(demo_archive))
    return AppTest.from_file(APP, default_timeout=120).run()


def test_viewer_shows_both_maps_with_utc_and_kst(app: AppTest):
    assert not app.exception and not app.error
    assert len(app.get("plotly_chart")) == 2
    assert "UTC" in app.caption[0].value and "KST" in app.caption[0].value
    app.sidebar.slider[0].set_value(30).run()
    assert "lead 30 h" in app.caption[0].value and "2026-07-03 06 UTC / 2026-07-03 15 KST" in app.caption[0].value


def test_bad_data_folder_is_a_message_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PRECIP_DATA", str(tmp_path / "nowhere"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "does not exist" in at.error[0].value
