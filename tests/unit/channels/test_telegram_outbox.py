"""Replies Telegram did not accept (channels/telegram_outbox.py), against the fake
Bot API, on a clock the test moves: retried with backoff, after retry_after,
in order, once, and never dropped silently."""

import logging

import pytest
import pytest_asyncio
import sqlalchemy as sa
from fake_telegram import FakeTelegram

from channels.telegram import TelegramInput, TelegramOutput
from channels.telegram_format import OutgoingMessage
from channels.telegram_outbox import OUTBOX, Outbox, RetryPolicy

TOKEN = "123456:TEST-token_abc"
CHAT = "4242"


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def fake():
    with FakeTelegram(TOKEN) as api:
        yield api


@pytest.fixture
def clock():
    return Clock()


@pytest_asyncio.fixture
async def outbox(fake, clock, tmp_path):
    channel = TelegramInput(TOKEN, "secret", fake.url)
    box = Outbox(channel.api, RetryPolicy(), clock)
    await box.bind(sa.create_engine(f"sqlite:///{tmp_path / 'conversations.db'}"))
    yield box
    await channel.api.close()


async def send(outbox, *texts, emergency=False):
    await TelegramOutput(outbox.api, outbox).send_messages(
        f"telegram-{CHAT}", [OutgoingMessage(t) for t in texts], emergency
    )


def delivered(fake):
    return [c["params"]["text"] for c in fake.answered("sendMessage") if c["status"] == 200]


async def drain_until(outbox, clock, seconds, step=0.5):
    end = clock.now + seconds
    while clock.now < end:
        await outbox.drain_once()
        clock.now += step


@pytest.mark.asyncio
async def test_5xx_three_times_then_delivered_once_with_backoff(outbox, fake, clock):
    fake.fail("sendMessage", 502, times=3)
    start = clock.now
    await send(outbox, "hello")
    assert outbox.waiting(CHAT) and delivered(fake) == []
    attempts_at = []
    while not delivered(fake):
        before = len(fake.answered("sendMessage"))
        await outbox.drain_once()
        if len(fake.answered("sendMessage")) > before:
            attempts_at.append(clock.now - start)
        clock.now += 0.25
    assert attempts_at == [1.0, 3.0, 7.0]  # waits of 1, 2 and 4 s after each failure
    await drain_until(outbox, clock, 120)
    assert delivered(fake) == ["hello"] and not outbox.waiting(CHAT)


@pytest.mark.asyncio
async def test_429_waits_exactly_retry_after_however_long(outbox, fake, clock):
    fake.fail("sendMessage", 429, retry_after=300)
    start = clock.now
    await send(outbox, "hello")
    await drain_until(outbox, clock, 299.5)
    assert delivered(fake) == []
    await drain_until(outbox, clock, 1)
    assert delivered(fake) == ["hello"] and clock.now - start >= 300


@pytest.mark.asyncio
async def test_a_retry_after_beyond_the_window_is_logged_not_waited(outbox, fake, clock, caplog):
    fake.fail("sendMessage", 429, retry_after=3600)
    with caplog.at_level(logging.ERROR):
        await send(outbox, "call 112 now", emergency=True)
    assert not outbox.waiting(CHAT)
    assert "telegram.reply.lost EMERGENCY" in caplog.text and "sender=" in caplog.text


@pytest.mark.asyncio
async def test_a_queued_reply_to_a_patient_who_then_blocked_the_bot_is_logged_at_info(outbox, fake, clock, caplog):
    fake.fail("sendMessage", 502)
    await send(outbox, "hello")
    fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with caplog.at_level(logging.INFO):
        await drain_until(outbox, clock, 5)
    assert not outbox.waiting(CHAT) and delivered(fake) == []
    [blocked] = [r for r in caplog.records if "telegram.reply.blocked" in r.getMessage()]
    assert blocked.levelno == logging.INFO and "sender=" in blocked.getMessage()
    assert "telegram.reply.lost" not in caplog.text


@pytest.mark.asyncio
async def test_an_emergency_that_never_gets_through_is_logged_at_error(outbox, fake, clock, caplog):
    fake.fail("sendMessage", 502, times=None)
    await send(outbox, "call 112 now", emergency=True)
    with caplog.at_level(logging.WARNING):
        await drain_until(outbox, clock, 700, step=5)
    assert not outbox.waiting(CHAT) and delivered(fake) == []
    [lost] = [r for r in caplog.records if "telegram.reply.lost" in r.getMessage()]
    assert lost.levelno == logging.ERROR and "EMERGENCY" in lost.getMessage() and "sender=" in lost.getMessage()
    assert "call 112" not in caplog.text  # no message text in the log


@pytest.mark.asyncio
async def test_later_replies_of_the_chat_wait_behind_and_arrive_in_order(outbox, fake, clock):
    fake.fail("sendMessage", 502, times=1)
    await send(outbox, "first", "second")
    await send(outbox, "third")  # Telegram would take it, but it must not overtake
    assert delivered(fake) == []
    await drain_until(outbox, clock, 5)
    assert delivered(fake) == ["first", "second", "third"]


@pytest.mark.asyncio
async def test_rows_survive_a_new_process_and_are_claimed_once(outbox, fake, clock, tmp_path):
    fake.fail("sendMessage", 502, times=1)
    await send(outbox, "hello")
    # two new processes on the same database (a restart, or a second instance)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'conversations.db'}")
    others = [Outbox(outbox.api, RetryPolicy(), clock) for _ in range(2)]
    for other in others:
        await other.bind(engine)
    assert all(other.waiting(CHAT) for other in others)
    clock.now += 2
    for other in others:
        await other.drain_once()
    assert delivered(fake) == ["hello"]
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(OUTBOX)).scalar() == 0


@pytest.mark.asyncio
async def test_html_refused_later_is_sent_as_plain_text(outbox, fake, clock):
    fake.fail("sendMessage", 502, times=1)
    fake.fail("sendMessage", 400, "Bad Request: can't parse entities", times=1)
    await send(outbox, "<b>bold</b> &amp; more")
    await drain_until(outbox, clock, 10)
    assert delivered(fake) == ["bold & more"]


def test_the_schedule_scales():
    policy = RetryPolicy(scale=0.05)
    assert [policy.wait(n, None) for n in (1, 2, 3, 9)] == [0.05, 0.1, 0.2, 3.0]
    assert policy.wait(1, 30) == 1.5 and policy.window == 30.0
