"""Answer feedback end to end (issue 13): in chromium a patient clicks "Helpful"
and "Not helpful" (with and without "what was missing?") under the widget's
answers, against the real Rasa and action servers on SQLite and on PostgreSQL;
the feedback is in the tracker store as `user` events with intent and
entities, and the review, run as `make review` runs it, shows the helpful rate
per topic and the not-helpful answers with their questions. axe-core stays
clean; screenshots in tests/artifacts/widget-feedback-*.png and
review-feedback-<backend>.png."""

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from servers import ARTIFACTS, PROJECT_ROOT, RasaStack, fresh_postgres_store, payloads
from test_review import SECRET
from test_widget_browser import (
    BOT,
    EMERGENCY_MESSAGE,
    ask,
    axe_violations,
    contrast_failures,
    dismiss_privacy,
    expect,
    open_chat,
    shots,
)

from faq.feedback import feedback_message
from faq.knowledge_base import load_knowledge_base
from review import load, privacy
from widget.serve import serve_in_thread

RASA_PORT, ACTION_PORT, PAGE_PORT = 5805, 5855, 8480
PG_DB = "botox_feedback_test"
FEEDBACK = "#botox-chat [role=group][aria-label='Was this answer helpful?']"
COMMENT = "how long the bruising lasts"
KB = load_knowledge_base()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request):
    store = fresh_postgres_store(PG_DB) if request.param == "postgresql" else None
    cors = ["--cors", f"http://127.0.0.1:{PAGE_PORT}"]
    with RasaStack(rasa_port=RASA_PORT, action_port=ACTION_PORT, tracker_store=store, extra_args=cors) as running:
        running.backend = request.param
        yield running


@pytest.fixture(scope="module")
def demo(stack):
    server = serve_in_thread(PAGE_PORT, stack.url, pages={})
    yield f"http://127.0.0.1:{PAGE_PORT}/"
    server.shutdown()
    server.server_close()


def sent_messages(page):
    """The messages the widget POSTs from now on."""
    sent = []
    page.on("request", lambda r: r.url.endswith("/webhooks/rest/webhook") and sent.append(json.loads(r.post_data)))
    return sent


def rate(page, verdict):
    """Clicks a feedback button under the latest answer; waits for the bot's reply to it."""
    before = page.locator(BOT).count()
    page.locator(FEEDBACK).get_by_role("button", name=verdict, exact=True).click()
    expect(page.locator(BOT).nth(before)).to_be_visible()
    return page.locator(BOT).nth(before)


