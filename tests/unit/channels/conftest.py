"""The fake Bot API and a Telegram channel pointed at it, for the channel's tests."""

import pytest
import pytest_asyncio
from fake_telegram import FakeTelegram

from channels.telegram import TelegramInput

TOKEN = "123456:TEST-token_abc"
SECRET = "s3cret-Webhook_token"


@pytest.fixture
def fake():
    with FakeTelegram(TOKEN) as api:
        yield api


@pytest_asyncio.fixture
async def channel(fake):
    channel = TelegramInput(TOKEN, SECRET, fake.url)
    yield channel
    await channel.api.close()
