"""The Telegram channel in-process (channels/telegram.py) against the fake
Bot API (tests/fake_telegram.py): updates it can't use, callbacks, failures,
configuration; and scripts/telegram_webhook.py."""

import logging
import subprocess
import sys

import pytest
from conftest import SECRET, TOKEN
from fake_telegram import BOT_USER
from servers import PROJECT_ROOT

from channels.telegram import (
    START_MESSAGE,
    TelegramInput,
    channel_text,
    clinic_message,
    feedback_buttons,
    media_reply,
)
from channels.telegram_api import TelegramApiError
from channels.telegram_chats import GroupPointers
from channels.telegram_commands import ALLOWED_UPDATES, COMMANDS
from channels.telegram_format import OutgoingMessage
from faq.clinic import load_clinic
from faq.feedback import feedback_message
from faq.knowledge_base import ReplyKey
from faq.settings import Settings

PRIVATE = {"id": 4242, "type": "private", "first_name": "Pat"}
GROUP = {"id": -100777, "type": "supergroup", "title": "Clinic fans"}
USER = {"id": 4242, "is_bot": False, "first_name": "Pat"}
HELPFUL, NOT_HELPFUL = feedback_message("helpful"), feedback_message("not_helpful")
FEEDBACK = [HELPFUL, NOT_HELPFUL]
TELL_ME_MORE = {"title": "Tell me more", "payload": "/tell_me_more"}


class Bot:
    """Stands in for Rasa: records user messages, answers like action_reply."""

    def __init__(self, reply=True, fail=False, suggestions=(TELL_ME_MORE,), kind="answer"):
        self.messages, self.reply, self.fail, self.suggestions = [], reply, fail, list(suggestions)
        self.answer, self.kind = "Answer <1>", kind

    async def __call__(self, message):
        self.messages.append(message)
        if self.fail:
            raise RuntimeError("action server down")
        if self.reply:
            await message.output_channel.send_response(
                message.sender_id,
                {
                    "text": self.answer,
                    "custom": {
                        "type": self.kind,
                        "text": self.answer,
                        "answer": self.answer,
                        "escalation": "none",
                        "advice": None,
                        "sources": [],
                        "suggestions": self.suggestions,
                    },
                },
            )


def message(text=None, chat=PRIVATE, **extra):
    body = {"message_id": 1, "date": 1700000000, "chat": chat, "from": USER, **extra}
    if text is not None:
        body["text"] = text
    return {"update_id": 1, "message": body}


@pytest.mark.asyncio
async def test_text_goes_to_the_bot_and_the_payload_is_rendered(channel, fake):
    bot = Bot()
    await channel.handle_update(message("is botox safe?"), bot)
    assert [m.text for m in bot.messages] == ["is botox safe?"]
    assert bot.messages[0].sender_id == "telegram-4242" and bot.messages[0].input_channel == "telegram"
    [sent] = fake.calls("sendMessage")
    assert sent["text"] == "Answer &lt;1&gt;" and sent["parse_mode"] == "HTML"
    assert str(sent["chat_id"]) == "4242"
    assert sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/tell_me_more"


@pytest.mark.asyncio
async def test_start_is_the_greeting_and_help_is_answered_by_the_channel(channel, fake):
    bot = Bot()
    await channel.handle_update(message("/start"), bot)
    await channel.handle_update(message("/start@clinic_faq_test_bot deep-link"), bot)
    assert [m.text for m in bot.messages] == [START_MESSAGE, START_MESSAGE]
    fake.clear()
    await channel.handle_update(message("/help"), bot)
    assert len(bot.messages) == 2
    [sent] = fake.calls("sendMessage")
    assert "How I can help" in sent["text"] and "112" in sent["text"] and sent["parse_mode"] == "HTML"


def private(chat_id):
    """A chat of its own: the guard's rate limit counts per sender."""
    return {**PRIVATE, "id": chat_id}


