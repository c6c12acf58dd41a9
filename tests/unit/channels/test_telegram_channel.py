"""The Telegram channel in-process (channels/telegram.py) against the fake
Bot API (tests/fake_telegram.py): updates it can't use, callbacks, failures,
configuration; and scripts/telegram_webhook.py."""

import subprocess
import sys

import pytest
import pytest_asyncio
from fake_telegram import FakeTelegram
from servers import PROJECT_ROOT

from channels.telegram import START_MESSAGE, TelegramInput, channel_text, media_reply
from faq.knowledge_base import ReplyKey
from faq.settings import Settings

TOKEN = "123456:TEST-token_abc"
SECRET = "s3cret-Webhook_token"
PRIVATE = {"id": 4242, "type": "private", "first_name": "Pat"}
GROUP = {"id": -100777, "type": "supergroup", "title": "Clinic fans"}
USER = {"id": 4242, "is_bot": False, "first_name": "Pat"}


@pytest.fixture
def fake():
    with FakeTelegram(TOKEN) as api:
        yield api


@pytest_asyncio.fixture
async def channel(fake):
    channel = TelegramInput(TOKEN, SECRET, fake.url)
    yield channel
    await channel.api.close()


class Bot:
    """Stands in for Rasa: records user messages, answers like action_reply."""

    def __init__(self, reply=True, fail=False):
        self.messages, self.reply, self.fail = [], reply, fail

    async def __call__(self, message):
        self.messages.append(message)
        if self.fail:
            raise RuntimeError("action server down")
        if self.reply:
            await message.output_channel.send_response(
                message.sender_id,
                {
                    "text": "Answer <1>",
                    "custom": {
                        "type": "answer",
                        "text": "Answer <1>",
                        "answer": "Answer <1>",
                        "escalation": "none",
                        "advice": None,
                        "sources": [],
                        "suggestions": [{"title": "Tell me more", "payload": "/tell_me_more"}],
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


@pytest.mark.asyncio
async def test_groups_get_commands_answered_and_nothing_else(channel, fake):
    bot = Bot()
    await channel.handle_update(message("is botox safe?", chat=GROUP), bot)
    await channel.handle_update(message(chat=GROUP, new_chat_members=[USER]), bot)
    assert fake.calls("sendMessage") == []
    await channel.handle_update(message("/start@clinic_faq_test_bot", chat=GROUP), bot)
    assert bot.messages == []
    [sent] = fake.calls("sendMessage")
    assert sent["text"] == channel_text(ReplyKey.TELEGRAM_GROUP, refusal=True)
    assert str(sent["chat_id"]) == str(GROUP["id"])


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


def run_script(*args, env=None):
    return subprocess.run(
        [sys.executable, "scripts/telegram_webhook.py", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=env,
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
    assert params["allowed_updates"] == ["message", "callback_query"]
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
            "allowed_updates": ["message", "callback_query"],
            "drop_pending_updates": False,
        }
    ]


def test_conversations_are_namespaced_by_channel():
    from channels.telegram import chat_for, sender_for

    assert sender_for(4242) == "telegram-4242"
    assert chat_for("telegram-4242") == "4242" and chat_for("4242") == "4242"
    assert chat_for(sender_for(-100123)) == "-100123"
