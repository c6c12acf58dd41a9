"""The website chat widget (widget/botox-chat.js) in a real browser.

Debian's chromium (/usr/bin/chromium, installed by scripts/install_browser.sh)
driven by playwright; playwright never downloads a browser. The tests start the
real action server and Rasa server (REST channel, CORS for the demo page's
origin) and the demo clinic page (widget/serve.py), and click through it like
a patient. Failures the real stack cannot produce on demand (400, 429, 500)
are routed responses; a server that is down and an origin missing from CORS
are real. Screenshots: tests/artifacts/widget-*.png (375 and 1280 px wide).
"""

import json
import re
import socket
import time
from pathlib import Path

import pytest
from servers import ARTIFACTS, AXE, DESKTOP, RasaStack, payloads

from faq.clinic import load_clinic
from faq.knowledge_base import ButtonKey, load_knowledge_base
from faq.replies import Reply, render
from faq.settings import SETTINGS
from widget.serve import serve_in_thread

RASA_PORT, ACTION_PORT, PAGE_PORT = 5305, 5355, 8380
PAGE = f"http://127.0.0.1:{PAGE_PORT}/"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
REPLY_TIMEOUT_MS = 90_000
EMERGENCY_MESSAGE = "I had Botox yesterday and now I can't breathe"  # tests/data/triage_cases.yml
CLINIC = load_clinic()
EMERGENCY_NUMBER = CLINIC.contact["emergency_number"]
CLINIC_TEL = "tel:" + re.sub(r"[^\d+]", "", CLINIC.contact["phone"])
CALL_CLINIC = f"Call {CLINIC.contact['name']}: {CLINIC.contact['phone']}"  # the clinic's tel: link
MOBILE = {"width": 375, "height": 740}
LOG, BOT, PATIENT = "#botox-chat [role=log]", "#botox-chat [role=log] .b", "#botox-chat [role=log] .u"
NOTICE = "#botox-chat .n"

from playwright import sync_api  # noqa: E402

expect = sync_api.expect
expect.set_options(timeout=REPLY_TIMEOUT_MS)


@pytest.fixture(scope="module")
def stack():
    with RasaStack(
        rasa_port=RASA_PORT,
        action_port=ACTION_PORT,
        extra_args=["--cors", f"http://127.0.0.1:{PAGE_PORT}"],
        env={"BOTOX_SIGNED_SENDERS": None},  # as `make run`: the server issues the ids
    ) as running:
        yield running


HOST_PAGES = {}  # more pages of the demo origin, path -> HTML (host_page)


@pytest.fixture(scope="module")
def demo(stack):
    server = serve_in_thread(PAGE_PORT, stack.url, pages=HOST_PAGES)
    yield PAGE
    server.shutdown()
    server.server_close()


# `browser` and `page` (a fresh profile on `demo`): tests/e2e/conftest.py.


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"widget-{name}.png"))


def shots(page, name):
    """The same state at 1280 and at 375 px (where the panel covers the screen)."""
    shot(page, f"{name}-1280")
    page.set_viewport_size(MOBILE)
    shot(page, f"{name}-375")
    page.set_viewport_size(DESKTOP)


def host_page(page, name, **data):
    """A host page of the demo origin with the widget and these data- attributes."""
    attributes = " ".join(f'data-{key.replace("_", "-")}="{value}"' for key, value in data.items())
    body = (
        f'<!doctype html><html lang="en"><title>{name}</title><body><p>Host page, <a href="#x">a link</a></p>'
        f'<script src="/botox-chat.js" {attributes}></script></body></html>'
    )
    HOST_PAGES[f"/{name}.html"] = body
    page.goto(PAGE + name + ".html")


def open_chat(page, greeting=True):
    """Opens the panel; by default waits for the bot's greeting."""
    page.locator("#botox-chat .l").click()
    expect(page.locator("#botox-chat [role=dialog]")).to_be_visible()
    if greeting:
        expect(page.locator(BOT).first).to_contain_text("automated assistant")


def dismiss_privacy(page):
    """The privacy notice shown on the first visit, read: OK (for screenshots of what follows)."""
    page.get_by_role("region", name="Privacy").get_by_role("button", name="OK").click()