def buttons(call):
    return [b for row in (call.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


@pytest.mark.asyncio
async def test_start_shows_the_main_topics_as_buttons(channel, fake):
    chat = private(4301)
    await channel.handle_update(message("/start", chat=chat), Bot(suggestions=(), kind="smalltalk"))
    [greeting] = fake.calls("sendMessage")
    assert [b["callback_data"] for b in buttons(greeting)] == [
        "/ask_safety",
        "/ask_common_side_effects",
        "/ask_who_should_inject",
        "/ask_stopping",
    ]
    fake.clear()
    await channel.handle_update(message("is botox safe?", chat=chat), Bot())  # only /start gets them
    assert [b["callback_data"] for b in buttons(fake.calls("sendMessage")[0])] == ["/tell_me_more", *FEEDBACK]


@pytest.mark.asyncio
async def test_sources_asks_the_bot_and_clinic_is_answered_by_the_channel(channel, fake):
    bot, chat = Bot(), private(4302)
    await channel.handle_update(message("/sources", chat=chat), bot)
    assert [m.text for m in bot.messages] == ["/ask_source"]
    fake.clear()
    await channel.handle_update(message("/clinic", chat=chat), bot)
    assert len(bot.messages) == 1
    [sent] = fake.calls("sendMessage")
    assert sent["text"] == clinic_message()
    contact = load_clinic().contact
    for field in ("name", "phone", "email", "booking_url", "emergency_number"):
        assert contact[field] in sent["text"]


@pytest.mark.asyncio
async def test_a_new_answer_takes_the_buttons_off_the_previous_one(channel, fake):
    chat = private(4303)
    await channel.handle_update(message("is botox safe?", chat=chat), Bot())
    await channel.handle_update(message("and side effects?", chat=chat), Bot())
    first_id, second_id = 101, 102  # the fake numbers its messages from 101
    assert fake.calls("editMessageReplyMarkup") == [{"chat_id": "4303", "message_id": first_id}]
    assert fake.keyboard(4303, first_id) == []
    assert [b["text"] for b in fake.keyboard(4303, second_id)] == ["Tell me more", *feedback_buttons()]
    await channel.handle_update(message("/help", chat=chat), Bot())  # the channel's own message: buttons stay
    assert len(fake.calls("editMessageReplyMarkup")) == 1 and fake.keyboard(4303, second_id)


@pytest.mark.asyncio
async def test_a_keyboard_telegram_wont_edit_does_not_stop_the_answer(channel, fake, caplog):
    chat = private(4304)
    await channel.handle_update(message("is botox safe?", chat=chat), Bot())
    fake.fail("editMessageReplyMarkup", 400, "Bad Request: message can't be edited")
    with caplog.at_level(logging.INFO):
        await channel.handle_update(message("and side effects?", chat=chat), Bot())
    assert len(fake.calls("sendMessage")) == 2
    assert "telegram.keyboard.kept" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.asyncio
async def test_a_patient_who_blocked_the_bot_is_logged_at_info(channel, fake, caplog):
    fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with caplog.at_level(logging.INFO):
        await channel.handle_update(message("is botox safe?", chat=private(4305)), Bot())
    assert "telegram.reply.blocked sender=" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert len(fake.calls("sendMessage")) == 1  # not resent, not queued


@pytest.mark.asyncio
async def test_the_menu_offers_only_commands_the_channel_answers(channel, fake):
    unknown = channel_text(ReplyKey.TELEGRAM_UNKNOWN_COMMAND, refusal=True)
    for i, (name, _) in enumerate(COMMANDS):
        fake.clear()
        await channel.handle_update(message(f"/{name}", chat=private(4310 + i)), Bot())
        [reply] = fake.calls("sendMessage")
        assert reply["text"] != unknown, name


@pytest.mark.asyncio
async def test_every_update_kind_registered_with_the_webhook_is_answered(channel, fake):
    chat = private(4320)
    updates = {
        "message": message("is botox safe?", chat=chat)["message"],
        "edited_message": message("is botox safe??", chat=chat)["message"],
        "callback_query": callback("/tell_me_more", chat=chat)["callback_query"],
    }
    assert set(updates) == set(ALLOWED_UPDATES)
    for kind, body in updates.items():
        fake.clear()
        await channel.handle_update({"update_id": 3, kind: body}, Bot())
        assert fake.calls("sendMessage"), kind


@pytest.mark.asyncio
async def test_a_message_refused_even_as_plain_text_does_not_stop_the_rest_of_the_reply(channel, fake):
    fake.fail("sendMessage", 400, "Bad Request: chat not found", times=2)
    out = channel.get_output_channel()
    await out.send_messages("telegram-4306", [OutgoingMessage("first"), OutgoingMessage("second")])
    assert [c["params"]["text"] for c in fake.answered("sendMessage") if c["status"] == 200] == ["second"]


@pytest.mark.asyncio
async def test_the_fake_refuses_a_misspelt_field(channel, fake):
    with pytest.raises(TelegramApiError) as refused:
        await channel.api.call("sendMessage", chat_id=1, text="x", disable_web_page_preview=True)
    assert refused.value.status == 400
    assert fake.problems == ["sendMessage: unknown field 'disable_web_page_preview'"]
    fake.problems.clear()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "extra",
    [
        {"sticker": {"file_id": "x", "emoji": "\U0001f600"}},
        {"photo": [{"file_id": "p", "width": 90, "height": 90}]},
        {"voice": {"file_id": "v", "duration": 3}},
        {"document": {"file_id": "d"}},
        {"location": {"latitude": 1.0, "longitude": 2.0}},
    ],
)
async def test_media_gets_a_polite_reply_and_never_reaches_the_bot(channel, fake, extra):
    bot = Bot()
    await channel.handle_update(message(**extra), bot)
    assert bot.messages == []
    [sent] = fake.calls("sendMessage")
    assert sent["text"] == media_reply()


@pytest.mark.asyncio
@pytest.mark.parametrize("media", ["photo", "document"])
async def test_a_caption_is_read_as_the_users_message(channel, fake, media):
    bot = Bot()
    attachment = [{"file_id": "p", "width": 90, "height": 90}] if media == "photo" else {"file_id": "d"}
    await channel.handle_update(message(**{media: attachment, "caption": "is this bruise normal?"}), bot)
    assert [m.text for m in bot.messages] == ["is this bruise normal?"]
    [sent] = fake.calls("sendMessage")
    assert sent["text"] == "Answer &lt;1&gt;"


@pytest.mark.asyncio
async def test_unknown_command_and_edited_message(channel, fake):
    bot = Bot()
    await channel.handle_update(message("/settings"), bot)
    edited = message("is botox safe??")
    edited["edited_message"] = edited.pop("message")
    await channel.handle_update(edited, bot)
    assert bot.messages == []
    assert [c["text"] for c in fake.calls("sendMessage")] == [
        channel_text(ReplyKey.TELEGRAM_UNKNOWN_COMMAND, refusal=True),
        channel_text(ReplyKey.TELEGRAM_EDITED, refusal=True),
    ]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.mark.asyncio
async def test_a_group_that_addresses_the_bot_gets_one_pointer_per_window(channel, fake):
    clock = Clock()
    channel.group_pointers = GroupPointers(window_s=600, clock=clock)
    bot = Bot()
    for ignored in [message("is botox safe?", chat=GROUP), message(chat=GROUP, new_chat_members=[USER])]:
        await channel.handle_update(ignored, bot)
    await channel.handle_update(message("/start@some_other_bot", chat=GROUP), bot)
    assert fake.calls("sendMessage") == []
    await channel.handle_update(message("@Clinic_FAQ_test_bot is botox safe?", chat=GROUP), bot)
    [sent] = fake.calls("sendMessage")
    assert sent["text"] == channel_text(ReplyKey.TELEGRAM_GROUP, refusal=True)
    assert str(sent["chat_id"]) == str(GROUP["id"])
    assert buttons(sent) == [{"text": "Open a private chat", "url": "https://t.me/clinic_faq_test_bot"}]
    await channel.handle_update(message("/start@clinic_faq_test_bot", chat=GROUP), bot)
    assert len(fake.calls("sendMessage")) == 1  # within the window: once
    clock.now += 601
    reply = {"message_id": 9, "date": 1, "chat": GROUP, "from": BOT_USER, "text": "..."}
    await channel.handle_update(message("thanks!", chat=GROUP, reply_to_message=reply), bot)
    assert len(fake.calls("sendMessage")) == 2
    other_group = {**GROUP, "id": -100888}
    mention = {"type": "text_mention", "offset": 0, "length": 4, "user": BOT_USER}
    await channel.handle_update(message("Clinic, help", chat=other_group, entities=[mention]), bot)
    assert len(fake.calls("sendMessage")) == 3 and bot.messages == []
    assert fake.methods().count("getMe") == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 5, "channel_post": {"message_id": 1, "chat": {"id": -1, "type": "channel"}, "text": "x"}},
        {"update_id": 6, "my_chat_member": {"chat": PRIVATE}},
        {"update_id": 7, "inline_query": {"id": "1", "from": USER, "query": "botox"}},
        {"update_id": 8},
        {"update_id": 9, "message": "not a dict"},
        {"update_id": 10, "message": {"message_id": 1, "chat": PRIVATE, "pinned_message": {}}},
    ],
)
async def test_updates_we_cant_use_are_ignored_silently(channel, fake, update):
    bot = Bot()
    await channel.handle_update(update, bot)
    assert bot.messages == [] and fake.records == []


