"""The dashboard in a real browser: ``ferstream dashboard`` as a subprocess, headless Chromium driven by selenium.

Each test waits for the headline chart to be drawn with data (coloured pixels in
its canvas), checks the page holds no Streamlit exception, and saves a screenshot.
Set ``FERSTREAM_DOCS_SCREENSHOT=docs/dashboard.png`` to refresh the README's
screenshot from the WolfgangLanger test.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ferstream import db
from ferstream.dashboard.charts import EMOTION_COLORS
from ferstream.dashboard.defaults import DEFAULT_REFRESH_SECONDS
from ferstream.db import writes
from tests.helpers import CLI, counts

from dashboard_testing import TIMELINE, append_live_frames, write_live_stream

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--window-size=1400,1050"]
#: data marks of the chart named arguments[0] drawn in an emotion colour (arguments[1]): the bars vega
#: drew as SVG, or, when it draws on a canvas, hundreds of pixels in those colours
DRAWN_MARKS_JS = """
const root = document.querySelector(`[aria-label="${arguments[0]}"]`);
if (!root) return 0;
const colours = arguments[1];
const canvas = root.querySelector('canvas');
if (canvas) {
  if (!canvas.width || !canvas.height) return 0;
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const rgb = colours.map(c => [1, 3, 5].map(i => parseInt(c.slice(i, i + 2), 16)));
  let n = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (rgb.some(([r, g, b]) => Math.abs(px[i] - r) + Math.abs(px[i + 1] - g) + Math.abs(px[i + 2] - b) < 12)) n++;
  }
  return Math.floor(n / 100);
}
return Array.from(root.querySelectorAll('svg .role-mark path, svg .role-mark rect'))
  .filter(m => colours.includes((m.getAttribute('fill') || '').toLowerCase())).length;
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def browser(tmp_path):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("chromium and chromium-driver are not installed: run the tests with `make test`, which installs them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path / "downloads"),
                                              "download.prompt_for_download": False})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.set_page_load_timeout(60)
    try:
        yield chrome
    finally:
        chrome.quit()


@contextmanager
def dashboard(database_url: str, workdir: Path, *args: str):
    """``ferstream dashboard --port <free port> ARGS`` against ``database_url``; yields its URL."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FERSTREAM_UPLOAD_DIR": str(workdir / "uploads")}
    env.pop("REDIS_URL", None)
    log = open(workdir / "dashboard.log", "w")
    proc = subprocess.Popen([*CLI, "dashboard", "--port", str(port), "--database", database_url, *args],
                            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the dashboard did not start:\n{(workdir / 'dashboard.log').read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def wait_for_chart(chrome, timeout: float = 90) -> int:
    """Waits until the headline chart is drawn with data; the number of its bars in an emotion's colour."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(chrome, timeout, poll_frequency=0.5).until(lambda d: drawn_marks(d) > 0)
    time.sleep(1.0)  # let the other elements settle before a screenshot
    return drawn_marks(chrome)


def drawn_marks(chrome) -> int:
    return chrome.execute_script(DRAWN_MARKS_JS, TIMELINE, [c.lower() for c in EMOTION_COLORS.values()])


def page_text(chrome) -> str:
    from selenium.webdriver.common.by import By

    return chrome.find_element(By.TAG_NAME, "body").text


def assert_no_exception(chrome) -> None:
    from selenium.webdriver.common.by import By

    boxes = chrome.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    assert not boxes, boxes[0].text
    assert "Traceback" not in page_text(chrome)


def metric(chrome, label: str) -> str:
    from selenium.webdriver.common.by import By

    for box in chrome.find_elements(By.CSS_SELECTOR, '[data-testid="stMetric"]'):
        if box.find_element(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]').text.strip() == label:
            return box.find_element(By.CSS_SELECTOR, '[data-testid="stMetricValue"]').text.strip()
    raise AssertionError(f"no metric {label!r} on the page")


def test_the_chart_renders_in_chromium_and_the_csv_downloads(pipeline_db, browser, tmp_path):
    from selenium.webdriver.common.by import By

    with dashboard(pipeline_db, tmp_path) as url:
        browser.get(url)
        assert wait_for_chart(browser) >= 4  # a bar in each of the four 1-second buckets
        assert_no_exception(browser)
        c = counts(pipeline_db, 3)
        assert metric(browser, "Faces analysed") == str(c["faces"])
        assert metric(browser, "Dominant emotion") == "happy"
        assert "People" in page_text(browser) and "Person (track)" in page_text(browser)  # one source: its people
        from selenium.webdriver.support.ui import WebDriverWait

        from ferstream.dashboard.views import PERSON_TIMELINE

        colours = [c.lower() for c in EMOTION_COLORS.values()]
        WebDriverWait(browser, 60, poll_frequency=0.5).until(
            lambda d: d.execute_script(DRAWN_MARKS_JS, PERSON_TIMELINE, colours) > 0)  # the person's own chart
        assert browser.save_screenshot(str(tmp_path / "dashboard.png"))

        browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path / "downloads")})
        (button,) = [b for b in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stDownloadButton"] button')
                     if "Download CSV" in b.text]
        button.click()
        deadline = time.monotonic() + 30
        while not list((tmp_path / "downloads").glob("*.csv")) and time.monotonic() < deadline:
            time.sleep(0.2)
        (download,) = (tmp_path / "downloads").glob("*.csv")
        rows = list(csv.DictReader(io.StringIO(download.read_text())))
        assert download.name == "ferstream-astronaut-5fps-1s.csv"
        assert sum(int(r["faces"]) for r in rows) == c["faces"] - c["uncertain"]  # uncertain faces are not charted
        assert set(rows[0]) == {"bucket_start", "bucket_end", "emotion", "faces", "share", "mean_confidence"}