def type_message(page, text):
    field = page.get_by_label("Your question")
    field.fill(text)
    field.press("Enter")


def ask(page, text):
    """Types a question, sends it, waits for the answer; returns the new bot bubble."""
    before = page.locator(BOT).count()
    type_message(page, text)
    reply = page.locator(BOT).nth(before)
    expect(reply).to_be_visible()
    return reply


def bodies(requests):
    return [json.loads(r.post_data) for r in requests if r.url.endswith("/webhooks/rest/webhook")]


def stored_state(page):
    return page.evaluate(
        "() => JSON.parse(localStorage.getItem(Object.keys(localStorage).find(k => k.startsWith('botox-chat:'))))"
    )


def rewrite_state(page, change):
    """Changes the stored conversation with a JS function of (state, now), then reloads the page."""
    page.evaluate(
        f"""() => {{
          const key = Object.keys(localStorage).find(k => k.startsWith('botox-chat:'));
          const state = JSON.parse(localStorage.getItem(key));
          ({change})(state, Date.now());
          localStorage.setItem(key, JSON.stringify(state));
        }}"""
    )
    page.reload()


def on_message(page, respond):
    """Routes the widget's POSTs: respond(route, message) answers the patient's messages (True when it
    did); the widget's own commands (/greet, /restart) and anything not answered go to Rasa."""

    def handle(route):
        message = json.loads(route.request.post_data)["message"]
        if message in ("/greet", "/restart") or not respond(route, message):
            route.continue_()

    page.route("**/webhooks/rest/webhook", handle)


def fulfill(route, status, body="[]", headers=None):
    route.fulfill(
        status=status,
        content_type="application/json",
        headers={"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Retry-After", **(headers or {})},
        body=body,
    )


def fail_first(page, count, status, headers=None):
    """The patient's first `count` attempts get `status`, later ones reach Rasa; returns the attempts' times."""
    attempts = []

    def respond(route, message):
        attempts.append(time.monotonic())
        if len(attempts) > count:
            return False
        fulfill(route, status, headers=headers)
        return True

    on_message(page, respond)
    return attempts


def assert_emergency_call_possible(page, where):
    """In `where` and on the panel's permanent line: 'Emergency? Call 112', a tel: link a tap would reach."""
    for scope in (page.locator(where), page.locator("#botox-chat .el")):
        link = scope.get_by_role("link", name=f"Emergency? Call {EMERGENCY_NUMBER}")
        expect(link).to_be_visible()
        expect(link).to_have_attribute("href", f"tel:{EMERGENCY_NUMBER}")
        link.click(trial=True)  # actionable: visible, stable, enabled, not covered by anything


def free_port():
    """A port nobody listens on: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        if (!text || !node.getClientRects().length || node.closest('.sr') || node.disabled) continue;
        const style = getComputedStyle(node);
        const fg = lum(rgb(style.color)), bg = lum(background(node));
        const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
        const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
        const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
        if (ratio < needed) failures.push(`${text.slice(0, 40)}: ${ratio.toFixed(2)} < ${needed}`);
      }
      return failures;
    }""")


def assert_accessible(page):
    assert contrast_failures(page) == []
    assert axe_violations(page) == []


# --- Answers, quotes, greeting -------------------------------------------------------------------------------


def assert_one_server_issued_conversation(page, sent):
    """The first message went without an id, every later one with the id the server issued."""
    sender = stored_state(page)["sender"]
    assert "sender" not in sent[0] and len(sender) == 44
    assert [b["sender"] for b in sent[1:]] == [sender] * (len(sent) - 1)
    assert len({b["message_id"] for b in sent}) == len(sent)  # one id per message