def callback(data, chat=PRIVATE):
    return {
        "update_id": 2,
        "callback_query": {
            "id": "cbq-1",
            "from": USER,
            "chat_instance": "ci",
            "data": data,
            "message": {"message_id": 101, "date": 1700000000, "chat": chat, "text": "earlier answer"},
        },
    }


@pytest.mark.asyncio
async def test_callback_is_acknowledged_then_sent_as_the_users_message(channel, fake):
    bot = Bot()
    await channel.handle_update(callback("/tell_me_more"), bot)
    assert fake.methods()[0] == "answerCallbackQuery"
    assert fake.calls("answerCallbackQuery") == [{"callback_query_id": "cbq-1"}]
    assert [m.text for m in bot.messages] == ["/tell_me_more"] and bot.messages[0].sender_id == "telegram-4242"
    assert len(fake.calls("sendMessage")) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("data", ['/greet{"last_topic": "x"}', "hello", "/" + "a" * 70, None])
async def test_forged_callback_data_is_acknowledged_but_not_passed_on(channel, fake, data):
    bot = Bot()
    await channel.handle_update(callback(data), bot)
    assert bot.messages == []
    [answer] = fake.calls("answerCallbackQuery")
    assert answer["callback_query_id"] == "cbq-1" and "type your question" in answer["text"]
    assert fake.calls("sendMessage") == []