@pytest.mark.long
def test_a_running_source_refreshes_without_reloading_the_page(browser, tmp_path):
    url = f"sqlite:///{tmp_path / 'ferstream.db'}"
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=2)
    sid = write_live_stream(url, "lobby", start, [["happy"]] * 30, running=True)
    with dashboard(url, tmp_path) as page:
        browser.get(page)
        wait_for_chart(browser)
        assert metric(browser, "Faces analysed") == "30"
        assert re.search(r"lobby: running · stream running, last frame \d+s ago · 30 frames, 30 faces", page_text(browser))
        browser.execute_script("window.notReloaded = true")

        append_live_frames(url, sid, start, [["surprise"]] * 30, first=30)  # the worker writes more results
        deadline = time.monotonic() + 30
        while metric(browser, "Faces analysed") != "60" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert metric(browser, "Faces analysed") == "60"
        assert browser.execute_script("return window.notReloaded === true")  # the fragment reran, the page stayed
        assert_no_exception(browser)

        writes.update_source(db.connect(url), sid, state="finished")  # the stream ends: the page stops refreshing
        deadline = time.monotonic() + 30
        while "lobby: done" not in page_text(browser) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "lobby: done · 60 frames, 60 faces" in page_text(browser)

        append_live_frames(url, sid, start, [["sad"]] * 10, first=60)  # rows after the end: not followed any more
        time.sleep(4 * DEFAULT_REFRESH_SECONDS)
        assert metric(browser, "Faces analysed") == "60"


def test_an_upload_through_the_browser_is_analysed_and_charted(astronaut_video, browser, tmp_path):
    """The real upload path (HTTP upload, form submit), analysed in the server's process, followed live."""
    from selenium.webdriver.common.by import By

    url = f"sqlite:///{tmp_path / 'ferstream.db'}"
    with dashboard(url, tmp_path) as page:
        browser.get(page)
        deadline = time.monotonic() + 60
        while "No sources yet" not in page_text(browser) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "No sources yet" in page_text(browser)
        uploader = 'section[data-testid="stSidebar"] input[type="file"]'
        while not browser.find_elements(By.CSS_SELECTOR, uploader) and time.monotonic() < deadline:
            time.sleep(0.2)  # the sidebar may render after the main area on a loaded machine
        browser.find_element(By.CSS_SELECTOR, uploader).send_keys(str(astronaut_video))
        while "astronaut.mp4" not in page_text(browser) and time.monotonic() < deadline:
            time.sleep(0.2)
        (analyse,) = [b for b in browser.find_elements(By.CSS_SELECTOR, "section[data-testid='stSidebar'] button")
                      if b.text.strip() == "Analyse"]
        analyse.click()
        deadline = time.monotonic() + 120
        while "astronaut.mp4: done" not in page_text(browser) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "astronaut.mp4: done · 60 frames" in page_text(browser)  # refreshed by itself until done
        assert "being analysed in this process" in page_text(browser)
        assert wait_for_chart(browser) >= 4
        assert metric(browser, "Faces analysed") == str(counts(url, 1)["faces"])
        assert_no_exception(browser)
    assert "removed the upload" in (tmp_path / "dashboard.log").read_text()
    assert not any((tmp_path / "uploads").iterdir())  # analysed: no copy of the video (faces) left on disk


@pytest.mark.media
def test_wolfgang_langer_in_chromium(wolfgang_db, browser, tmp_path):
    browser.set_window_size(1400, 1250)  # the whole page, for the README
    with dashboard(wolfgang_db, tmp_path) as url:
        browser.get(url)
        assert wait_for_chart(browser) >= 20  # a bar in each of the 20 one-second buckets at least
        assert_no_exception(browser)
        assert metric(browser, "Frames analysed") == "472"
        png = browser.get_screenshot_as_png()
    (tmp_path / "dashboard.png").write_bytes(png)
    target = os.environ.get("FERSTREAM_DOCS_SCREENSHOT")
    if target:
        save_small_png(png, Path(target))
        assert Path(target).stat().st_size < 300_000


def save_small_png(png: bytes, path: Path) -> None:
    """The screenshot with a 256-colour palette: the same picture at a fraction of the size."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