def test_ask_a_question_and_see_the_quote(page, stack):
    expected = payloads(stack.send("reference-1", "is botox safe?"))[0]
    open_chat(page)
    expect(page.get_by_label("Your question")).to_be_focused()
    reply = ask(page, "is botox safe?")
    expect(reply).to_contain_text(expected["answer"])
    sources = reply.locator("details")
    summary = sources.locator("summary")
    paragraphs = sorted({s["paragraph"] for s in expected["sources"]})
    count = len(expected["sources"])
    expect(summary).to_have_text(
        f"From the article ({count} quote{'s' if count > 1 else ''}, "
        f"paragraph{'s' if len(paragraphs) > 1 else ''} {', '.join(map(str, paragraphs))})"
    )
    quote = expected["sources"][0]
    expect(sources.locator("blockquote").first).to_be_hidden()  # an answer: the quotes are one click away
    summary.click()
    expect(sources.locator("blockquote").first).to_have_text(f"\u201c{quote['quote']}\u201d")
    expect(sources.locator(".ci").first).to_contain_text(
        f"Paragraph {quote['paragraph']}, sentence {quote['sentence']}"
    )
    # The plain text items are not shown next to the custom one.
    expect(page.locator(BOT)).to_have_count(2)  # greeting + this answer
    shot(page, "answer-with-quote")
    assert_accessible(page)


def test_greeting_is_the_bots_and_every_reply_is_marked_automated(page, stack):
    """The bot's own greeting (automated assistant, not a doctor), a visible label and a time on every message,
    and on the first visit the privacy notice: what is kept, where, for how long, how to delete it."""
    [greeting] = payloads(stack.send("reference-greeting", "/greet"))
    assert "automated assistant" in greeting["answer"] and "not a doctor" in greeting["answer"]
    sent = []
    page.on("request", lambda request: sent.append(request))
    open_chat(page)
    first = page.locator(BOT).first
    expect(first).to_contain_text(greeting["answer"])
    expect(first.locator(".mt")).to_have_text(re.compile(r"^Automated assistant \u00b7 \d{1,2}:\d{2}"))
    assert bodies(sent)[0]["message"] == "/greet"
    expect(page.locator(PATIENT)).to_have_count(0)  # the widget's /greet is not shown as the patient's
    privacy = page.get_by_role("region", name="Privacy")
    expect(privacy).to_contain_text("kept in this browser's localStorage for 30 days after your last message")
    expect(privacy).to_contain_text("To delete it now, use Start over")
    shots(page, "privacy")
    assert_accessible(page)
    privacy.get_by_role("button", name="OK").click()
    expect(privacy).to_be_hidden()
    shots(page, "greeting")
    ask(page, "what is botox?")
    expect(page.locator(PATIENT).last.locator(".mt")).to_have_text(re.compile(r"^You \u00b7 \d{1,2}:\d{2}"))
    expect(page.locator(BOT).last.locator(".mt")).to_contain_text("Automated assistant")
    page.reload()
    expect(page.locator(BOT)).to_have_count(2)
    expect(privacy).to_be_hidden()  # seen once; the footer's Privacy button shows it again
    page.locator("#botox-chat .f").get_by_role("button", name="Privacy").click()
    expect(privacy).to_be_visible()


def test_typed_where_does_it_say_that_shows_the_quotes_open(page, kb):
    """The reply whose point is the quotes shows them open, whether the patient typed or clicked."""
    open_chat(page)
    ask(page, "what is botox?")
    reply = ask(page, "where does it say that?")
    expect(reply).to_contain_text(kb.replies["sources_intro"])
    expect(reply.locator("details")).to_have_attribute("open", "")
    expect(reply.locator("blockquote").first).to_be_visible()
    dismiss_privacy(page)
    reply.scroll_into_view_if_needed()
    shots(page, "quotes-open")
    assert_accessible(page)


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
    body = json.dumps([{"recipient_id": "x", "text": text}, {"recipient_id": "x", "custom": payload}])
    on_message(page, lambda route, message: fulfill(route, 200, body) or True)
    open_chat(page)
    reply = ask(page, EMERGENCY_MESSAGE)
    banner = reply.locator(".e")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text(payload["advice"])
    expect(banner.locator("a")).to_have_attribute("href", f"tel:{EMERGENCY_NUMBER}")
    # Above the answer, and red.
    assert banner.bounding_box()["y"] < reply.locator("p").last.bounding_box()["y"]
    assert banner.evaluate("n => getComputedStyle(n).backgroundColor") == "rgb(179, 0, 27)"
    shot(page, "emergency")
    assert_accessible(page)


