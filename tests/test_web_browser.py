"""The live view in a real headless browser (Debian's Chromium, driven by Selenium through
Debian's chromedriver): the count reaches the true count, the frame canvas is drawn, graph strings
stay text, and a screenshot is written."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from gym_helpers import athlete, side_by_side, write_video
from web_helpers import athlete_graph, running

from nodes.counting import spec

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# In CI (.ci/run installs them) a missing browser is a failure, never a skip.
pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()) and not os.environ.get("CI"),
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)


@pytest.fixture
def browser(tmp_path: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1400,900",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, script: str, seconds: float = 90.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def test_page_counts_to_the_true_count_and_draws_the_frame(tmp_path: Path, browser) -> None:
    with running(athlete_graph(tmp_path, reps=3)) as (_, view, _):
        # Open the page before the set is over, as a person would.
        browser.get(view.url)
        wait_for(browser, "return document.getElementById('status').textContent === 'ended'")
        assert browser.find_element("id", "reps").text == "3"
        assert browser.find_element("id", "exercise").text.lower() == "squat"
        assert len(browser.find_elements("css selector", "#rep-table tbody tr")) == 3
        spread = browser.execute_script(
            "const c = document.getElementById('frame');"
            "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            "let lo = 255, hi = 0;"
            "for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }"
            "return hi - lo;"
        )
        assert spread > 50, "the frame canvas is blank"
        shot = tmp_path / "live-view.png"  # written under the test's temporary folder
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_the_ended_page_links_the_session_report(tmp_path: Path, browser) -> None:
    with running(athlete_graph(tmp_path, reps=3)) as (_, view, _):
        browser.get(view.url)
        wait_for(browser, "return document.getElementById('status').textContent === 'ended'")
        wait_for(browser, "return !document.getElementById('report-link').hidden")
        browser.find_element("id", "report-link").click()
        wait_for(browser, "return document.title === 'Session report'")
        reps = [row.text.split()[:2] for row in browser.find_elements("css selector", "tr.rep")]
        assert reps == [["squat", str(n)] for n in (1, 2, 3)]
        drawn = browser.execute_script(
            "return [...document.images].map(i => i.complete && i.naturalWidth > 500 && i.src.startsWith('data:'))"
        )
        assert drawn == [True, True]  # both plots decoded, from the page itself
        fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert fetched == []  # the report loads nothing, from outside or from the server


def test_strings_from_the_graph_stay_text(tmp_path: Path, browser) -> None:
    name = '<b id="injected">squat</b><img src=x onerror="document.title=1">'
    workout = tmp_path / "tricky.yaml"
    text = Path(spec.find("squat")).read_text()
    workout.write_text(text.replace("exercise: squat", f"exercise: '{name}'", 1))
    graph = athlete_graph(tmp_path, reps=1)
    graph.write_text(graph.read_text().replace('exercise: "squat"', f'exercise: "{workout}"'))
    with running(graph) as (_, view, _):
        browser.get(view.url)
        wait_for(browser, "return document.getElementById('status').textContent === 'ended'")
        assert browser.execute_script("return document.getElementById('exercise').textContent") == name
        assert browser.execute_script("return document.getElementById('injected') === null && document.title !== '1'")


def test_the_gym_page_shows_every_persons_count_and_whose_rep(tmp_path: Path, browser) -> None:
    video = tmp_path / "two.mp4"
    write_video(video, side_by_side(athlete("squat*2"), athlete("push-up*3", seed=1)))
    sets = [f"input={video}", "people=2", "web.port=0", f"out={tmp_path / 'reps.jsonl'}", "session.print=false"]
    with running(Path("graphs/gym_live.yaml"), sets) as (_, view, _):
        browser.get(view.url)
        wait_for(browser, "return document.getElementById('status').textContent === 'ended'", 300)
        people = sorted(li.text for li in browser.find_elements("css selector", "#people-list li"))
        assert sorted(p.split(" ", 1)[1] for p in people) == ["push-up 3", "squat 2"]
        assert browser.find_element("id", "reps").text == "5"
        whose = [c.text for c in browser.find_elements("css selector", "#rep-table tbody td.who")]
        reps = {"squat": 2, "push-up": 3}
        expected = [f"{pid} {ex}" for pid, ex in (p.split(" ")[:2] for p in people) for _ in range(reps[ex])]
        assert sorted(whose) == sorted(expected)
        assert browser.find_element("css selector", "#rep-table th.who").is_displayed()
        shot = tmp_path / "gym-live.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
