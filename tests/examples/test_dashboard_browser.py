"""The dashboard in a real browser: Debian's chromium, headless, driven by selenium through
chromium-driver, against `python -m examples.building --dashboard` in a subprocess.

What a person looking at the page would check: it loads without console errors, the charts
have data drawn, a live value changes as the building runs, a set point typed into the page
reaches the chiller (read back over Modbus), and the 09:00 fault shows up as an alarm that
can be acknowledged.  A screenshot is saved under the test's tmp directory; the figures
(latencies) go to figures.json beside it and are printed."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import aiohttp
import pytest

from client import CseClient
from client.access import subscriber
from cse.auth import hash_secret, new_token
from examples.building.fieldbus.modbus import ModbusDevice, ModbusLink
from examples.building.fieldbus.points import load_point_lists
from examples.building.fieldbus.results import Value

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    # The page re-renders live parts (alarm rows, values): an element found a moment ago may be
    # gone or replaced; a check that meets one is simply not true yet.
    NOT_YET: tuple[type[Exception], ...] = (NoSuchElementException, StaleElementReferenceException)
except ImportError as missing:          # the test extra installs it; say so instead of passing quietly
    webdriver = None
    SELENIUM_MISSING = f"selenium is not installed ({missing}); it is in the test extra of setup.cfg"
    NOT_YET = ()
else:
    SELENIUM_MISSING = ""


def browser_or_skip() -> None:
    reasons = [SELENIUM_MISSING] if SELENIUM_MISSING else []
    reasons += [f"{path} is missing (scripts/test installs the Debian packages chromium and chromium-driver "
                "with apt-get when it can)" for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if reasons:
        pytest.skip("NO BROWSER TEST: " + "; ".join(reasons))


def wait_for(what: str, check: Callable[[], Any], timeout: float, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except NOT_YET:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tail}")
        time.sleep(0.2)


def chromium():
    """Debian's chromium, headless, through chromium-driver (never a downloaded browser)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                     "--no-first-run", "--disable-gpu"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def modbus_read(inventory: dict, device: str, point: str) -> float | None:
    info = next(d for d in inventory["devices"] if d["name"] == device)

    async def read() -> float | None:
        link = ModbusLink("127.0.0.1", info["modbus"]["port"])
        try:
            result = await ModbusDevice(link, info["modbus"]["unit"], load_point_lists().modbus[info["type"]],
                                        device).read(point)
        finally:
            await link.close()
        return result.value if isinstance(result, Value) else None
    return asyncio.run(read())


def latest_ack(inventory: dict) -> dict:
    """The newest contentInstance in the energy app's acks, as the platform holds it (HTTP, admin)."""
    async def get() -> dict:
        headers = {"X-M2M-Origin": "CAdmin", "X-M2M-RI": "t", "X-M2M-RVI": "3", "Accept": "application/json"}
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{inventory['platform']}/cse-in/building-energy/acks/la", headers=headers) as r:
                return json.loads((await r.json(content_type=None))["m2m:cin"]["con"]) if r.status == 200 else {}
    return asyncio.run(get())


