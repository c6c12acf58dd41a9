"""The website chat widget (widget/botox-chat.js) in a real browser.

Debian's chromium (/usr/bin/chromium, installed by scripts/install_browser.sh)
driven by playwright; playwright never downloads a browser. The tests start the
real action server and Rasa server (REST channel, CORS for the demo page's
origin) and the demo clinic page (widget/serve.py), and click through it like
a patient. Screenshots: tests/artifacts/widget-*.png.
"""

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from servers import ARTIFACTS, PROJECT_ROOT, RasaStack, payloads

from faq.clinic import load_clinic
from faq.knowledge_base import ButtonKey, load_knowledge_base
from faq.replies import Reply, render
from widget.serve import serve_in_thread

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RASA_PORT, ACTION_PORT, PAGE_PORT = 5305, 5355, 8380
PAGE = f"http://127.0.0.1:{PAGE_PORT}/"
AXE = PROJECT_ROOT / "build" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
REPLY_TIMEOUT_MS = 90_000
EMERGENCY_MESSAGE = "I had Botox yesterday and now I can't breathe"  # tests/data/triage_cases.yml
CLINIC = load_clinic()

from playwright import sync_api  # noqa: E402

expect = sync_api.expect
expect.set_options(timeout=REPLY_TIMEOUT_MS)


@pytest.fixture(scope="module")
def stack():
    with RasaStack(
        rasa_port=RASA_PORT, action_port=ACTION_PORT, extra_args=["--cors", f"http://127.0.0.1:{PAGE_PORT}"]
    ) as running:
        yield running


@pytest.fixture(scope="module")
def demo(stack):
    server = serve_in_thread(PAGE_PORT, stack.url)
    yield PAGE
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install_browser.sh (Debian's chromium)")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run scripts/install_browser.sh (axe-core from npm)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, demo):
    """A fresh browser profile (empty localStorage) on the demo page; fails on any JS alert, page error or
    violation of the page's Content-Security-Policy (widget/serve.py)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    tab = context.new_page()
    problems = []
    tab.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on("console", lambda m: "Content Security Policy" in m.text and problems.append(f"CSP: {m.text}"))
    tab.goto(demo)
    yield tab
    context.close()
    assert not problems, problems


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"widget-{name}.png"))


def open_chat(page):
    page.locator("#botox-chat .l").click()
    expect(page.locator("#botox-chat [role=dialog]")).to_be_visible()


def ask(page, text):
    """Types a question, sends it, waits for the answer; returns the new bot bubble."""
    before = page.locator("#botox-chat [role=log] .b").count()
    field = page.get_by_label("Your question")
    field.fill(text)
    field.press("Enter")
    reply = page.locator("#botox-chat [role=log] .b").nth(before)
    expect(reply).to_be_visible()
    return reply


def bodies(requests):
    return [json.loads(r.post_data) for r in requests if r.url.endswith("/webhooks/rest/webhook")]


def axe_violations(page):
    """axe-core's WCAG 2.x A/AA rules on the widget (its shadow DOM included)."""
    if not page.evaluate("() => !!window.axe"):
        page.evaluate(AXE.read_text())  # not a <script>: the demo page's CSP forbids inline scripts
    result = page.evaluate(
        """(tags) => axe.run(document.querySelector('#botox-chat'),
        {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})""",
        AXE_TAGS,
    )
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])}x: {v['nodes'][0]['html'][:80]})" for v in result["violations"]]


def contrast_failures(page):
    """Every visible text in the widget against its effective background: WCAG AA (4.5:1, 3:1 for large text)."""
    return page.evaluate("""() => {
      const root = document.querySelector('#botox-chat').shadowRoot;
      const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
      const lum = ([r, g, b]) => [r, g, b].map((v) => {
        v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
        .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
      const background = (node) => {
        for (let n = node; n; n = n.parentElement || (n.getRootNode().host || null)) {
          const c = rgb(getComputedStyle(n).backgroundColor);
          if (c.length === 3 || c[3] > 0) return c;
        }
        return [255, 255, 255];
      };
      const failures = [];
      for (const node of root.querySelectorAll('*')) {
        const text = [...node.childNodes].filter((c) => c.nodeType === 3).map((c) => c.textContent).join('').trim();
        if (!text || !node.getClientRects().length || node.closest('.sr')) continue;
        const style = getComputedStyle(node);
        const fg = lum(rgb(style.color)), bg = lum(background(node));
        const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
        const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
        const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
        if (ratio < needed) failures.push(`${text.slice(0, 40)}: ${ratio.toFixed(2)} < ${needed}`);
      }
      return failures;
    }""")


