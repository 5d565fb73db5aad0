"""Browser tests: the app under a real WSGI server in a thread, driven by Debian's Chromium via Playwright.

Never a downloaded browser: Chromium comes from ``apt-get install chromium``.
Without it (or without Playwright) the tests fail when INTERDEPT_REQUIRE_SERVICES=1
and skip loudly otherwise. Screenshots go to ``test-artifacts/screenshots/``.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import seed, unavailable
from tests.page_scan import PageScanner

CHROMIUM = os.environ.get("INTERDEPT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "demo-password-1"
EMAILS = {"it": "it@kotovsk.example", "mfc": "mfc@kotovsk.example", "mfc_staff": "mfc.staff@kotovsk.example",
          "econ": "econ@kotovsk.example", "finance": "finance@kotovsk.example", "admin": "admin@kotovsk.example"}


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        unavailable("Chromium", f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable("Playwright", exc)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@dataclass
class Live:
    url: str
    services: object


@pytest.fixture
def live(services):
    """The whole app (CSRF on, security headers on) on 127.0.0.1:<free port>, with the demo users."""
    from werkzeug.serving import make_server

    from services.web.app import create_app
    from services.models.registry import User
    from services import people
    from sqlalchemy import select

    seed(services)
    with services.uow() as uow:
        for user in uow.session.execute(select(User)).scalars():
            if user.password_hash is None:  # older seeds set no password
                people.set_password(uow, user, PASSWORD)
        uow.commit()
    app = PageScanner(create_app(services=services))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}", services)
    finally:
        server.shutdown()
        thread.join(timeout=10)
    # Every page any walkthrough opened, as served: no department code, English name or Python number.
    assert not app.problems, "pages showed what a person must not read:\n" + "\n".join(app.problems)


class Session:
    """One person's browser context; collects console errors (a CSP violation is one)."""

    def __init__(self, browser, live: Live, *, mobile: bool = False):
        size = {"width": 390, "height": 844} if mobile else {"width": 1280, "height": 900}
        self.context = browser.new_context(viewport=size, locale="ru-RU", timezone_id="Europe/Moscow")
        self.context.set_default_timeout(15000)
        self.page = self.context.new_page()
        self.live = live
        self.errors: list[str] = []
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        # Irreversible actions ask "are you sure?" (confirm()): answered yes unless a test says no.
        self.confirm = True
        self.dialogs: list[str] = []
        self.page.on("dialog", self._answer_dialog)

    def _answer_dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.accept() if self.confirm else dialog.dismiss()

    def goto(self, path: str):
        return self.page.goto(self.live.url + path)

    def login(self, who: str, password: str = PASSWORD):
        self.goto("/login")
        self.page.get_by_label("Адрес электронной почты").fill(EMAILS[who])
        self.page.get_by_label("Пароль").fill(password)
        self.page.get_by_role("button", name="Войти").click()
        return self

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self):
        self.context.close()


@pytest.fixture
def people_in_browser(browser, live):
    """``person("mfc")`` opens a signed-in browser context; checks no page broke the CSP or threw."""
    opened: list[Session] = []

    def open_(who: str | None = None, *, mobile: bool = False) -> Session:
        s = Session(browser, live, mobile=mobile)
        opened.append(s)
        if who:
            s.login(who)
            s.page.wait_for_url(live.url + "/")
        return s

    yield open_
    problems = [e for s in opened for e in s.errors]
    for s in opened:
        s.close()
    csp = [e for e in problems if "Content Security Policy" in e or "Refused to" in e]
    assert not csp, f"pages broke the content security policy: {csp}"
