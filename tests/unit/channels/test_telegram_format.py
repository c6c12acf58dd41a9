"""Telegram rendering of the reply payload (channels/telegram_format.py)."""

import html
import re

import pytest
import yaml
from servers import PROJECT_ROOT

from channels.telegram_commands import starter_buttons
from channels.telegram_format import (
    MAX_ANSWER_BUTTONS,
    MAX_MESSAGE_CHARS,
    SIREN,
    Block,
    escape,
    keyboard,
    pack,
    render_payload,
    render_text,
    starter_keyboard,
    tg_len,
    valid_callback_data,
)
from faq.clinic import load_clinic
from faq.knowledge_base import ButtonKey, Quote, load_knowledge_base
from faq.replies import Reply, render, topic_answer

CLINIC = load_clinic()
KB = load_knowledge_base()


def payload_for(reply: Reply):
    return render(reply, CLINIC)[1]


def balanced(html_text: str) -> bool:
    stack = []
    for closing, tag in re.findall(r"<(/?)([a-z]+)[^>]*>", html_text):
        if closing:
            if not stack or stack.pop() != tag:
                return False
        else:
            stack.append(tag)
    return not stack


def test_answer_has_quotes_as_blockquotes_and_keyboard():
    topic = KB.topic("safety")
    payload = payload_for(topic_answer(KB, topic))
    [message] = render_payload(payload)
    assert message.text.startswith(escape(payload["answer"]))
    for quote in topic.quotes:
        assert f"<blockquote>\u201c{escape(quote.text)}\u201d</blockquote>" in message.text
        assert f"<i>(paragraph {quote.paragraph}, sentence {quote.sentence})</i>" in message.text
    rows = message.reply_markup["inline_keyboard"]
    assert rows[0] == [{"text": "Tell me more", "callback_data": "/tell_me_more"}]
    assert all(len(row) == 1 and valid_callback_data(row[0]["callback_data"]) for row in rows)
    assert message.params(42)["parse_mode"] == "HTML"
    assert balanced(message.text)


def titles(markup):
    return [b["text"] for row in (markup or {}).get("inline_keyboard", []) for b in row]


def test_an_answer_showing_its_quotes_has_no_where_does_it_say_that_button():
    topic = KB.topic("safety")
    payload = payload_for(topic_answer(KB, topic))
    assert KB.suggestion(ButtonKey.ASK_SOURCE) in payload["suggestions"]  # the widget still offers it
    [message] = render_payload(payload)
    assert "<blockquote>" in message.text
    assert KB.buttons[ButtonKey.ASK_SOURCE] not in titles(message.reply_markup)
    assert 0 < len(titles(message.reply_markup)) <= MAX_ANSWER_BUTTONS


def test_without_quotes_the_source_button_stays_and_keyboards_keep_three_buttons():
    suggestions = [KB.suggestion(k) for k in (ButtonKey.ASK_SOURCE, ButtonKey.TELL_ME_MORE, ButtonKey.HANDOFF)]
    suggestions += starter_buttons()
    payload = {"type": "answer", "answer": "x", "sources": [], "suggestions": suggestions}
    assert titles(keyboard(payload)) == [s["title"] for s in suggestions[:MAX_ANSWER_BUTTONS]]


def test_the_booking_button_comes_first_and_counts_in_the_three():
    suggestions = [KB.suggestion(ButtonKey.TELL_ME_MORE)] + starter_buttons()
    payload = payload_for(Reply(type="handoff", answer="Call us.", suggestions=suggestions))
    assert titles(keyboard(payload, book_title="Book a visit")) == ["Book a visit", "Tell me more", "Is Botox safe?"]


def test_starter_keyboard_has_the_main_topics_two_to_a_row():
    markup = starter_keyboard(starter_buttons())
    assert markup["inline_keyboard"] == [
        [
            {"text": "Is Botox safe?", "callback_data": "/ask_safety"},
            {"text": "Side effects", "callback_data": "/ask_common_side_effects"},
        ],
        [
            {"text": "Who should inject?", "callback_data": "/ask_who_should_inject"},
            {"text": "What if I stop?", "callback_data": "/ask_stopping"},
        ],
    ]
    intents = set(yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())["intents"])
    assert {b["callback_data"][1:] for row in markup["inline_keyboard"] for b in row} <= intents


def test_link_previews_are_off_with_the_current_field():
    params = render_text("See https://clinic.example/book")[0].params(42)
    assert params["link_preview_options"] == {"is_disabled": True}
    assert "disable_web_page_preview" not in params