def test_emergency_from_the_bot(page, stack):
    """The same banner from the real bot, once triage classes this message as an emergency."""
    reference = payloads(stack.send("reference-emergency", EMERGENCY_MESSAGE))
    assert reference and reference[0]["escalation"] == "emergency", reference
    open_chat(page)
    reply = ask(page, EMERGENCY_MESSAGE)
    banner = reply.locator(".e")
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text(reference[0]["advice"])
    expect(banner.locator("a")).to_have_attribute("href", f"tel:{EMERGENCY_NUMBER}")
    assert banner.bounding_box()["y"] < reply.locator("p").first.bounding_box()["y"]
    shot(page, "emergency-from-bot")


def test_clinic_banner_is_amber_with_the_clinic_phone(page):
    open_chat(page)
    reply = ask(page, "what are the serious complications of botox?")
    banner = reply.locator(".c")
    expect(banner).to_be_visible()
    expect(banner.locator("a")).to_have_attribute("href", CLINIC_TEL)
    expect(banner.locator("a")).to_contain_text(CLINIC.contact["phone"])
    assert reply.locator(".e").count() == 0
    shot(page, "clinic-banner")
    assert_accessible(page)


def test_handoff_has_mailto_booking_button_and_clean_hours(page):
    contact = CLINIC.contact
    open_chat(page)
    reply = ask(page, "I want to talk to a person")
    expect(reply.get_by_role("link", name=contact["email"]).first).to_have_attribute(
        "href", "mailto:" + contact["email"]
    )
    book = reply.get_by_role("link", name="Book a visit")
    expect(book).to_have_attribute("href", contact["booking_url"])
    assert book.evaluate("n => getComputedStyle(n).backgroundColor") == "rgb(10, 79, 150)"  # a button, not a link
    expect(reply.get_by_role("link", name=f"Call {contact['phone']}")).to_have_attribute("href", CLINIC_TEL)
    expect(reply).to_contain_text(f"Opening hours: {contact['hours']}")
    assert reply.text_content().count(contact["hours"]) == 1  # not also in brackets inside the sentence
    shot(page, "handoff")
    assert_accessible(page)


def test_quick_replies_send_their_payload_and_show_their_title(page):
    sent = []
    page.on("request", lambda request: sent.append(request))
    open_chat(page)
    ask(page, "what is botox?")
    where = page.locator("#botox-chat .g button", has_text="Where does it say that?")
    expect(where).to_be_visible()
    where.click()
    expect(page.locator(PATIENT).last).to_contain_text("Where does it say that?")
    reply = page.locator(BOT).nth(2)
    expect(reply.locator("details")).to_have_attribute("open", "")  # asked for the source: quotes shown
    expect(reply.locator("blockquote").first).to_be_visible()
    more = page.locator("#botox-chat .g button", has_text="Tell me more")
    more.click()
    expect(page.locator(BOT)).to_have_count(4)
    expect(page.get_by_label("Your question")).to_be_focused()
    messages = [b["message"] for b in bodies(sent)]
    assert messages == ["/greet", "what is botox?", "/ask_source", "/tell_me_more"]
    assert_one_server_issued_conversation(page, bodies(sent))
    shot(page, "quick-replies")


def test_follow_ups_from_before_the_server_session_ended_are_disabled(page):
    """Rasa forgets the last topic after 60 idle minutes (domain.yml): the follow-ups that need it are
    disabled, with the reason; questions of their own still work."""
    open_chat(page)
    ask(page, "what is botox?")
    buttons = page.locator("#botox-chat .g button")
    expect(buttons.filter(has_text="Tell me more")).to_be_enabled()
    rewrite_state(page, "(state, now) => state.log.forEach(e => { e.at -= 2 * 3600 * 1000; })")
    expect(buttons.filter(has_text="Tell me more")).to_be_disabled()
    expect(buttons.filter(has_text="Where does it say that?")).to_be_disabled()
    expect(page.locator("#botox-chat .g")).to_contain_text("forgets a conversation after a pause")
    safety = buttons.filter(has_text="Is Botox safe?")
    expect(safety).to_be_enabled()
    safety.click()
    expect(page.locator(BOT)).to_have_count(3)
    expect(page.locator("#botox-chat .g button:disabled")).to_have_count(0)  # a new answer: its follow-ups work


