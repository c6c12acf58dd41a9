"""End to end: a real Rasa server (with the real action server) gets webhook
updates as Telegram sends them, and talks back to a fake Bot API server on
127.0.0.1 (tests/support/fake_telegram.py); the tests check what the bot sent."""

import html
import re

import pytest
import yaml
from fake_telegram import BOT_USER, FakeTelegram
from servers import PROJECT_ROOT, RasaStack, http_json
from telegram_updates import credentials, private_chat, update
from telegram_updates import post as post_update

from channels.telegram_commands import starter_buttons
from channels.telegram_format import SIREN, escape
from faq.feedback import feedback_message
from faq.knowledge_base import load_knowledge_base

RASA_PORT, ACTION_PORT = 5405, 5455
TOKEN = "123456:E2E-token_xyz"
SECRET = "e2e-Secret_token-42"
WEBHOOK = f"http://127.0.0.1:{RASA_PORT}/webhooks/telegram/webhook"
KB = load_knowledge_base()


@pytest.fixture(scope="module")
def fake():
    with FakeTelegram(TOKEN) as api:
        yield api


@pytest.fixture(scope="module")
def stack(fake):
    with RasaStack(
        RASA_PORT, ACTION_PORT, credentials=credentials(TOKEN, SECRET, fake.url), extra_args=["--enable-api"]
    ) as s:
        yield s


@pytest.fixture(autouse=True)
def clean(fake):
    fake.clear()


def post(update, secret=SECRET):
    return post_update(WEBHOOK, update, secret)


def sent_to(fake, chat_id):
    return [c for c in fake.calls("sendMessage") if str(c["chat_id"]) == str(chat_id)]