def test_ask_a_question_and_see_the_quote(page, stack):
    expected = payloads(stack.send("reference-1", "is botox safe?"))[0]
    open_chat(page)
    expect(page.get_by_label("Your question")).to_be_focused()
    reply = ask(page, "is botox safe?")
    expect(reply).to_contain_text(expected["answer"])
    sources = reply.locator("details")
    summary = sources.locator("summary")
    expect(summary).to_contain_text("From the article")
    paragraphs = sorted({s["paragraph"] for s in expected["sources"]})
    count = len(expected["sources"])
    expect(summary).to_have_text(
        f"From the article ({count} quote{'s' if count > 1 else ''}, "
        f"paragraph{'s' if len(paragraphs) > 1 else ''} {', '.join(map(str, paragraphs))})"
    )
    quote = expected["sources"][0]
    expect(sources.locator("blockquote").first).to_be_hidden()
    summary.click()
    expect(sources.locator("blockquote").first).to_have_text(f"\u201c{quote['quote']}\u201d")
    expect(sources.locator(".ci").first).to_contain_text(
        f"Paragraph {quote['paragraph']}, sentence {quote['sentence']}"
    )
    # The plain text item is not shown next to the custom one.
    expect(page.locator("#botox-chat [role=log] .b")).to_have_count(2)  # greeting + this answer
    shot(page, "answer-with-quote")
    assert contrast_failures(page) == []
    assert axe_violations(page) == []


def test_emergency_banner_is_red_first_and_calls_the_emergency_number(page):
    """The widget's rendering of an emergency reply, as faq.replies.render builds it."""
    text, payload = render(
        Reply(
            type="triage",
            answer="What you describe can be a serious reaction.",
            escalation="emergency",
            suggestions=[load_knowledge_base().suggestion(ButtonKey.HANDOFF)],
        ),
        CLINIC,
    )
    page.route(
        "**/webhooks/rest/webhook",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": "*"},
            body=json.dumps([{"recipient_id": "x", "text": text}, {"recipient_id": "x", "custom": payload}]),
        ),
    )
    open_chat(page)
    reply = ask(page, EMERGENCY_MESSAGE)
    banner = reply.locator(".e")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text(payload["advice"])
    expect(banner.locator("a")).to_have_attribute("href", f"tel:{CLINIC.contact['emergency_number']}")
    # Above the answer, and red.
    assert banner.bounding_box()["y"] < reply.locator("p").last.bounding_box()["y"]
    assert banner.evaluate("n => getComputedStyle(n).backgroundColor") == "rgb(179, 0, 27)"
    shot(page, "emergency")
    assert contrast_failures(page) == []
    assert axe_violations(page) == []


def test_emergency_from_the_bot(page, stack):
    """The same banner from the real bot, once triage classes this message as an emergency."""
    reference = payloads(stack.send("reference-emergency", EMERGENCY_MESSAGE))
    assert reference and reference[0]["escalation"] == "emergency", reference
    open_chat(page)
    reply = ask(page, EMERGENCY_MESSAGE)
    banner = reply.locator(".e")
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text(reference[0]["advice"])
    expect(banner.locator("a")).to_have_attribute("href", f"tel:{CLINIC.contact['emergency_number']}")
    assert banner.bounding_box()["y"] < reply.locator("p").first.bounding_box()["y"]
    shot(page, "emergency-from-bot")


def test_clinic_banner_is_amber_with_the_clinic_phone(page):
    open_chat(page)
    reply = ask(page, "what are the serious complications of botox?")
    banner = reply.locator(".c")
    expect(banner).to_be_visible()
    phone = re.sub(r"[^\d+]", "", CLINIC.contact["phone"])
    expect(banner.locator("a")).to_have_attribute("href", f"tel:{phone}")
    expect(banner.locator("a")).to_contain_text(CLINIC.contact["phone"])
    assert reply.locator(".e").count() == 0
    shot(page, "clinic-banner")
    assert contrast_failures(page) == []
    assert axe_violations(page) == []


def test_quick_replies_send_their_payload_and_show_their_title(page):
    sent = []
    page.on("request", lambda request: sent.append(request))
    open_chat(page)
    ask(page, "what is botox?")
    where = page.locator("#botox-chat .g button", has_text="Where does it say that?")
    expect(where).to_be_visible()
    where.click()
    expect(page.locator("#botox-chat .u").last).to_have_text("You said: Where does it say that?")
    reply = page.locator("#botox-chat [role=log] .b").nth(2)
    expect(reply.locator("details")).to_have_attribute("open", "")  # asked for the source: quotes shown
    expect(reply.locator("blockquote").first).to_be_visible()
    more = page.locator("#botox-chat .g button", has_text="Tell me more")
    more.click()
    expect(page.locator("#botox-chat [role=log] .b")).to_have_count(4)
    expect(page.get_by_label("Your question")).to_be_focused()
    messages = [b["message"] for b in bodies(sent)]
    assert messages == ["what is botox?", "/ask_source", "/tell_me_more"]
    assert len({b["sender"] for b in bodies(sent)}) == 1
    shot(page, "quick-replies")