def test_start_over_asks_then_restarts_the_conversation_on_the_server(page, kb):
    sent = []
    page.on("request", lambda request: sent.append(request))
    open_chat(page)
    ask(page, "what is botox?")
    question = page.get_by_role("group", name=re.compile("^Start over\\?"))
    page.locator("#botox-chat .f").get_by_role("button", name="Start over").click()
    expect(question).to_be_visible()
    question.get_by_role("button", name="Cancel").click()
    expect(question).to_be_hidden()
    type_message(page, "/restart")  # typed: the same question, nothing sent yet
    expect(question).to_be_visible()
    assert [b["message"] for b in bodies(sent)] == ["/greet", "what is botox?"]
    expect(page.locator(BOT)).to_have_count(2)
    shot(page, "start-over")
    question.get_by_role("button", name="Start over").click()
    expect(page.locator(BOT)).to_have_count(1)
    expect(page.locator(BOT).first).to_contain_text("automated assistant")
    expect(page.locator(PATIENT)).to_have_count(0)
    assert [b["message"] for b in bodies(sent)][2:] == ["/restart", "/greet"]
    assert_one_server_issued_conversation(page, bodies(sent))  # the same conversation, restarted
    assert [e.get("u") for e in stored_state(page)["log"] if "m" in e] == [None, None]  # the old messages are gone
    reply = ask(page, "where does it say that?")  # the server forgot the last answer too
    expect(reply).to_contain_text(kb.replies["no_previous_answer"])


def test_an_id_the_server_did_not_issue_is_replaced_by_one_it_did(page, stack):
    """A stored conversation id the server refuses (an older widget's UUID, or the
    server's key changed) is dropped and the message sent again, same message id."""
    open_chat(page)
    made_up = "0b7c5e0e-8c1f-4c1e-9a57-2f1d3c4b5a69"
    rewrite_state(page, f"(state) => {{ state.sender = '{made_up}'; }}")
    sent, statuses = [], []
    page.on("request", lambda request: sent.append(request))
    page.on("response", lambda r: r.url.endswith("/webhooks/rest/webhook") and statuses.append(r.status))
    reply = ask(page, "is botox safe?")
    expect(reply).to_contain_text(payloads(stack.send("reference-safety", "is botox safe?"))[0]["answer"])
    first, second = bodies(sent)
    assert statuses == [403, 200]
    assert first["sender"] == made_up and "sender" not in second and first["message_id"] == second["message_id"]
    assert len(stored_state(page)["sender"]) == 44 and stored_state(page)["sender"] != made_up


def test_reload_keeps_the_conversation(page):
    sent = []
    open_chat(page)
    ask(page, "what are the common side effects?")
    before = page.locator(LOG).text_content()
    page.reload()
    page.on("request", lambda request: sent.append(request))
    expect(page.locator("#botox-chat [role=dialog]")).to_be_visible()  # it was open before the reload
    expect(page.locator(BOT)).to_have_count(2)
    assert page.locator(LOG).text_content() == before
    # Same sender: the server still knows the last topic.
    page.locator("#botox-chat .g button", has_text="Where does it say that?").click()
    expect(page.locator(BOT)).to_have_count(3)
    assert [b["sender"] for b in bodies(sent)] == [stored_state(page)["sender"]]
    shot(page, "after-reload")


