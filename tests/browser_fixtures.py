"""Debian's Chromium driven by Playwright for the HTML report tests (report.html, diff.html): a
page opened from a file:// URL with every non-file request aborted and recorded, and what it
logged. If Chromium cannot start, the tests fail (they never skip): install it with
``apt-get install -y chromium``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def ensure_chromium() -> None:
    """Install Debian's chromium on a fresh Debian machine (as root) so the README's test
    command works there; anywhere else the launch below fails with instructions."""
    import os
    import shutil
    import subprocess

    if Path(CHROMIUM).exists() or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env, capture_output=True,
                   timeout=900)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ensure_chromium()

    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as e:
            pytest.fail(f"cannot start Chromium at {CHROMIUM} ({type(e).__name__}: {e}); "
                        "install Debian's chromium package: apt-get update && apt-get install -y chromium",
                        pytrace=False)
        yield b
        b.close()


class Page:
    """A page with the network blocked, recording what it tried and what it logged."""

    def __init__(self, browser, url: str, *, javascript: bool = True, width: int = 1280, height: int = 900):
        self.context = browser.new_context(viewport={"width": width, "height": height}, java_script_enabled=javascript,
                                           service_workers="block")
        self.blocked: list[str] = []
        self.requests: list[str] = []
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(url)
        self.page.wait_for_load_state("load")

    def _route(self, route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def close(self):
        self.context.close()