@pytest.mark.asyncio
@pytest.mark.parametrize("bot", [Bot(fail=True), Bot(reply=False)])
async def test_the_patient_gets_the_safe_fallback_when_the_bot_fails(channel, fake, bot):
    await channel.handle_update(message("is botox safe?"), bot)
    [sent] = fake.calls("sendMessage")
    assert "something went wrong" in sent["text"] and "112" in sent["text"]


@pytest.mark.asyncio
async def test_html_rejected_by_telegram_is_resent_as_plain_text(channel, fake):
    fake.fail("sendMessage", 400, "Bad Request: can't parse entities")
    await channel.handle_update(message("is botox safe?"), Bot())
    first, second = fake.calls("sendMessage")
    assert first["parse_mode"] == "HTML"
    assert second == {"chat_id": "4242", "text": "Answer <1>"}


def test_settings_come_from_credentials_then_environment():
    env = Settings.from_env({"TELEGRAM_BOT_TOKEN": "env-token", "TELEGRAM_SECRET_TOKEN": "env-secret"})
    from_env = TelegramInput.from_credentials(None, env)
    assert (from_env.token, from_env.secret_token, from_env.api_base_url) == (
        "env-token",
        "env-secret",
        "https://api.telegram.org",
    )
    assert from_env.problem is None
    given = TelegramInput.from_credentials({"token": "t", "secret_token": "s", "api_base_url": "http://x:1"})
    assert (given.token, given.secret_token, given.api_base_url) == ("t", "s", "http://x:1")


def test_without_token_or_secret_the_channel_loads_but_is_disabled():
    empty = Settings.from_env({})
    assert "no bot token" in TelegramInput.from_credentials({}, empty).problem
    assert "no webhook secret" in TelegramInput.from_credentials({"token": "t"}, empty).problem
    assert "may only use" in TelegramInput.from_credentials({"token": "t", "secret_token": "a b"}, empty).problem
    assert TelegramInput.from_credentials({}, empty).get_output_channel() is None


def run_script(*args, env):
    # PYTHONPATH: this checkout's packages, not those the venv was installed from.
    return subprocess.run(
        [sys.executable, "scripts/telegram_webhook.py", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
        timeout=60,
    )


def test_webhook_script_sets_and_deletes_with_the_secret(fake):
    env = {
        "PATH": "/usr/bin:/bin",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_SECRET_TOKEN": SECRET,
        "TELEGRAM_API_BASE_URL": fake.url,
    }
    done = run_script("set", "--url", "https://bot.example.org", env=env)
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    [params] = fake.calls("setWebhook")
    assert params["url"] == "https://bot.example.org/webhooks/telegram/webhook"
    assert params["secret_token"] == SECRET
    assert params["allowed_updates"] == ["message", "edited_message", "callback_query"]
    assert [c["command"] for c in fake.commands] == ["start", "help", "sources", "clinic"]
    assert all(c["description"] for c in fake.commands)
    done = run_script("delete", env=env)
    assert done.returncode == 0, done.stderr
    assert len(fake.calls("deleteWebhook")) == 1 and fake.webhook == {}


def test_webhook_script_refuses_unsafe_settings(fake):
    env = {"PATH": "/usr/bin:/bin", "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.url}
    assert run_script("set", "--url", "https://bot.example.org", env=env).returncode == 1  # no secret
    env["TELEGRAM_SECRET_TOKEN"] = SECRET
    assert run_script("set", "--url", "http://bot.example.org", env=env).returncode == 1  # not https
    wrong = run_script("set", "--url", "https://bot.example.org", "--token", "999:wrong", env=env)
    assert wrong.returncode == 1 and "Unauthorized" in wrong.stderr and "999:wrong" not in wrong.stderr
    assert fake.calls("setWebhook") == [
        {
            "url": "https://bot.example.org/webhooks/telegram/webhook",
            "secret_token": SECRET,
            "allowed_updates": ["message", "edited_message", "callback_query"],
            "drop_pending_updates": False,
        }
    ]


def test_conversations_are_namespaced_by_channel():
    from channels.telegram import chat_for, sender_for

    assert sender_for(4242) == "telegram-4242"
    assert chat_for("telegram-4242") == "4242" and chat_for("4242") == "4242"
    assert chat_for(sender_for(-100123)) == "-100123"
