"""The Live page in a real browser: a real camera stream watched with a real worker through a real Redis, the page
served by ``ferstream dashboard --redis`` and opened in headless Chromium."""

from __future__ import annotations

import time
import urllib.request

import cv2
import numpy as np
import pytest

from ferstream.dashboard.live import LIVE_TIMELINE
from tests.streams import watched_camera

from test_dashboard_browser import assert_no_exception, browser, dashboard, page_text  # noqa: F401 - fixture



def picture_src(chrome) -> str | None:
    from selenium.webdriver.common.by import By

    found = [e.get_attribute("src") for e in chrome.find_elements(By.CSS_SELECTOR, '[data-testid="stImage"] img')]
    return found[0] if found else None


def drawn(src: str) -> np.ndarray:
    """The picture the page shows, fetched as the browser did and decoded."""
    with urllib.request.urlopen(src, timeout=10) as r:
        return cv2.imdecode(np.frombuffer(r.read(), np.uint8), cv2.IMREAD_COLOR)


@pytest.mark.long
def test_the_live_page_shows_each_running_camera_with_its_faces_drawn_and_a_picture_that_changes(
        browser, tmp_path, redis_url, astronaut_video):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    database_url = f"sqlite:///{tmp_path / 'ferstream.db'}"
    with watched_camera(tmp_path, astronaut_video, database_url, redis_url), \
            dashboard(database_url, tmp_path, "--redis", redis_url) as url:
        browser.get(url + "live")
        first = WebDriverWait(browser, 90, poll_frequency=0.3).until(picture_src)
        WebDriverWait(browser, 30, poll_frequency=0.3).until(lambda d: picture_src(d) not in (None, first))
        image = drawn(picture_src(browser))
        assert image.shape[1] <= 640
        colourful = (image.max(axis=2).astype(int) - image.min(axis=2)) > 80  # a box or label on the grey frame
        assert colourful.sum() > 100
        WebDriverWait(browser, 30, poll_frequency=0.5).until(lambda d: "person #" in page_text(d))
        assert "lobby" in page_text(browser)
        browser.execute_script("window.notReloaded = true")

        box = browser.find_element(By.CSS_SELECTOR, '[data-testid="stSelectbox"] input')
        box.click()
        box.send_keys("lobby", Keys.ENTER)  # open the camera large, beside its chart
        WebDriverWait(browser, 60, poll_frequency=0.5).until(lambda d: "Emotions, last minutes" in page_text(d))
        WebDriverWait(browser, 60, poll_frequency=0.5).until(lambda d: d.find_elements(
            By.CSS_SELECTOR, f'[aria-label="{LIVE_TIMELINE}"]'))
        WebDriverWait(browser, 30, poll_frequency=0.3).until(picture_src)
        assert browser.execute_script("return window.notReloaded === true")  # the fragment refreshed, not the page
        assert_no_exception(browser)
        assert browser.save_screenshot(str(tmp_path / "live.png"))
