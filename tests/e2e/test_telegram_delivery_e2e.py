"""End to end: replies Telegram does not accept at first still reach the patient.

A real Rasa server (5415, Telegram channel only) and action server (5465),
the fake Bot API (tests/support/fake_telegram.py) failing on demand, and the
retry schedule of channels/telegram_outbox.py run at a quarter of its time
(BOTOX_RETRY_TIME_SCALE=0.25: waits of 0.25, 0.5, 1 s..., retry_after 30 s
-> 7.5 s, the 10-minute window -> 150 s):

- 502 three times, then 200: the reply arrives, once;
- 429 with retry_after 30: the next attempt waits the (scaled) 30 s;
- Telegram down across a restart of the Rasa process: the emergency reply
  waits in the tracker store's database and is delivered by the restarted
  process.
"""

import sqlite3
import time

import pytest
from fake_telegram import FakeTelegram
from servers import RasaStack
from telegram_updates import credentials, private_chat, update
from telegram_updates import post as post_update

from channels.telegram_format import SIREN

RASA_PORT, ACTION_PORT = 5415, 5465
TOKEN = "123456:E2E-delivery_xyz"
SECRET = "e2e-delivery-Secret-7"
WEBHOOK = f"http://127.0.0.1:{RASA_PORT}/webhooks/telegram/webhook"
SCALE = 0.25


@pytest.fixture(scope="module")
def fake():
    with FakeTelegram(TOKEN) as api:
        yield api


@pytest.fixture(scope="module")
def stack(fake):
    env = {"BOTOX_RETRY_TIME_SCALE": str(SCALE)}
    with RasaStack(RASA_PORT, ACTION_PORT, credentials=credentials(TOKEN, SECRET, fake.url), env=env) as s:
        yield s


@pytest.fixture(autouse=True)
def clean(fake):
    fake.recover()
    fake.clear()


def post(chat_id, text):
    assert post_update(WEBHOOK, update(private_chat(chat_id), text=text), SECRET) == 200


def attempts(fake, chat_id):
    return [c for c in fake.answered("sendMessage") if str(c["params"]["chat_id"]) == str(chat_id)]


def wait_for_delivery(fake, chat_id, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [c for c in attempts(fake, chat_id) if c["status"] == 200]
        if done:
            return done
        time.sleep(0.2)
    raise AssertionError(f"not delivered in {timeout}s: {[c['status'] for c in attempts(fake, chat_id)]}")


def outbox_rows(stack):
    db = sqlite3.connect(stack.tracker_store["db"])
    try:
        return db.execute("SELECT chat_id, emergency, attempts FROM telegram_outbox").fetchall()
    finally:
        db.close()


def test_502_three_times_then_delivered_once(stack, fake):
    fake.fail("sendMessage", 502, "Bad Gateway", times=3)
    post(5201, "is botox safe?")
    [delivered] = wait_for_delivery(fake, 5201, timeout=30)
    time.sleep(2 * SCALE * 4)  # a duplicate would come after the next backoff
    tried = attempts(fake, 5201)
    assert [c["status"] for c in tried] == [502, 502, 502, 200]
    assert "risks are very small" in delivered["params"]["text"]
    waits = [b["at"] - a["at"] for a, b in zip(tried, tried[1:])]
    assert waits[0] >= 0.25 * 0.9 and waits[1] >= 0.5 * 0.9 and waits[2] >= 1.0 * 0.9, waits
    assert outbox_rows(stack) == []


def test_429_waits_the_scaled_retry_after(stack, fake):
    fake.fail("sendMessage", 429, retry_after=30)
    post(5202, "what are the side effects?")
    [delivered] = wait_for_delivery(fake, 5202, timeout=60)
    first, second = attempts(fake, 5202)
    assert first["status"] == 429 and second == delivered
    assert 30 * SCALE * 0.95 <= second["at"] - first["at"] < 30 * SCALE + 5


def test_an_emergency_reply_survives_telegram_down_and_a_rasa_restart(stack, fake):
    fake.fail("sendMessage", 502, "Bad Gateway", times=None)
    post(5203, "I had botox yesterday and now I can't breathe")
    assert [(chat, bool(emergency)) for chat, emergency, _ in outbox_rows(stack)] == [("5203", True)]
    stack.stop("rasa")
    fake.recover()
    stack.start_rasa()
    [delivered] = wait_for_delivery(fake, 5203, timeout=60)
    assert delivered["params"]["text"].startswith(f"{SIREN} <b>")
    assert "112" in delivered["params"]["text"]
    assert "telegram.outbox.resumed replies=1" in stack.log("rasa")
    time.sleep(3)
    assert len([c for c in attempts(fake, 5203) if c["status"] == 200]) == 1
    assert outbox_rows(stack) == []
