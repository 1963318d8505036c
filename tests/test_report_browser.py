"""The report in a real headless Chromium (Debian's `chromium`; `make test-browser` installs
it), driven over the DevTools protocol: no console errors, every run rendered, sorting and
filtering work, and a screenshot is written (out/report-browser-test.png) for a person to look at."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from report_runs import N_RUNS, make_sweep

from phasewatch.cli import main

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs a Chromium: `make test-browser` installs Debian's chromium "
    "(apt-get install chromium); it could not be found on PATH")
tornado_ws = pytest.importorskip("tornado.websocket", reason="needs tornado (dask extra)")
SCREENSHOT = Path(__file__).resolve().parent.parent / "out" / "report-browser-test.png"  # gitignored


class Page:
    """One tab over the DevTools protocol; console errors and exceptions are collected."""

    def __init__(self, ws):
        self.ws, self.next_id, self.errors, self.events = ws, 0, [], []

    async def call(self, method: str, **params):
        self.next_id += 1
        my_id = self.next_id
        await self.ws.write_message(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.read_message(), 30))
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        self.events.append(method)
        if method == "Runtime.exceptionThrown":
            self.errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(str(params.get("args")))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.errors.append(params["entry"].get("text", ""))

    async def wait_event(self, name: str, timeout: float = 30):
        if name in self.events:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(await asyncio.wait_for(self.ws.read_message(), timeout))
            self._event(msg)
            if msg.get("method") == name:
                return
        raise TimeoutError(name)

    async def js(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--window-size=1400,1800", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and port is None:
        line = proc.stderr.readline()
        match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if match:
            port = int(match.group(1))
        elif not line and proc.poll() is not None:
            break
    if port is None:
        proc.kill()
        pytest.skip("chromium did not start a DevTools endpoint")
    yield port
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = make_sweep(tmp_path_factory.mktemp("sweep"))
    out = root / "report.html"
    assert main(["report", str(root / "*"), "--workers", "2", "--no-progress",
                 "-o", str(out)]) == 0
    return out


def _page_target(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as resp:
        targets = json.load(resp)
    return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")


async def _session(page_ws: str, url: str, checks):
    ws = await tornado_ws.websocket_connect(page_ws, max_message_size=64 << 20)
    page = Page(ws)
    try:
        for domain in ("Runtime", "Log", "Page"):
            await page.call(f"{domain}.enable")
        await page.call("Page.navigate", url=url)
        await page.wait_event("Page.loadEventFired")
        return await checks(page)
    finally:
        ws.close()


def test_report_in_chromium(browser, report):
    async def checks(page: Page):
        out = {"cards": await page.js("document.querySelectorAll('#multiples .card').length"),
               "card_svgs": await page.js(
                   "document.querySelectorAll('#multiples .card svg polyline').length"),
               "rows": await page.js("document.querySelectorAll('#sweep tbody tr').length"),
               "details": await page.js("document.querySelectorAll('details.run').length")}
        col = await page.js("Array.from(document.querySelectorAll('#sweep th'))"
                            ".map(h => h.textContent).indexOf('dip_depth')")
        cells = (f"Array.from(document.querySelectorAll('#sweep tbody tr'))"
                 f".map(r => r.cells[{col}].getAttribute('data-v'))")
        await page.js(f"document.querySelectorAll('#sweep th')[{col}].click()")
        out["asc"] = await page.js(cells)
        await page.js(f"document.querySelectorAll('#sweep th')[{col}].click()")
        out["desc"] = await page.js(cells)
        await page.js("var b=document.getElementById('filter'); b.value='chord_phi e1024';"
                      "b.dispatchEvent(new Event('input'))")
        out["shown_rows"] = await page.js(
            "Array.from(document.querySelectorAll('#sweep tbody tr'))"
            ".filter(r => r.style.display !== 'none').length")
        out["shown_cards"] = await page.js(
            "Array.from(document.querySelectorAll('#multiples .card'))"
            ".filter(c => c.style.display !== 'none').length")
        await page.js("var b=document.getElementById('filter'); b.value='';"
                      "b.dispatchEvent(new Event('input'))")
        await page.js("document.querySelector('#multiples .card').click()")
        out["opened"] = await page.js("document.getElementById('run-0').open")
        await page.js("window.scrollTo(0, 0)")
        shot = await page.call("Page.captureScreenshot", format="png",
                               captureBeyondViewport=True)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(base64.b64decode(shot["data"]))
        out["errors"] = list(page.errors)
        return out

    out = asyncio.run(_session(_page_target(browser), report.as_uri(), checks))
    assert out["errors"] == []
    assert out["cards"] == out["rows"] == out["details"] == N_RUNS
    assert out["card_svgs"] == N_RUNS - 1  # the unreadable run's card shows its error
    numbers = [float(v) for v in out["asc"] if v]
    assert numbers == sorted(numbers) and len(numbers) >= 6  # the sft runs have a dip
    assert out["asc"][len(numbers):] == [""] * (N_RUNS - len(numbers))  # empty cells last
    numbers_desc = [float(v) for v in out["desc"] if v]
    assert numbers_desc == sorted(numbers, reverse=True)
    assert out["shown_rows"] == out["shown_cards"] == 3  # 3 seeds of chord_phi, expert 1024
    assert out["opened"] is True
    assert SCREENSHOT.stat().st_size > 20_000