def test_reload_keeps_the_conversation(page):
    sent = []
    open_chat(page)
    ask(page, "what are the common side effects?")
    before = page.locator("#botox-chat [role=log]").text_content()
    page.reload()
    page.on("request", lambda request: sent.append(request))
    expect(page.locator("#botox-chat [role=dialog]")).to_be_visible()  # it was open before the reload
    expect(page.locator("#botox-chat [role=log] .b")).to_have_count(2)
    assert page.locator("#botox-chat [role=log]").text_content() == before
    # Same sender: the server still knows the last topic.
    page.locator("#botox-chat .g button", has_text="Where does it say that?").click()
    expect(page.locator("#botox-chat [role=log] .b")).to_have_count(3)
    sender = page.evaluate(
        "() => JSON.parse(localStorage.getItem(Object.keys(localStorage)"
        ".find(k => k.startsWith('botox-chat:')))).sender"
    )
    assert [b["sender"] for b in bodies(sent)] == [sender]
    shot(page, "after-reload")


def test_html_input_is_shown_as_text(page):
    attack = "<img src=x onerror=alert(1)>"
    open_chat(page)
    ask(page, attack)
    expect(page.locator("#botox-chat .u").last).to_have_text("You said: " + attack)
    assert page.locator("#botox-chat img").count() == 0
    assert page.locator("img").count() == 0
    shot(page, "html-input")
    # The page fixture fails the test if an alert was opened.


def test_keyboard_only_and_focus(page):
    launcher = page.locator("#botox-chat .l")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    for _ in range(30):  # tab through the host page until the launcher has focus
        page.keyboard.press("Tab")
        if launcher.evaluate("n => n.getRootNode().activeElement === n"):
            break
    else:
        pytest.fail("the launcher is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Your question")).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    log = page.locator("#botox-chat [role=log]")
    expect(log).to_have_attribute("aria-live", "polite")
    page.keyboard.type("what is botox?")
    page.keyboard.press("Enter")
    expect(page.locator("#botox-chat .g button").first).to_be_visible()
    page.keyboard.press("Shift+Tab")  # back from the input to the suggestions
    page.keyboard.press("Enter")
    expect(page.locator("#botox-chat [role=log] .b")).to_have_count(3)
    page.keyboard.press("Escape")
    expect(page.locator("#botox-chat [role=dialog]")).to_be_hidden()
    expect(launcher).to_be_focused()


def test_any_accent_colour_keeps_aa_contrast(page, demo):
    """The clinic's colour is theirs; the widget picks black or white text on it so contrast still passes."""
    page.route(
        "**/light-accent.html",
        lambda route: route.fulfill(
            content_type="text/html",
            body=(
                '<!doctype html><html lang="en"><title>t</title><body><p>Host page</p>'
                f'<script src="/botox-chat.js" data-server="{demo.rstrip("/")}" data-accent="#ffd400" '
                'data-title="Light accent" data-position="left"></script></body></html>'
            ),
        ),
    )
    page.goto(demo + "light-accent.html")
    launcher = page.locator("#botox-chat .l")
    assert launcher.evaluate("n => getComputedStyle(n).color") == "rgb(0, 0, 0)"
    assert contrast_failures(page) == []
    assert axe_violations(page) == []  # the closed widget: the launcher alone
    open_chat(page)
    expect(page.locator("#botox-chat h2")).to_have_text("Light accent")
    assert page.locator("#botox-chat [role=dialog]").bounding_box()["x"] < 100  # data-position="left"
    assert contrast_failures(page) == []
    assert axe_violations(page) == []
    shot(page, "light-accent")


def test_mobile_width(browser, demo):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(demo)
        shot(page, "mobile-closed")
        open_chat(page)
        reply = ask(page, "what are the serious complications of botox?")
        reply.locator("summary").click()
        box = page.locator("#botox-chat [role=dialog]").bounding_box()
        assert (box["x"], box["width"]) == (0, 375)
        assert page.evaluate(
            "() => document.querySelector('#botox-chat').shadowRoot.querySelector('.s').scrollWidth <= 375"
        )
        shot(page, "mobile-375")
        reply = ask(page, EMERGENCY_MESSAGE)
        for node in (reply, *reply.locator(".e").all()):  # the red banner too, when triage is in the model
            box = node.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 375
        shot(page, "mobile-375-emergency")
    finally:
        context.close()


def test_reconnects_when_the_server_comes_back(page, stack):
    """Rasa stops: the widget says so and keeps the message; Rasa starts again: it is sent once and answered."""
    sent = []
    page.on("request", lambda request: sent.append(request))
    open_chat(page)
    ask(page, "hello")
    stack.stop("rasa")
    try:
        page.get_by_label("Your question").fill("what is botox?")
        page.get_by_label("Your question").press("Enter")
        expect(page.locator("#botox-chat .n")).to_be_visible()
        expect(page.locator("#botox-chat .n")).to_contain_text("Can't reach the assistant")
        expect(page.locator("#botox-chat .u").last).to_contain_text("Not sent yet")
        shot(page, "offline")
    finally:
        stack.start_rasa()
    expect(page.locator("#botox-chat [role=log] .b")).to_have_count(3)
    expect(page.locator("#botox-chat .n")).to_be_hidden()
    expect(page.locator("#botox-chat .u").last).to_have_text("You said: what is botox?")
    responses = [r for r in sent if r.url.endswith("/webhooks/rest/webhook") and r.response() and r.response().ok]
    assert [json.loads(r.post_data)["message"] for r in responses] == ["hello", "what is botox?"]
    shot(page, "reconnected")