def test_every_string_is_escaped():
    reply = Reply(
        type="answer",
        answer="<script>alert(1)</script> & <b>bold</b>",
        sources=[Quote(document="a.txt", paragraph=1, sentence=2, text='A <i>quote</i> & "more"')],
    )
    payload = payload_for(reply)
    payload["advice"] = "<a href='x'>call</a>"
    payload["escalation"] = "clinic"
    payload["suggestions"] = [{"title": "<b>Click</b>", "payload": "/ask_safety"}]
    [message] = render_payload(payload)
    assert "<script>" not in message.text and "<a " not in message.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in message.text
    assert 'A &lt;i&gt;quote&lt;/i&gt; &amp; "more"' in message.text
    assert "&lt;a href='x'&gt;call&lt;/a&gt;" in message.text
    # Button titles are plain text in Telegram: no escaping, no markup.
    assert message.reply_markup["inline_keyboard"][0][0]["text"] == "<b>Click</b>"
    assert balanced(message.text)


def test_emergency_advice_comes_first_and_bold():
    reply = Reply(
        type="triage",
        answer="Some symptoms need urgent care.",
        escalation="emergency",
        sources=KB.topic("serious_complications").quotes,
        suggestions=[KB.suggestion(ButtonKey.HANDOFF)],
    )
    payload = payload_for(reply)
    assert payload["advice"]
    [message] = render_payload(payload)
    assert message.text.startswith(f"{SIREN} <b>{escape(payload['advice'])}</b>")
    assert message.text.count(escape(payload["advice"])) == 1
    assert message.text.index("Some symptoms") > message.text.index(escape(payload["advice"]))


def test_clinic_advice_comes_after_the_quotes_in_bold():
    topic = next(t for t in KB.topics if t.escalation == "clinic")
    payload = payload_for(topic_answer(KB, topic))
    [message] = render_payload(payload)
    assert message.text.endswith(f"<b>{escape(payload['advice'])}</b>")
    assert message.text.index("<blockquote>") < message.text.index(escape(payload["advice"]))


def test_fallback_without_answer_uses_text():
    [message] = render_payload({"text": "Hello <there>", "suggestions": []})
    assert message.text == "Hello &lt;there&gt;"
    assert message.reply_markup is None


def test_handoff_gets_a_booking_button():
    payload = payload_for(Reply(type="handoff", answer="Call us."))
    [message] = render_payload(payload, book_title=KB.buttons[ButtonKey.BOOK_VISIT])
    assert {"text": "Book a visit", "url": CLINIC.contact["booking_url"]} in [
        b for row in message.reply_markup["inline_keyboard"] for b in row
    ]


def test_bad_suggestions_are_dropped_not_sent():
    payload = {
        "type": "answer",
        "answer": "x",
        "suggestions": [
            {"title": "ok", "payload": "/ask_safety"},
            {"title": "too long", "payload": "/" + "a" * 64},
            {"title": "entities", "payload": '/greet{"x": 1}'},
            {"title": "", "payload": "/thanks"},
            "junk",
        ],
    }
    assert keyboard(payload) == {"inline_keyboard": [[{"text": "ok", "callback_data": "/ask_safety"}]]}


@pytest.mark.parametrize(
    "text",
    [
        "word " * 3000,  # long, with spaces
        "x" * 10000,  # no place to cut
        ("<&> " * 2000),  # escaping makes it 3x longer
        "\U0001f600" * 5000,  # 2 UTF-16 units each
        "line\n" * 3000,
    ],
)
def test_long_answers_are_split_under_the_limit(text):
    payload = {
        "type": "answer",
        "answer": text,
        "escalation": "emergency",
        "advice": "Call 112 now.",
        "sources": [{"paragraph": 1, "sentence": 1, "quote": "q " * 3000}],
        "suggestions": [{"title": "Tell me more", "payload": "/tell_me_more"}],
    }
    messages = render_payload(payload)
    assert len(messages) > 1
    for message in messages:
        assert 0 < tg_len(message.text) <= MAX_MESSAGE_CHARS
        assert balanced(message.text)
    assert messages[0].text.startswith(f"{SIREN} <b>Call 112 now.</b>")
    assert [m.reply_markup is not None for m in messages] == [False] * (len(messages) - 1) + [True]
    # Nothing lost but whitespace at the cuts.
    shown = html.unescape(re.sub(r"<[^>]+>|\s", "", "".join(m.text for m in messages)))
    assert re.sub(r"\s", "", text) in shown


def test_pack_joins_small_blocks_and_respects_limit():
    blocks = [Block("a" * 40), Block("b" * 40, ("b",)), Block("c" * 40)]
    assert pack(blocks, limit=100) == ["a" * 40 + "\n\n<b>" + "b" * 40 + "</b>", "c" * 40]


def test_plain_text_fallback_escapes_and_splits():
    messages = render_text("Hi <you>\n\n" + "y" * 5000)
    assert messages[0].text.startswith("Hi &lt;you&gt;")
    assert all(tg_len(m.text) <= MAX_MESSAGE_CHARS for m in messages)
    assert render_text("") == []
