"""The web page in a real headless Chromium (Selenium + Debian's chromium/chromium-driver).

A uvicorn server runs in a thread on 127.0.0.1 (a free port) with a fresh data directory;
the browser edits a scenario (the last troop point), runs it, and waits until the fan
charts and the governorate map are drawn (Plotly SVG elements), then compares it with its
base and checks the contrasts table. Screenshots go to the test's tmp dir and, when $OUT is
set, to $OUT. Skipped only when chromium is missing locally and CI is not set; in CI a
missing browser fails the test.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p and Path(p).exists()), None)
DRIVER = next((p for p in ("/usr/bin/chromedriver", shutil.which("chromedriver"))
               if p and Path(p).exists()), None)
IN_CI = bool(os.environ.get("CI"))
HAVE_SELENIUM = importlib.util.find_spec("selenium") is not None

if (CHROMIUM is None or DRIVER is None or not HAVE_SELENIUM) and not IN_CI:
    pytest.skip("headless e2e test needs Debian's chromium and chromium-driver "
                "(apt-get install chromium chromium-driver) and the selenium package; "
                "not installed here and CI is not set", allow_module_level=True)

CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update",
               "--no-first-run", "--window-size=1400,3800"]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[str]:
    import uvicorn

    from resurgence.web import Settings, create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("e2e-data"), port=port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not server.started:
        assert thread.is_alive() and time.monotonic() - t0 < 60, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    assert CHROMIUM and DRIVER, "CI must install chromium and chromium-driver (apt)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in [*CHROME_ARGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    driver.save_screenshot(str(path))
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(out) / name)
    return path


def _drawn(driver) -> bool:
    from selenium.webdriver.common.by import By

    fans = [driver.find_elements(By.CSS_SELECTOR, f"#fan-{m} .main-svg .scatterlayer .trace")
            for m in ("is_attacks", "is_fighters", "militia_attacks_us", "iran_influence")]
    regions = driver.find_elements(By.CSS_SELECTOR, "#map .main-svg path.choroplethlocation")
    return all(fans) and len(regions) == 18


def _severe(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_edit_run_chart_map_compare(live_server, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    d = browser
    d.get(live_server + "/")
    WebDriverWait(d, 60).until(lambda d: d.find_element(By.TAG_NAME, "body")
                               .get_attribute("data-ready") == "1")
    Select(d.find_element(By.ID, "base")).select_by_value("announced-2500")
    WebDriverWait(d, 30).until(lambda d: "2,500" in d.find_element(By.ID, "base-desc").text
                               or d.find_elements(By.CSS_SELECTOR, "#troops-table tbody tr"))
    # edit: the last troop point (2,500 from mid-January 2021) becomes 1,000
    rows = d.find_elements(By.CSS_SELECTOR, "#troops-table tbody tr")
    troops = rows[-1].find_elements(By.TAG_NAME, "input")[1]
    assert float(troops.get_attribute("value")) == 2500
    troops.clear()
    troops.send_keys("1000")
    name = d.find_element(By.ID, "sc-name")
    name.clear()
    name.send_keys("cut-to-1000")
    d.find_element(By.ID, "validate").click()
    WebDriverWait(d, 30).until(lambda d: "valid" in d.find_element(By.ID, "validate-msg").text)
    assert "cut-to-1000" in d.find_element(By.ID, "validate-msg").text
    for field, value in (("runs", "20"), ("weeks", "30")):
        el = d.find_element(By.ID, field)
        el.clear()
        el.send_keys(value)
    Select(d.find_element(By.ID, "posterior")).select_by_value("none")

    d.find_element(By.ID, "run").click()
    WebDriverWait(d, 240).until(_drawn)
    status = d.find_element(By.ID, "job-status").text
    assert "cut-to-1000" in status and "done" in status, status
    assert "Outcomes" in d.find_element(By.ID, "table-title").text
    assert d.find_element(By.ID, "dl-bundle").get_attribute("href").endswith("/bundle")
    shot = _shot(d, tmp_path, "web-e2e-run.png")
    assert shot.stat().st_size > 20_000

    Select(d.find_element(By.ID, "cmp-a")).select_by_value("announced-2500")
    d.find_element(By.ID, "compare").click()
    WebDriverWait(d, 240).until(lambda d: "Paired contrasts" in
                                d.find_element(By.ID, "table-title").text and _drawn(d))
    table = d.find_element(By.ID, "outcomes").text
    assert "us_troops_end" in table and "effect B − A" in table
    legend = d.find_element(By.ID, "fan-is_attacks").text
    assert "announced-2500" in legend and "cut-to-1000" in legend
    _shot(d, tmp_path, "web-e2e-compare.png")

    # paste TOML: validated by the server and loaded into the form
    d.find_element(By.ID, "tab-toml").click()
    box = d.find_element(By.ID, "toml")
    box.clear()
    box.send_keys('name = "from-toml"\nbase = "full-withdrawal"\n\n[schedules]\n'
                  'isr = [["2021-03-01", 0.5]]\n')
    d.find_element(By.ID, "toml-load").click()
    WebDriverWait(d, 30).until(lambda d: "loaded" in d.find_element(By.ID, "validate-msg").text)
    assert d.find_element(By.ID, "sc-name").get_attribute("value") == "from-toml"
    assert d.find_element(By.ID, "pane-form").is_displayed()
    assert not _severe(d), _severe(d)  # no script errors, no failed requests so far
    d.find_element(By.ID, "tab-toml").click()
    bad = d.find_element(By.ID, "toml")
    bad.clear()
    bad.send_keys('name = "x"\nweeks = "many"\n')
    d.find_element(By.ID, "toml-load").click()
    WebDriverWait(d, 30).until(lambda d: "field 'weeks'" in
                               d.find_element(By.ID, "validate-msg").text)
    assert all("422" in m for m in _severe(d))  # only the refused TOML
