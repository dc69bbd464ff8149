"""The dashboard's events view under AppTest, on a database the real pipeline filled with `analyze --rules`."""

from __future__ import annotations

import pytest

from ferstream import db
from ferstream.events.store import list_events
from tests.helpers import ferstream

from dashboard_testing import chart_data, open_app
from test_dashboard_browser import browser  # noqa: F401 - the headless Chromium fixture

RULES = """
rules:
  - {name: sad-person, per: track, emotions: [sad, fear], min_share: 0.6, for: 3s, severity: alert}
  - {name: happy-room, per: source, emotions: [happy], min_share: 0.8, for: 2s, severity: detection}
"""

pytestmark = pytest.mark.media  # WolfgangLanger, from ../shared/media


@pytest.fixture(scope="session")
def events_db(tmp_path_factory, media) -> str:
    folder = tmp_path_factory.mktemp("events-db")
    (folder / "rules.yaml").write_text(RULES)
    url = f"sqlite:///{folder / 'ferstream.db'}"
    ferstream("analyze", str(media / "WolfgangLanger_Pexels.mp4"), "--sample-fps", "5", "--rules",
              str(folder / "rules.yaml"), "--database", url, timeout=600)
    return url


def test_the_events_view_shows_the_events_filters_them_and_opens_one(events_db, app_env):
    app_env(events_db)
    stored = list_events(db.connect(events_db))
    assert sorted(stored["rule"]) == ["happy-room", "sad-person"]
    at = open_app()
    assert not at.exception
    timeline = chart_data(at, "Events over time")
    assert sorted(timeline["rule"]) == ["happy-room", "sad-person"]
    assert timeline.set_index("rule")["start"].to_dict() == pytest.approx(stored.set_index("rule")["start"].to_dict())

    at.multiselect(key="event_severities").set_value(["alert"]).run()
    assert chart_data(at, "Events over time")["rule"].tolist() == ["sad-person"]

    sad = stored[stored["rule"] == "sad-person"].iloc[0]
    at.selectbox(key="event_open").set_value(sad["id"]).run()
    assert not at.exception
    person = chart_data(at, "The person's emotions over the event")
    assert person["timestamp"].min() >= sad["start"] - 1e-6 and person["timestamp"].max() <= sad["end"] + 1e-6
    assert person.groupby("emotion")["probability"].mean()[["sad", "fear"]].sum() > 0.6
    # the annotated frame at the peak, beside the frame picker's own (the source is a video file)
    assert len(at.get("image")) == 2 and "the peak of the event" in str(at.get("image")[1].proto)


def test_the_events_timeline_renders_in_chromium(events_db, browser, tmp_path):
    """The real page in a headless browser: the events' timeline is drawn, its bars in the severities' colours."""
    from selenium.webdriver.support.ui import WebDriverWait

    import test_dashboard_browser as page

    browser.set_window_size(1400, 2400)
    with page.dashboard(events_db, tmp_path) as url:
        browser.get(url)
        page.wait_for_chart(browser)

        def bars():
            return browser.execute_script(page.DRAWN_MARKS_JS, "Events over time", ["#d62728", "#1f77b4"])

        WebDriverWait(browser, 60, poll_frequency=0.5).until(lambda d: bars() > 0)
        page.assert_no_exception(browser)
        assert "2 of 2 event(s)" in page.page_text(browser)