def review(stack, tmp_path):
    """python -m review on the stack's store, as `make review` runs it: (html, candidates, json)."""
    today = datetime.now(timezone.utc).date()
    out, nlu, js = tmp_path / "review.html", tmp_path / "candidates.yml", tmp_path / "review.json"
    result = subprocess.run(
        [sys.executable, "-m", "review", "--endpoints", str(stack.workdir / "endpoints.yml")]
        + ["--since", str(today - timedelta(1)), "--until", str(today)]
        + ["--out", str(out), "--nlu-out", str(nlu), "--json-out", str(js)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, privacy.SECRET_ENV: SECRET},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out, nlu.read_text(), json.loads(js.read_text())


def stored_feedback(stack):
    """The give_feedback user events in the tracker store: (text, intent, {entity: value})."""
    config = load.tracker_store_config(str(stack.workdir / "endpoints.yml"))
    events = [e for _, e in load.read_events(config, 0, 4e9) if e["event"] == "user"]
    return [
        (e["text"], e["parse_data"]["intent"]["name"], {x["entity"]: x["value"] for x in e["parse_data"]["entities"]})
        for e in events
        if e["parse_data"]["intent"]["name"] == "give_feedback"
    ]


def show_review(browser, html, png):
    """The report in chromium (the widget's browser is already running): its feedback table's rows."""
    tab = browser.new_page(viewport={"width": 1200, "height": 900})
    requests = []
    tab.on("request", lambda r: requests.append(r.url))
    tab.goto(html.resolve().as_uri())
    tab.locator("#feedback").scroll_into_view_if_needed()
    rows = tab.locator("#feedback-topics tr").all_inner_texts()
    tab.screenshot(path=str(png), full_page=True)
    tab.close()
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    return [r.split("\t") for r in rows[1:]]


def test_feedback_from_the_widget_is_stored_and_reviewed_per_topic(stack, browser, page, tmp_path):
    sent = sent_messages(page)
    open_chat(page)
    dismiss_privacy(page)

    # Helpful: the two buttons under the answer, then disabled with the choice pressed.
    ask(page, "is botox safe?")
    row = page.locator(FEEDBACK)
    expect(row.get_by_role("button")).to_have_count(2)
    assert axe_violations(page) == [] and contrast_failures(page) == []
    if stack.backend == "sqlite":
        shots(page, "feedback")
    thanks = rate(page, "Helpful")
    expect(thanks).to_contain_text(KB.replies["feedback_thanks"])
    expect(row.get_by_role("button", name="Helpful", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(row.get_by_role("button", name="Helpful", exact=True)).to_be_disabled()
    expect(row.get_by_role("button", name="Not helpful")).to_be_disabled()
    expect(page.locator("#botox-chat .g button", has_text="Tell me more")).to_be_visible()  # the answer's follow-ups

    # Not helpful, then one line of what was missing.
    ask(page, "what are the side effects of botox?")
    expect(page.locator(FEEDBACK)).to_have_count(1)  # only under the latest answer
    asked = rate(page, "Not helpful")
    expect(asked).to_contain_text("What was missing?")
    field = page.get_by_label("What was missing? (optional)")
    expect(field).to_be_focused()  # clicked, then asked: the keyboard goes on there
    assert axe_violations(page) == [] and contrast_failures(page) == []
    if stack.backend == "sqlite":
        shots(page, "feedback-comment")
    before = page.locator(BOT).count()
    field.fill(f"  {COMMENT}  ")
    page.locator("#botox-chat .cm").get_by_role("button", name="Send").click()
    expect(page.locator(BOT).nth(before)).to_contain_text("the clinic reads these")
    expect(field).to_have_count(0)

    # Not helpful, then Skip: nothing more is sent.
    ask(page, "who should inject botox?")
    rate(page, "Not helpful")
    count = len(sent)
    page.locator("#botox-chat .cm").get_by_role("button", name="Skip").click()
    expect(page.get_by_label("What was missing? (optional)")).to_have_count(0)
    page.reload()  # the choice survives a reload: the buttons stay disabled, the question stays answered
    expect(page.locator(FEEDBACK).get_by_role("button", name="Not helpful")).to_be_disabled()
    expect(page.get_by_label("What was missing? (optional)")).to_have_count(0)
    assert len(sent) == count

    messages = [b["message"] for b in sent]
    expected = [
        feedback_message("helpful"),
        feedback_message("not_helpful"),
        feedback_message("not_helpful", COMMENT),
        feedback_message("not_helpful"),
    ]
    assert [m for m in messages if m.startswith("/give_feedback")] == expected
    assert stored_feedback(stack) == [
        (expected[0], "give_feedback", {"verdict": "helpful"}),
        (expected[1], "give_feedback", {"verdict": "not_helpful"}),
        (expected[2], "give_feedback", {"verdict": "not_helpful", "comment": COMMENT}),
        (expected[3], "give_feedback", {"verdict": "not_helpful"}),
    ]

    # An emergency written as the comment still gets the emergency reply (the triage reads it).
    [reply] = payloads(stack.send("fb-emergency", feedback_message("not_helpful", EMERGENCY_MESSAGE)))
    assert reply["escalation"] == "emergency" and reply["type"] == "triage"

    out, candidates, data = review(stack, tmp_path)
    assert data["feedback"]["per_topic"] == {
        "common_side_effects": {"helpful": 0, "not_helpful": 1, "helpful_rate": 0.0},
        "who_should_inject": {"helpful": 0, "not_helpful": 1, "helpful_rate": 0.0},
        "safety": {"helpful": 1, "not_helpful": 0, "helpful_rate": 1.0},
    }
    rows = [(r["topic"], r["question"], r["comments"]) for r in data["feedback"]["not_helpful"]]
    assert rows == [
        ("common_side_effects", "what are the side effects of botox?", [COMMENT]),
        ("who_should_inject", "who should inject botox?", []),
    ]
    assert all(r["sender"].startswith("patient-") for r in data["feedback"]["not_helpful"])
    # Feedback is not a patient message: the three questions, the greeting, the emergency comment.
    assert data["messages"] == 5
    assert "TODO_not_helpful_common_side_effects" in candidates and f"what was missing: {COMMENT}" in candidates
    html = out.read_text()
    assert "<td>safety</td><td class='n'>1</td><td class='n'>0</td><td class='n'>100.0%</td>" in html
    shown = show_review(browser, out, ARTIFACTS / f"review-feedback-{stack.backend}.png")
    assert ["safety", "1", "0", "100.0%"] in shown and ["common_side_effects", "0", "1", "0.0%"] in shown