def test_stored_conversations_expire_and_can_be_kept_for_this_tab_only(page, stack, demo):
    open_chat(page)
    ask(page, "what is botox?")
    # 31 days after the last message (default data-retention-days: 30) the transcript is gone.
    rewrite_state(page, "(state, now) => { state.at = now - 31 * 24 * 3600 * 1000; }")
    expect(page.locator("#botox-chat [role=dialog]")).to_be_hidden()
    assert page.evaluate("() => Object.keys(localStorage).length") == 0
    open_chat(page)
    expect(page.locator(BOT)).to_have_count(1)  # a new greeting, nothing else
    # "Forget it when I close this tab": moved to sessionStorage.
    privacy = page.get_by_role("region", name="Privacy")
    privacy.get_by_label("Forget it when I close this tab").check()
    expect(privacy).to_contain_text("sessionStorage until you close this tab")
    ask(page, "what is botox?")
    assert page.evaluate("() => Object.keys(localStorage).length") == 0
    assert page.evaluate("() => Object.keys(sessionStorage).filter(k => k.startsWith('botox-chat:')).length") == 1
    page.reload()
    expect(page.locator(BOT)).to_have_count(2)  # still there in this tab
    other_tab = page.context.new_page()
    other_tab.goto(demo)
    other_tab.locator("#botox-chat .l").click()
    expect(other_tab.locator(BOT)).to_have_count(1)  # not in another tab
    other_tab.close()
    # The page can make "this tab only" the default, and keep transcripts for fewer days.
    page.evaluate("() => { sessionStorage.clear(); localStorage.clear(); }")  # the other tab kept its own
    host_page(page, "session-only", server=stack.url, storage="session", retention_days="7")
    open_chat(page)
    expect(privacy.get_by_label("Forget it when I close this tab")).to_be_checked()
    privacy.get_by_label("Forget it when I close this tab").uncheck()
    expect(privacy).to_contain_text("localStorage for 7 days")


def test_unread_badge_when_a_reply_arrives_while_closed(page):
    held = []
    on_message(page, lambda route, message: held.append(route) or True)
    open_chat(page)
    type_message(page, "what is botox?")
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert held, "the message was not sent"
    page.keyboard.press("Escape")
    launcher = page.locator("#botox-chat .l")
    expect(launcher).to_be_visible()
    held[0].continue_()
    badge = launcher.locator(".ub")
    expect(badge).to_be_visible()
    expect(badge).to_have_text("1 new reply")
    shot(page, "unread-badge")
    assert_accessible(page)
    launcher.click()
    expect(badge).to_be_hidden()
    expect(page.locator(BOT)).to_have_count(2)


def test_multi_line_input_counter_and_transcript_download(page):
    open_chat(page)
    field = page.get_by_label("Your question")
    assert field.get_attribute("maxlength") == str(SETTINGS.max_message_chars)
    field.fill("what is botox?")
    field.press("Shift+Enter")
    field.type("and is it safe?")
    expect(page.locator(PATIENT)).to_have_count(0)  # Shift+Enter is a new line, not Send
    field.press("Enter")
    expect(page.locator(PATIENT).last).to_contain_text("what is botox?\nand is it safe?")
    expect(page.locator(BOT)).to_have_count(2)
    counter = page.locator("#botox-chat #bc-count")
    field.fill("a" * 1000)
    expect(counter).to_have_text("")
    field.fill("a" * 1850)
    expect(counter).to_have_text(f"150 of {SETTINGS.max_message_chars} characters left")
    shot(page, "counter")
    field.fill("")
    with page.expect_download() as download:
        page.locator("#botox-chat .f").get_by_role("button", name="Download transcript").click()
    assert re.fullmatch(r"botox-chat-\d{4}-\d{2}-\d{2}\.txt", download.value.suggested_filename)
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "] Assistant (automated): Hello! I'm the automated assistant" in text
    assert "] You: what is botox?\nand is it safe?" in text
    assert "/greet" not in text


def test_html_input_is_shown_as_text(page):
    attack = "<img src=x onerror=alert(1)>"
    open_chat(page)
    ask(page, attack)
    expect(page.locator(PATIENT).last).to_contain_text(attack)
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
    expect(page.locator("#botox-chat [role=dialog]")).not_to_have_attribute("aria-modal", "true")  # page visible
    log = page.locator(LOG)
    expect(log).to_have_attribute("aria-live", "polite")
    page.keyboard.type("what is botox?")
    page.keyboard.press("Enter")
    expect(page.locator("#botox-chat .g button").first).to_be_visible()
    page.keyboard.press("Shift+Tab")  # back from the input to the suggestions
    page.keyboard.press("Enter")
    expect(page.locator(BOT)).to_have_count(3)  # greeting, answer, the suggestion's answer
    page.keyboard.press("Escape")
    expect(page.locator("#botox-chat [role=dialog]")).to_be_hidden()
    expect(launcher).to_be_focused()