def buttons(call):
    return [b for row in (call.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


def user_texts(stack, sender):
    tracker = http_json(f"{stack.url}/conversations/telegram-{sender}/tracker")
    return [e.get("text") for e in tracker.get("events", []) if e.get("event") == "user"]


def test_question_gets_html_answer_with_quotes_and_buttons(stack, fake):
    chat = private_chat(5001)
    assert post(update(chat, text="is botox safe?")) == 200
    [call] = sent_to(fake, 5001)
    assert call["parse_mode"] == "HTML"
    topic = KB.topic("safety")
    for quote in topic.quotes:
        assert f"<blockquote>\u201c{escape(quote.text)}\u201d</blockquote>" in call["text"]
    assert escape(topic.answer) in call["text"]
    assert {"text": "Tell me more", "callback_data": "/tell_me_more"} in buttons(call)
    assert len(call["text"]) <= 4096


def test_clinic_advice_is_bold_after_the_quotes(stack, fake):
    chat = private_chat(5011)
    assert post(update(chat, text="what are the serious complications of botox?")) == 200
    [call] = sent_to(fake, 5011)
    advice = yaml.safe_load((PROJECT_ROOT / "clinic.yml").read_text())["advice"]["clinic"]
    phone = yaml.safe_load((PROJECT_ROOT / "clinic.yml").read_text())["phone"]
    assert re.search(rf"<b>[^<]*{re.escape(phone)}[^<]*</b>$", call["text"]), call["text"][-300:]
    assert call["text"].rindex("</blockquote>") < call["text"].rindex(phone)
    assert advice.split("{")[0].strip() in call["text"]


def test_inline_button_callback_is_answered_and_handled(stack, fake):
    chat = private_chat(5002)
    assert post(update(chat, text="what are the side effects?")) == 200
    [answer] = sent_to(fake, 5002)
    fake.clear()
    button = next(b for b in buttons(answer) if b["text"] == "Tell me more")
    callback = {
        "update_id": 910000,
        "callback_query": {
            "id": "cbq-e2e-1",
            "chat_instance": "42",
            "data": button["callback_data"],
            "from": {"id": 5002, "is_bot": False, "first_name": "Pat"},
            "message": {"message_id": 777, "date": 1700000000, "chat": chat, "text": "..."},
        },
    }
    assert post(callback) == 200
    assert fake.methods()[0] == "answerCallbackQuery"
    assert fake.calls("answerCallbackQuery") == [{"callback_query_id": "cbq-e2e-1"}]
    [more] = sent_to(fake, 5002)
    assert more["text"].startswith(escape(KB.replies["more_intro"]))
    assert "<blockquote>" in more["text"]
    assert user_texts(stack, 5002)[-1] == "/tell_me_more"


def test_start_greets_and_help_explains(stack, fake):
    chat = private_chat(5003)
    assert post(update(chat, text="/start")) == 200
    [greeting] = sent_to(fake, 5003)
    assert greeting["text"].startswith("Hello! I'm the automated assistant")
    assert [b["callback_data"] for b in buttons(greeting)] == [s["payload"] for s in starter_buttons()]
    fake.clear()
    assert post(update(chat, text="/help")) == 200
    [help_call] = sent_to(fake, 5003)
    assert "How I can help" in help_call["text"] and help_call["parse_mode"] == "HTML"


def test_a_starter_button_answers_its_topic_and_takes_the_starters_away(stack, fake):
    chat = private_chat(5013)
    assert post(update(chat, text="/start")) == 200
    [greeting] = sent_to(fake, 5013)
    greeting_id = fake.answered("sendMessage")[-1]["message_id"]
    fake.clear()
    tap = {
        "update_id": 930000,
        "callback_query": {
            "id": "cbq-e2e-start",
            "chat_instance": "43",
            "data": buttons(greeting)[0]["callback_data"],
            "from": {"id": 5013, "is_bot": False, "first_name": "Pat"},
            "message": {"message_id": 1, "date": 1700000000, "chat": chat, "text": "..."},
        },
    }
    assert post(tap) == 200
    [answer] = sent_to(fake, 5013)
    assert escape(KB.topic("safety").answer) in answer["text"]
    assert fake.calls("editMessageReplyMarkup") == [{"chat_id": "5013", "message_id": greeting_id}]
    assert fake.keyboard(5013, greeting_id) == []


def test_sources_and_clinic_commands(stack, fake):
    chat = private_chat(5014)
    assert post(update(chat, text="/sources")) == 200
    [nothing_yet] = sent_to(fake, 5014)
    assert escape(KB.replies["no_previous_answer"]).split(",")[0] in nothing_yet["text"]
    assert post(update(chat, text="who should inject botox?")) == 200
    fake.clear()
    assert post(update(chat, text="/sources")) == 200
    [sources] = sent_to(fake, 5014)
    assert "<blockquote>" in sources["text"]
    assert any(escape(q.text) in sources["text"] for q in KB.topic("who_should_inject").quotes)
    assert user_texts(stack, 5014)[-1] == "/ask_source"
    fake.clear()
    assert post(update(chat, text="/clinic")) == 200
    [contacts] = sent_to(fake, 5014)
    clinic = yaml.safe_load((PROJECT_ROOT / "clinic.yml").read_text())
    for field in ("phone", "email", "booking_url", "emergency_number"):
        assert escape(clinic[field]) in contacts["text"]
    assert user_texts(stack, 5014)[-1] == "/ask_source"  # /clinic never reaches the bot


def test_a_new_answer_takes_the_buttons_off_the_previous_one(stack, fake):
    chat = private_chat(5015)
    assert post(update(chat, text="is botox safe?")) == 200
    assert post(update(chat, text="what are the side effects?")) == 200
    first, second = fake.answered("sendMessage")
    [edit] = fake.calls("editMessageReplyMarkup")
    assert edit == {"chat_id": "5015", "message_id": first["message_id"]}
    assert fake.keyboard(5015, first["message_id"]) == []
    assert fake.keyboard(5015, second["message_id"])
    assert all(call["link_preview_options"] == {"is_disabled": True} for call in sent_to(fake, 5015))


def tap(chat, data, n):
    """A callback query: the patient taps the button with this data."""
    user = {"id": chat["id"], "is_bot": False, "first_name": "Pat"}
    message = {"message_id": 1, "date": 1700000000, "chat": chat, "text": "..."}
    query = {"id": f"cbq-fb-{n}", "chat_instance": "44", "data": data, "from": user, "message": message}
    return {"update_id": 940000 + n, "callback_query": query}


def test_feedback_buttons_store_the_verdict_and_a_reply_to_what_was_missing_is_the_comment(stack, fake):
    chat = private_chat(5016)
    assert post(update(chat, text="is botox safe?")) == 200
    [answer] = sent_to(fake, 5016)
    rows = answer["reply_markup"]["inline_keyboard"]
    assert len(rows) <= 4 and all(len(r) == 1 for r in rows[:-1])  # at most 3 buttons, then the feedback row
    helpful, not_helpful = rows[-1]
    assert [helpful["text"], not_helpful["text"]] == [
        KB.buttons["feedback_helpful"],
        KB.buttons["feedback_not_helpful"],
    ]
    assert post(tap(chat, helpful["callback_data"], 1)) == 200
    assert sent_to(fake, 5016)[-1]["text"] == escape(KB.replies["feedback_thanks"])
    assert fake.keyboard(5016, fake.answered("sendMessage")[0]["message_id"]) == []  # the old keyboard goes

    assert post(update(chat, text="what are the side effects of botox?")) == 200
    fake.clear()
    assert post(tap(chat, not_helpful["callback_data"], 2)) == 200
    assert fake.calls("answerCallbackQuery") == [{"callback_query_id": "cbq-fb-2"}]
    [prompt] = sent_to(fake, 5016)
    assert prompt["reply_markup"] == {"force_reply": True, "input_field_placeholder": "What was missing? (optional)"}
    asked = {"message_id": fake.answered("sendMessage")[-1]["message_id"], "date": 1700000001, "chat": chat}
    asked |= {"from": BOT_USER, "text": html.unescape(prompt["text"])}
    assert post(update(chat, text="how long the bruising lasts", reply_to_message=asked)) == 200
    assert KB.replies["feedback_comment_thanks"].split(":")[0] in sent_to(fake, 5016)[-1]["text"]

    tracker = http_json(f"{stack.url}/conversations/telegram-5016/tracker")
    stored = [
        (e["text"], {x["entity"]: x["value"] for x in e["parse_data"]["entities"]})
        for e in tracker["events"]
        if e.get("event") == "user" and e["parse_data"]["intent"]["name"] == "give_feedback"
    ]
    assert stored == [
        (feedback_message("helpful"), {"verdict": "helpful"}),
        (feedback_message("not_helpful"), {"verdict": "not_helpful"}),
        (
            feedback_message("not_helpful", "how long the bruising lasts"),
            {"verdict": "not_helpful", "comment": "how long the bruising lasts"},
        ),
    ]


@pytest.mark.parametrize("body", [["not", "an", "update"], {"message": {"text": "hi"}}, {"update_id": "1"}, "null"])
def test_a_body_that_is_not_an_update_gets_400(stack, fake, body):
    assert post(body) == 400
    assert fake.records == []


@pytest.mark.parametrize(
    "message",
    [
        {
            "sticker": {
                "file_id": "CAAC",
                "file_unique_id": "u",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
                "emoji": "\U0001f44d",
            }
        },
        {"photo": [{"file_id": "AgAC", "file_unique_id": "p", "width": 90, "height": 67}]},
        {"voice": {"file_id": "AwAC", "file_unique_id": "v", "duration": 2, "mime_type": "audio/ogg"}},
    ],
)
def test_media_gets_a_short_polite_reply(stack, fake, message):
    chat = private_chat(5004)
    assert post(update(chat, **message)) == 200
    [call] = sent_to(fake, 5004)
    assert "I can only read text messages" in call["text"]


def test_edited_messages_and_group_chats_never_error(stack, fake):
    edited = update(private_chat(5005), text="is botox safe???", edit_date=1700000100)
    edited["edited_message"] = edited.pop("message")
    assert post(edited) == 200
    [call] = sent_to(fake, 5005)
    assert "not edits" in call["text"]
    group = {"id": -1005006, "type": "group", "title": "Friends"}
    assert post(update(group, text="is botox safe?")) == 200
    assert sent_to(fake, -1005006) == []
    assert post(update(group, text="/start@clinic_faq_test_bot")) == 200
    [call] = sent_to(fake, -1005006)
    assert "private chat" in call["text"]
    assert buttons(call) == [{"text": "Open a private chat", "url": "https://t.me/clinic_faq_test_bot"}]
    assert post(update(group, text="@clinic_faq_test_bot is botox safe?")) == 200
    assert len(sent_to(fake, -1005006)) == 1  # once per group per 10 minutes
    assert user_texts(stack, -1005006) == []


@pytest.mark.parametrize("secret", ["forged-secret", None, SECRET + "x", ""])
def test_forged_or_missing_secret_gets_403_and_reaches_nothing(stack, fake, secret):
    chat = private_chat(5007)
    assert post(update(chat, text="is botox safe?"), secret=secret) == 403
    callback = {
        "update_id": 920000,
        "callback_query": {
            "id": "cbq-forged",
            "chat_instance": "1",
            "data": "/handoff",
            "from": {"id": 5007, "is_bot": False, "first_name": "X"},
            "message": {"message_id": 1, "date": 1700000000, "chat": chat, "text": "..."},
        },
    }
    assert post(callback, secret=secret) == 403
    assert fake.records == []
    assert user_texts(stack, 5007) == []


def test_overlong_message_is_refused_politely_before_the_bot(stack, fake):
    chat = private_chat(5008)
    assert post(update(chat, text="botox " * 600)) == 200  # 3,600 characters: over the guard's 2,000
    [call] = sent_to(fake, 5008)
    assert "too long" in call["text"] and len(call["text"]) <= 4096
    assert user_texts(stack, 5008) == []


def test_redelivered_update_is_answered_once(stack, fake):
    again = update(private_chat(5010), text="thanks")
    assert post(again) == 200 and post(again) == 200
    assert len(sent_to(fake, 5010)) == 1


def test_emergency_advice_comes_first_and_bold(stack, fake):
    chat = private_chat(5009)
    assert post(update(chat, text="I had botox yesterday and now I can't breathe")) == 200
    calls = sent_to(fake, 5009)
    assert calls, "no reply"
    first = calls[0]["text"]
    assert first.startswith(f"{SIREN} <b>"), first[:200]
    assert re.search(r"<b>[^<]*112[^<]*</b>", first)


def test_a_captioned_photo_reporting_an_emergency_gets_the_emergency_reply(stack, fake):
    chat = private_chat(5012)
    photo = [{"file_id": "AgAD", "file_unique_id": "q", "width": 90, "height": 67}]
    assert post(update(chat, photo=photo, caption="I had botox yesterday and now I c\u0430n't breathe")) == 200
    [call] = sent_to(fake, 5012)
    assert call["text"].startswith(f"{SIREN} <b>"), call["text"][:200]
    assert "I can only read text messages" not in call["text"]
    assert user_texts(stack, 5012) == ["I had botox yesterday and now I can't breathe"]


def test_a_telegram_only_process_has_the_start_up(stack):
    assert "startup: the tracker store fails closed; action-response validator cached=True" in stack.log("rasa")


def test_rasa_log_has_no_traceback_and_no_token(stack):
    log = stack.log("rasa")
    assert "Traceback" not in log
    assert TOKEN not in log and SECRET not in log
    assert "Telegram webhook call refused: missing or wrong" in log


def test_a_message_delivered_again_is_processed_once(stack, fake):
    """Telegram delivers an update again when its webhook call got no answer (the
    instance died after storing the turn). Another instance has not seen the
    update_id; its copy of the message (same Telegram message id, here under a
    new update_id) is answered from the store, not processed twice."""
    chat = private_chat(5071)
    first = update(chat, text="who should inject botox?")
    assert post(first) == 200
    again = {**first, "update_id": first["update_id"] + 500_000}
    assert post(again) == 200
    first_reply, second_reply = sent_to(fake, 5071)
    assert second_reply["text"] == first_reply["text"]  # the stored answer, sent again
    assert user_texts(stack, 5071) == ["who should inject botox?"]
    assert "message.resent" in stack.log("rasa")
