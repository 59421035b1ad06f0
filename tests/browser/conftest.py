"""A real browser (Debian's Chromium via Playwright) against the real ASGI app in a thread."""

import os
import re

import pytest

CHROMIUM = "/usr/bin/chromium"
# The chat's home page (for `wait_for_url`): the site's root, not a /c/<id>/ page.
HOME = re.compile(r"^https?://[^/]+/$")
DESKTOP = {"viewport": {"width": 1200, "height": 800}}
# A phone: 390x844 CSS pixels, touch, and Chromium's mobile emulation (the viewport meta).
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run should have installed it")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (CI does)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in the test's thread, where
    # Django would refuse the tests' own (synchronous) ORM calls. Only while it runs.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def csp_violations():
    """What the browser refused under the pages' Content-Security-Policy, as it reported
    it in the console. Every test that logs in ends with none."""
    violations = []
    yield violations
    assert not violations, "\n".join(violations)


def record_csp_violations(context, violations: list) -> None:
    def on_console(message):
        if "Content Security Policy" in message.text:
            violations.append(f"{message.page.url if message.page else ''}: {message.text}")

    context.on("console", on_console)


@pytest.fixture
def page_errors():
    """Uncaught exceptions and unhandled rejections in the pages' scripts: every test that
    logs in ends with none."""
    errors = []
    yield errors
    assert not errors, "\n".join(errors)


def record_page_errors(context, errors: list) -> None:
    context.on("weberror", lambda error: errors.append(f"{error.page.url}: {error.error}"))


@pytest.fixture
def login(browser, server_url, csp_violations, page_errors):
    """Open a fresh browser context logged in as `user`; returns its page."""
    contexts = []

    def open_page(user, password, color_scheme="light", phone=False):
        context = browser.new_context(color_scheme=color_scheme, **(PHONE if phone else DESKTOP))
        record_csp_violations(context, csp_violations)
        record_page_errors(context, page_errors)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{server_url}/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server_url}/")
        return page

    yield open_page
    for context in contexts:
        context.close()