def test_any_accent_colour_keeps_aa_contrast(page, stack):
    """The clinic's colour is theirs; the widget picks black or white text on it so contrast still passes."""
    host_page(page, "light-accent", server=stack.url, accent="#ffd400", title="Light accent", position="left")
    launcher = page.locator("#botox-chat .l")
    assert launcher.evaluate("n => getComputedStyle(n).color") == "rgb(0, 0, 0)"
    assert_accessible(page)  # the closed widget: the launcher alone
    open_chat(page)
    expect(page.locator("#botox-chat h2")).to_have_text("Light accent")
    assert page.locator("#botox-chat [role=dialog]").bounding_box()["x"] < 100  # data-position="left"
    assert_accessible(page)
    shot(page, "light-accent")


def test_mobile_width(browser, demo):
    context = browser.new_context(viewport=MOBILE, is_mobile=True, has_touch=True)
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


def test_full_screen_panel_is_modal_and_keeps_tab_inside(browser, demo):
    """At 375 px the panel covers the page: aria-modal, and Tab / Shift+Tab never reach the page's links."""
    context = browser.new_context(viewport=MOBILE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(demo)
        open_chat(page)
        ask(page, "what is botox?")
        expect(page.locator("#botox-chat [role=dialog]")).to_have_attribute("aria-modal", "true")
        inside = """() => {
          const host = document.querySelector('#botox-chat');
          const active = host.shadowRoot.activeElement;
          return document.activeElement === host && !!active && host.shadowRoot.querySelector('.p').contains(active);
        }"""
        seen = set()
        for key in ["Tab"] * 40 + ["Shift+Tab"] * 40:
            page.keyboard.press(key)
            assert page.evaluate(inside), f"focus left the panel after {key}"
            seen.add(page.evaluate("() => document.querySelector('#botox-chat').shadowRoot.activeElement.outerHTML"))
        assert len(seen) > 8  # it moved through the panel's controls, it did not stick on one
        assert_accessible(page)
    finally:
        context.close()


# --- When something fails: the emergency number stays one tap away ----------------------------------------


def test_server_down(page):
    """Nothing listens at data-server: 'Reconnecting', the message is kept, and 112 is one tap away."""
    host_page(page, "server-down", server=f"http://127.0.0.1:{free_port()}", emergency_number=EMERGENCY_NUMBER)
    open_chat(page, greeting=False)
    expect(page.locator(NOTICE)).to_contain_text("Can't reach the assistant. Reconnecting")
    type_message(page, EMERGENCY_MESSAGE)
    expect(page.locator(PATIENT).last).to_contain_text("Not sent yet")
    assert_emergency_call_possible(page, NOTICE)
    dismiss_privacy(page)
    shots(page, "error-offline")
    assert_accessible(page)


def test_origin_missing_from_cors(page):
    """The page's origin (http://localhost:8380) is not in Rasa's --cors list: a setup problem, said once,
    instead of an endless 'Reconnecting'."""
    page.goto(PAGE.replace("127.0.0.1", "localhost"))
    open_chat(page, greeting=False)
    notice = page.locator(NOTICE)
    expect(notice).to_contain_text("can't reach the assistant from this website (a setup problem)")
    expect(notice).not_to_contain_text("Reconnecting")
    type_message(page, EMERGENCY_MESSAGE)
    assert_emergency_call_possible(page, NOTICE)
    expect(notice.get_by_role("link", name=CALL_CLINIC)).to_have_attribute("href", CLINIC_TEL)
    dismiss_privacy(page)
    shots(page, "error-cors")


def test_refused_message_is_not_retried_and_says_whom_to_call(page):
    """A 400 will not change if sent again: an error bubble with the numbers, and the next message still goes."""
    attempts = fail_first(page, 1, 400)
    open_chat(page)
    type_message(page, EMERGENCY_MESSAGE)
    bubble = page.locator("#botox-chat .er")
    expect(bubble).to_contain_text("could not take this message (error 400)")
    expect(bubble).to_have_attribute("role", "alert")
    expect(page.locator(PATIENT).last).to_contain_text("Not sent")
    assert_emergency_call_possible(page, "#botox-chat .er")
    dismiss_privacy(page)
    shots(page, "error-400")
    assert_accessible(page)
    ask(page, "what is botox?")
    assert len(attempts) == 2  # the refused message once, then the next one


def test_rate_limited_message_is_sent_after_retry_after(page):
    """A proxy's 429 with Retry-After: the patient reads why and when; the message goes after that."""
    attempts = fail_first(page, 1, 429, headers={"Retry-After": "3"})
    open_chat(page)
    type_message(page, "what is botox?")
    notice = page.locator(NOTICE)
    expect(notice).to_contain_text("too many messages right now. Your message is sent again in 3 seconds")
    assert_emergency_call_possible(page, NOTICE)
    shot(page, "error-429")
    expect(page.locator(BOT)).to_have_count(2)
    expect(notice).to_be_hidden()
    assert len(attempts) == 2 and attempts[1] - attempts[0] >= 2.5


def test_a_rate_limited_emergency_shows_the_emergency_reply_at_once(page):
    """Our server's 429 for an emergency carries the emergency reply (channels/guarded.py): the widget
    shows it instead of waiting to resend."""
    from channels.guarded import safe_reply

    text, custom = safe_reply("rate_limited", emergency=True)
    body = json.dumps([{"recipient_id": "x", "text": text}, {"recipient_id": "x", "custom": custom}])
    attempts = []

    def respond(route, message):
        attempts.append(message)
        fulfill(route, 429, body=body, headers={"Retry-After": "30"})
        return True

    on_message(page, respond)
    open_chat(page)
    reply = ask(page, EMERGENCY_MESSAGE)
    expect(reply.locator(".e")).to_contain_text(CLINIC.contact["emergency_number"])
    expect(reply.locator(f'a[href="tel:{EMERGENCY_NUMBER}"]').first).to_be_visible()
    assert_emergency_call_possible(page, "#botox-chat .el")
    page.wait_for_timeout(1500)
    assert attempts == [EMERGENCY_MESSAGE]  # not resent


def test_server_errors_are_retried_with_backoff(page, stack):
    """Two 500s, then an answer. No clinic phone on this page: it comes from the greeting's clinic object."""
    host_page(page, "no-numbers", server=stack.url)
    attempts = fail_first(page, 2, 500)
    open_chat(page)
    type_message(page, "what is botox?")
    notice = page.locator(NOTICE)
    expect(notice).to_contain_text("The assistant has a problem (error 500). Trying again")
    assert_emergency_call_possible(page, NOTICE)
    expect(notice.get_by_role("link", name=CALL_CLINIC)).to_have_attribute("href", CLINIC_TEL)
    shot(page, "error-500")
    expect(page.locator(BOT)).to_have_count(2)
    expect(notice).to_be_hidden()
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert len(attempts) == 3 and gaps[0] >= 0.9 and gaps[1] >= 1.9  # 1 s, then 2 s


def test_reconnects_when_the_server_comes_back(page, stack):
    """Rasa stops: the widget says so, keeps the message and shows 112; Rasa starts again: sent once, answered."""
    sent = []
    page.on("request", lambda request: sent.append(request))
    open_chat(page)
    ask(page, "hello")
    stack.stop("rasa")
    try:
        type_message(page, EMERGENCY_MESSAGE)
        expect(page.locator(NOTICE)).to_contain_text("Can't reach the assistant")
        expect(page.locator(PATIENT).last).to_contain_text("Not sent yet")
        assert_emergency_call_possible(page, NOTICE)
        shot(page, "offline")
    finally:
        stack.start_rasa()
    expect(page.locator(BOT)).to_have_count(3)
    expect(page.locator(NOTICE)).to_be_hidden()
    expect(page.locator(BOT).last.locator(".e")).to_be_visible()
    responses = [r for r in sent if r.url.endswith("/webhooks/rest/webhook") and r.response() and r.response().ok]
    assert [json.loads(r.post_data)["message"] for r in responses] == ["/greet", "hello", EMERGENCY_MESSAGE]
    # Every attempt at the emergency message carried one message id (answered once, however often sent).
    attempts = [b for b in bodies(sent) if b["message"] == EMERGENCY_MESSAGE]
    assert len(attempts) >= 2 and len({b["message_id"] for b in attempts}) == 1
    shot(page, "reconnected")
