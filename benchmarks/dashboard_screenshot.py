"""A screenshot of the admin dashboard in headless Chromium, and its load time.

Drives Debian's chromium through chromedriver's W3C WebDriver HTTP API with the
standard library only: logs in through the admin login form, opens /admin/dashboard/,
checks the chart is there, times the page as the browser saw it (Navigation Timing),
and saves a PNG. Needs the `chromium` and `chromium-driver` packages.

Usage, against the database DATABASE_URL names (a superuser `dashboard-shot` is created
or given a new random password):
    .venv/bin/python benchmarks/dashboard_screenshot.py [--out var/dashboard.png] [--loads 10]
tests/test_dashboard_browser.py runs `capture` against a live test server.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1700",
]


def browser_available() -> bool:
    return bool(shutil.which("chromedriver") and (shutil.which("chromium") or _chromium()))


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    """The few WebDriver commands this needs, over HTTP."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [shutil.which("chromedriver") or "chromedriver", f"--port={self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError("chromedriver did not start within 20 s")
            time.sleep(0.1)
        options = {"binary": _chromium(), "args": CHROMIUM_ARGS}
        session = self._call(
            "POST",
            "/session",
            {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}},
        )
        self.session = f"/session/{session['sessionId']}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (always http://127.0.0.1)
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"WebDriver {method} {path}: {error.read()[:300]!r}") from None

    def do(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, self.session + path, body)

    def open(self, url: str) -> None:
        self.do("POST", "/url", {"url": url})

    def find(self, css: str) -> list[str]:
        found = self.do("POST", "/elements", {"using": "css selector", "value": css})
        return [element[ELEMENT] for element in found]

    def type(self, css: str, text: str) -> None:
        self.do("POST", f"/element/{self.find(css)[0]}/value", {"text": text})

    def click(self, css: str) -> None:
        self.do("POST", f"/element/{self.find(css)[0]}/click", {})

    def script(self, source: str) -> Any:
        return self.do("POST", "/execute/sync", {"script": source, "args": []})

    def screenshot(self) -> bytes:
        return base64.b64decode(self.do("GET", "/screenshot"))

    def quit(self) -> None:
        try:
            self._call("DELETE", self.session)
        finally:
            self.process.kill()
            self.process.wait(timeout=10)


NAVIGATION = """
const t = performance.getEntriesByType('navigation')[0];
return {server_ms: t.responseStart - t.requestStart, load_ms: t.loadEventEnd - t.startTime};
"""


def capture(base_url: str, username: str, password: str, out: Path, loads: int = 1) -> dict:
    """Log in, open the dashboard `loads` times, screenshot the last; the timings."""
    driver = WebDriver()
    try:
        driver.open(f"{base_url}/admin/login/?next=/admin/dashboard/")
        driver.type("#id_username", username)
        driver.type("#id_password", password)
        driver.click("input[type=submit]")
        deadline = time.monotonic() + 60
        while "/admin/dashboard/" not in driver.do("GET", "/url"):
            if time.monotonic() > deadline:
                raise RuntimeError("the login did not lead to the dashboard")
            time.sleep(0.1)
        timings = []
        for _ in range(loads):
            driver.open(f"{base_url}/admin/dashboard/")
            timings.append(driver.script(NAVIGATION))
        bars = len(driver.find("#sends-chart rect"))
        health = driver.script("return document.querySelector('#health .wd-health').textContent")
        png = driver.screenshot()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(png)
        return {
            "bars": bars,
            "health": health,
            "png_bytes": len(png),
            "server_ms": [t["server_ms"] for t in timings],
            "load_ms": [t["load_ms"] for t in timings],
        }
    finally:
        driver.quit()


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
    # Development settings, as `make run`: keys derived from the development SECRET_KEY
    # for a scratch database, localhost, and the local SMTP sink / IMAP server allowed.
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("WARMUP_ALLOW_PRIVATE_HOSTS", "true")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.wsgi import get_wsgi_application

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("var/dashboard.png"))
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()
    if not browser_available():
        sys.exit("needs Debian's chromium and chromium-driver (apt-get install -y chromium-driver)")
    password = secrets.token_urlsafe(16)
    user, _ = get_user_model().objects.get_or_create(
        username="dashboard-shot", defaults={"is_staff": True}
    )
    user.is_staff = user.is_superuser = True  # a scratch operator who sees the whole admin
    user.set_password(password)
    user.save()
    port = _free_port()
    server = make_server(
        "127.0.0.1",
        port,
        StaticFilesHandler(get_wsgi_application()),
        server_class=_Server,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = capture(f"http://127.0.0.1:{port}", user.username, password, args.out, args.loads)
    finally:
        server.shutdown()
    print(f"screenshot: {args.out} ({result['png_bytes']:,} bytes)")
    print(f"chart bars: {result['bars']}, health: {result['health']}")
    for name in ("server_ms", "load_ms"):
        values = sorted(result[name])
        print(
            f"{name}: p50 {statistics.median(values):.0f}, max {values[-1]:.0f} "
            f"over {len(values)} loads"
        )


if __name__ == "__main__":
    main()
