"""Browser fixtures of the widget's tests: Debian's chromium through playwright,
and a fresh profile on the module's `demo` page (each module starts its own
Rasa stack and demo page)."""

import shutil
from pathlib import Path

import pytest
from servers import ARTIFACTS, AXE, CHROMIUM, CHROMIUM_ARGS, DESKTOP


@pytest.fixture(scope="module")
def browser():
    from playwright import sync_api

    if not shutil.which(str(CHROMIUM)) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install_browser.sh (Debian's chromium)")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run scripts/install_browser.sh (axe-core from npm)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, demo):
    """A fresh browser profile (empty localStorage) on the demo page; fails on any JS alert, page error or
    violation of the page's Content-Security-Policy (widget/serve.py)."""
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    tab = context.new_page()
    problems = []
    tab.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on("console", lambda m: "Content Security Policy" in m.text and problems.append(f"CSP: {m.text}"))
    tab.goto(demo)
    yield tab
    context.close()
    assert not problems, problems
