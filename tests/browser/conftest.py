"""Browser tests of the builder: the app served over real HTTP from a thread, Debian's
chromium driven by Playwright, one browser per session and one signed-in context per role.

The back end follows the environment like the rest of the suite (a private SQLite file, or a
private PostgreSQL schema, plus Redis when configured). Screenshots of every page go to
``build/screenshots/`` at 1366×768; :func:`check_accessibility` runs axe-core (vendored under
``tests/browser/vendor``) for labels and contrast.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support import backends

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
VIEWPORT = {"width": 1366, "height": 768}
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]
# axe-core rules about names/labels and contrast, run on every page.
AXE_RULES = ["label", "color-contrast", "button-name", "link-name", "select-name", "aria-input-field-name",
             "aria-allowed-attr", "aria-required-attr", "aria-valid-attr-value", "document-title", "html-has-lang",
             "image-alt", "duplicate-id-aria", "form-field-multiple-labels", "empty-heading", "region"]

PASSWORD = "节日-大促-2026"
STAFF = {"ops": ("wang_yun", "运营", "王芸"), "cs": ("zhao_kf", "客服", "赵客服"), "admin": ("chen_admin", "管理员", "陈管理")}


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        if backends.IN_CI:
            pytest.fail("chromium is not installed (apt-get install chromium fonts-noto-cjk)")
        pytest.skip("chromium is not installed")
    return path


@contextmanager
def private_database(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[str]:
    """A migrated private database for one module (a SQLite file, or a PostgreSQL schema when the
    suite runs on PostgreSQL), dropped afterwards; yields its URL."""
    from engine.storage.db import Database
    from engine.storage.migrate import upgrade

    with backends.private_database_url(tmp_path_factory.mktemp(name), name) as db_url:
        db = Database(db_url)
        upgrade(db)
        db.dispose()
        yield db_url


@contextmanager
def served(services: Any) -> Iterator[str]:
    """The app over ``services`` served over real HTTP from a thread; yields its base URL."""
    from werkzeug.serving import make_server

    from engine.app import create_app

    server = make_server("127.0.0.1", 0, create_app(services=services), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def signed_in_page(browser: Any, base_url: str, username: str, *, timeout_ms: int = 10_000,
                   init_script: str | None = None) -> Any:
    """A new 1366×768 zh-CN context signed in as ``username`` through the login page; its page.
    ``init_script`` runs in every page of the context before the page's own scripts."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", base_url=base_url)
    context.set_default_timeout(timeout_ms)
    context.set_default_navigation_timeout(max(timeout_ms, 30_000))
    if init_script is not None:
        context.add_init_script(init_script)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/")
    return page


@contextmanager
def signed_in_staff(browser: Any, base_url: str, usernames: Mapping[str, str], *,
                    timeout_ms: int = 10_000) -> Iterator[Callable[[str], Any]]:
    """``login(role)``: the page of ``usernames[role]`` signed in through the login page on first
    use and kept for the module; every context is closed afterwards."""
    pages: dict[str, Any] = {}

    def login(role: str) -> Any:
        if role not in pages:
            pages[role] = signed_in_page(browser, base_url, usernames[role], timeout_ms=timeout_ms)
        return pages[role]

    try:
        yield login
    finally:
        for page in pages.values():
            page.context.close()


@pytest.fixture(scope="module")
def live_services(tmp_path_factory: pytest.TempPathFactory, redis_url: str | None, redis_prefix: str) -> Iterator[Any]:
    from engine.auth.users import create_user
    from engine.config import Settings
    from engine.services import Services

    with private_database(tmp_path_factory, "browser") as db_url:
        settings = Settings(database_url=db_url, redis_url=redis_url, redis_prefix=redis_prefix + "browser:",
                            secret_key="browser-test-secret", testing=True,
                            handler_modules=("tests.support.handlers",))
        services = Services.build(settings)
        with services.db.transaction() as s:
            for role, (username, _, display) in STAFF.items():
                create_user(s, username, role, PASSWORD, display_name=display)
        yield services
        services.db.dispose()


@pytest.fixture(scope="module")
def base_url(live_services: Any) -> Iterator[str]:
    with served(live_services) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()


class Staff:
    """A signed-in browser page for one role, reused by every test of the module."""

    def __init__(self, role: str, page: Any) -> None:
        self.username, self.role_label, self.display = STAFF[role]
        self.page = page
        self.context = page.context


@pytest.fixture(scope="module")
def staff(browser: Any, base_url: str) -> Iterator[Callable[[str], Staff]]:
    usernames = {role: username for role, (username, _, _) in STAFF.items()}
    with signed_in_staff(browser, base_url, usernames) as login:
        yield lambda role: Staff(role, login(role))


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def check_accessibility(page: Any) -> None:
    """axe-core on the current page: no violation of the label, name and contrast rules."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "rules => axe.run(document, {runOnly: {type: 'rule', values: rules}})"
        ".then(r => r.violations.map(v => ({id: v.id, help: v.help, "
        "nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)})))",
        AXE_RULES,
    )
    assert result == [], f"accessibility violations on {page.url}: {result}"