def test_the_dashboard_in_chromium(tmp_path: Path):
    browser_or_skip()
    work, log = tmp_path / "work", tmp_path / "demo.log"
    # peak control is kept out of the way (a limit never reached), so the only set point
    # changes are the page's
    command = [sys.executable, "-m", "examples.building", "--day-seconds", "300", "--start-hour", "8", "--hours", "4",
               "--peak-limit", "100000", "--dashboard", "--dashboard-port", "0", "--linger", "--workdir", str(work)]
    with open(log, "wb") as out:
        demo = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    driver = None
    try:
        inventory_file = work / "inventory.json"
        inventory = wait_for("the demo's inventory.json with the dashboard", lambda: inventory_file.exists() and (
            json.loads(inventory_file.read_text()) if inventory_file.stat().st_size else None), 60, log)
        assert inventory["dashboard"], f"no dashboard in {inventory_file}"
        driver = chromium()
        driver.get(inventory["dashboard"])
        stats = lambda: driver.execute_script("return window.dashboardStats")   # noqa: E731
        wait_for("the page to read the building", lambda: stats()["ready"], 30, log)
        assert stats()["failures"] == [], stats()["failures"]
        assert "connected to ws://" in driver.find_element(By.ID, "status").text

        # the charts have data, and drew it: pixels of the consumption curve's colour
        wait_for("data in both charts", lambda: driver.execute_script(
            "const c = window.dashboardStats.charts; return c.consumption.data[0].length >= 3 "
            "&& c.demand.data[0].length >= 1"), 30, log)
        drawn = driver.execute_script("""
            const canvas = document.querySelector('#chart-consumption canvas');
            const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let i = 0; i < px.length; i += 4) if (px[i] < 80 && px[i+1] > 90 && px[i+1] < 150 && px[i+2] > 150) n++;
            return n;""")
        assert drawn > 50, f"the consumption chart has {drawn} pixels of its curve"

        # this platform has no home energy application: the home view says so
        driver.find_element(By.ID, "tab-home").click()
        assert "No home energy application" in driver.find_element(By.ID, "home-note").text
        driver.find_element(By.ID, "tab-building").click()

        # a live value changes as the simulation runs (notifications, no reload)
        before = driver.find_element(By.ID, "main-kw").text
        wait_for("the main meter's value to change", lambda: driver.find_element(By.ID, "main-kw").text != before, 20, log)
        assert stats()["notifications"] > 0

        # a set point typed into the page reaches the chiller over Modbus, and comes back
        assert modbus_read(inventory, "chiller-1", "chw_setpoint") != 9.5
        field = driver.find_element(By.ID, "chiller-setpoint")
        field.clear()
        field.send_keys("9.5")
        clicked = time.monotonic()
        driver.find_element(By.ID, "chiller-set").click()
        wait_for("chw_setpoint 9.5 on the chiller (Modbus)",
                 lambda: modbus_read(inventory, "chiller-1", "chw_setpoint") == 9.5, 15, log)
        wait_for("the page to show the chiller's reported set point",
                 lambda: driver.find_element(By.ID, "chiller-tarTe").text == "9.5", 15, log)
        round_trip_ms = (time.monotonic() - clicked) * 1000

        # the 09:00 fault of ac-2-2 appears as an alarm and is acknowledged from the page
        row_id = wait_for("the fault alarm of ac-2-2", lambda: next(
            (r.get_attribute("id") for r in driver.find_elements(By.CSS_SELECTOR, "#alarms tr.alarm")
             if "fault" in r.text and "ac-2-2" in r.text), None), 40, log)
        alarm_id = row_id.removeprefix("alarm-")
        # The row may be re-rendered meanwhile: find its button afresh until the click lands.
        wait_for("the Acknowledge button of the alarm", lambda: driver.find_element(
            By.CSS_SELECTOR, f"#alarm-{alarm_id} button.ack").click() or True, 15, log)
        wait_for("the alarm shown acknowledged by the dashboard", lambda: "by dashboard" in
                 driver.find_element(By.ID, f"alarm-{alarm_id}").text, 15, log)
        ack = latest_ack(inventory)
        assert ack.get("alarm") == alarm_id and ack.get("by") == "dashboard", ack

        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == [], errors
        assert stats()["failures"] == []
        latencies = sorted(stats()["latencies"])
        notifications = stats()["notifications"]

        # a reload finds its subscriptions (named dashboard: 4105, then RETRIEVE) and reads the
        # history as the CSE holds it
        driver.refresh()
        wait_for("the reloaded page to read the building", lambda: stats()["ready"], 30, log)
        assert stats()["failures"] == [], stats()["failures"]
        assert "by dashboard" in driver.find_element(By.ID, f"alarm-{alarm_id}").text
        wait_for("notifications to the reloaded page", lambda: stats()["notifications"] > 0, 15, log)
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
        assert latencies, "no module notification measured"
        figures = {"notifications": notifications, "module_update_to_page_ms": {
            "n": len(latencies), "median": latencies[len(latencies) // 2],
            "p95": latencies[int(len(latencies) * 0.95)], "max": latencies[-1]},
            "setpoint_click_to_device_and_back_ms": round(round_trip_ms)}
        (tmp_path / "figures.json").write_text(json.dumps(figures, indent=1))
        print(f"dashboard figures: {json.dumps(figures)}")
        driver.save_screenshot(str(tmp_path / "dashboard.png"))
        assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    finally:
        if driver is not None:
            driver.quit()
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()


def started(process: subprocess.Popen, pattern: str, what: str, timeout: float = 30) -> str:
    """The URL a child prints on its first line (`serving URL`, `dashboard at URL`)."""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    match = re.search(pattern, line)
    assert match and time.monotonic() < deadline, f"{what} did not start: {line!r}"
    return match.group(1)


def test_the_home_view_shows_a_hems_platforms_days_and_peaks(tmp_path: Path):
    """The home view against a platform holding the HEMS energy application's containers (the
    layout and content of examples/hems/energy_app.py, with CDashboard as its alert reader)."""
    browser_or_skip()
    token = new_token()
    config = tmp_path / "auth.toml"
    config.write_text(f'[auth.credentials]\nCDashboard = ["{hash_secret(token, iterations=1000)}"]\n')
    children: list[subprocess.Popen] = []
    driver = None
    try:
        platform = subprocess.Popen([sys.executable, "-m", "server", "--port", "0", "--ws-port", "0", "--config",
                                     str(config), "--data-dir", str(tmp_path / "cse"), "--log-level", "WARNING"],
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        children.append(platform)
        url = started(platform, r"serving (\S+)", "the platform")

        async def seed(*instances: tuple[str, dict]) -> None:
            async with CseClient(url, originator="CEnergyApp", cse_rn="cse-in") as app:
                await app.register("Nhems.energy", rn="energy")
                acp = await app.create_acp(app.ae_address, rn="share-alerts", rules=subscriber(["CDashboard"]))
                for rn, label in (("alerts", "hems:alerts"), ("daily", "hems:daily")):
                    await app.create(app.ae_address, {"m2m:cnt": {"rn": rn, "mni": 100, "lbl": [label],
                                                                  "acpi": [acp["ri"]]}}, exist_ok=True)
                for rn, content in instances:
                    await app.add_instance(f"{app.ae_address}/{rn}", content, cnf="application/json:0")
        day = {"day": "2024-07-15", "home": "home-1", "kwh": 31.4, "kwh_from_power": 31.2,
               "appliances": {"ev-charger": 11.0, "heat-pump": 6.5, "water-heater": 4.2}}
        peak = {"type": "peak", "home": "home-1", "t": "2024-07-15T18:15:00", "kw": 9.3, "threshold_kw": 8.0,
                "appliance": "ev-charger", "appliance_kw": 7.2, "action": "switch off ev-charger"}
        asyncio.run(seed(("daily", day), ("alerts", peak)))
        dashboard = subprocess.Popen([sys.executable, "-m", "examples.dashboard", "--platform", url, "--token", token,
                                      "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        children.append(dashboard)
        page = started(dashboard, r"dashboard at (\S+)", "the dashboard")
        driver = chromium()
        driver.get(page)
        wait_for("the page to read the platform", lambda: driver.execute_script("return window.dashboardStats.ready"), 30)
        assert driver.execute_script("return window.dashboardStats.homeFound") is True
        assert driver.execute_script("return window.dashboardStats.failures") == []
        # no building here: its view says so, and the page opens on the home view
        assert driver.find_element(By.ID, "view-home").is_displayed()
        assert "No building readable" in driver.execute_script("return document.getElementById('zones').textContent")
        days = driver.find_element(By.ID, "home-days").text
        assert "home-1" in days and "31.40" in days and "ev-charger 11.00" in days, days
        peaks = driver.find_element(By.ID, "home-peaks").text
        assert "ev-charger (7.20 kW)" in peaks and "9.30" in peaks, peaks
        # the next day arrives by notification over the page's socket
        asyncio.run(seed(("daily", {**day, "day": "2024-07-16", "kwh": 27.9})))
        wait_for("the next day on the page", lambda: "27.90" in driver.find_element(By.ID, "home-days").text, 15)
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
        driver.save_screenshot(str(tmp_path / "home.png"))
    finally:
        if driver is not None:
            driver.quit()
        for child in reversed(children):
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
