"""The process start-up (channels/startup.py) every project channel registers."""

from types import SimpleNamespace

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain

from channels import startup
from channels.rest import GuardedRestInput
from channels.speedups import action_response_validation_cached
from channels.telegram import TelegramInput


class BrokenStore(InMemoryTrackerStore):
    """A primary tracker store whose database is down."""

    async def retrieve(self, sender_id):
        raise ConnectionError("database down")


@pytest.mark.parametrize(
    "channel", [GuardedRestInput(), TelegramInput("1:token", "secret", "http://127.0.0.1:9")], ids=["rest", "telegram"]
)
def test_every_channel_registers_the_start_up(channel):
    blueprint = channel.blueprint(lambda message: None)
    listeners = {(f.listener, f.event) for f in blueprint._future_listeners}
    assert (startup.before_server_start, "before_server_start") in listeners
    assert (startup.after_server_start, "after_server_start") in listeners


@pytest.mark.asyncio
async def test_start_up_caches_validation_and_makes_the_tracker_store_fail_closed():
    store = FailSafeTrackerStore(BrokenStore(Domain.empty()))
    app = SimpleNamespace(
        ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store)),
        config=SimpleNamespace(REQUEST_MAX_SIZE=100_000_000),  # Sanic's default
    )
    for _ in range(2):  # two channels, same process: idempotent
        await startup.before_server_start(app, None)
        await startup.after_server_start(app, None)
    assert action_response_validation_cached()
    assert app.config.REQUEST_MAX_SIZE == startup.MAX_REQUEST_BYTES
    with pytest.raises(startup.TrackerStoreUnavailable):
        await store.retrieve("patient")
