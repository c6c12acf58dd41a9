"""Ticket locks shared by several Rasa processes, on the local Redis.

Many threads, each with its own store (its own connection, like separate Rasa
instances), take tickets for one conversation at once: every ticket must be
distinct and none may be lost. Rasa's own RedisLockStore loses tickets here.

Leases (1 s here): a second process holds a conversation and is killed,
outlives its lease while alive, or freezes (SIGSTOP) past it; and how fast
the turn passes between waiters. The same with real Rasa instances:
test_instance_death.py.
"""

import asyncio
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import redis
from rasa.core.lock_store import RedisLockStore
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from servers import PROJECT_ROOT

from stores.redis_lock_store import AtomicRedisLockStore
from stores.write_check import LeaseLost

REDIS = {"port": 6379, "db": 3, "key_prefix": "botoxlocktest"}
THREADS, TICKETS_EACH = 8, 25


def new_store(kind):
    if kind == "rasa":
        return RedisLockStore(host="127.0.0.1", **REDIS)
    return AtomicRedisLockStore(EndpointConfig(url="127.0.0.1", **REDIS))


def take_tickets(kind):
    conversation = f"race-{uuid.uuid4().hex}"
    tickets, barrier = [], threading.Barrier(THREADS)

    def worker():
        store = new_store(kind)
        barrier.wait()
        for _ in range(TICKETS_EACH):
            tickets.append(store.issue_ticket(conversation, 60))

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    [t.start() for t in threads]
    [t.join(timeout=60) for t in threads]
    lock = new_store(kind).get_lock(conversation)
    return tickets, lock


@pytest.fixture(autouse=True)
def clean_redis():
    yield
    redis.Redis(port=REDIS["port"], db=REDIS["db"]).flushdb()


def test_concurrent_tickets_are_all_kept_and_distinct():
    tickets, lock = take_tickets("atomic")
    assert len(tickets) == THREADS * TICKETS_EACH
    assert len(set(tickets)) == len(tickets)
    assert len(lock.tickets) == len(tickets)


def test_rasas_own_store_loses_tickets_under_the_same_load():
    """Why the project's store exists (if Rasa fixes this, this test says so)."""
    tickets, lock = take_tickets("rasa")
    assert len(set(tickets)) < len(tickets) or len(lock.tickets) < len(tickets)


def test_cleanup_deletes_the_lock_only_when_no_one_waits():
    store = new_store("atomic")
    first = store.issue_ticket("c1", 60)
    second = store.issue_ticket("c1", 60)
    store.cleanup("c1", first)
    assert [t.number for t in store.get_lock("c1").tickets] == [second]
    store.cleanup("c1", second)
    assert store.get_lock("c1") is None
    store.update_lock("c1")  # no lock: nothing to do, no error
    assert store.get_lock("c1") is None


# -- leases, heartbeat, hand-over (issue 14) -----------------------------------------------------

LEASE_S = 1.0
# A second process holding a conversation's lock: it says "held", then after
# HOLD_S writes the conversation through Rasa's FailSafeTrackerStore and says
# whether the write went through.
HOLDER = f"""
import asyncio, sys
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from stores.redis_lock_store import AtomicRedisLockStore
from stores.write_check import LeaseLost

async def main(conversation, hold_s):
    store = AtomicRedisLockStore(EndpointConfig(url="127.0.0.1", **{REDIS}, lease_seconds={LEASE_S}))
    tracker_store = FailSafeTrackerStore(InMemoryTrackerStore(Domain.empty()))
    async with store.lock(conversation):
        print("held", flush=True)
        await asyncio.sleep(hold_s)
        try:
            await tracker_store.save(DialogueStateTracker(conversation, []))
            print("written", flush=True)
        except LeaseLost:
            print("refused", flush=True)

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


def leased_store():
    return AtomicRedisLockStore(EndpointConfig(url="127.0.0.1", lease_seconds=LEASE_S, **REDIS))


class Holder:
    """HOLDER in its own process (its own heartbeat thread, as another Rasa instance)."""

    def __init__(self, conversation, hold_s):
        env = {**os.environ, "PYTHONPATH": f"{PROJECT_ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, conversation, str(hold_s)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        assert ready and self.process.stdout.readline().strip() == "held"

    def said(self):
        out, _ = self.process.communicate(timeout=60)
        return out.split()

    def kill(self):
        self.process.kill()
        self.process.wait(timeout=10)


def wait_for_turn(store, conversation):
    """Seconds until `store` gets the conversation's turn."""

    async def take():
        started = time.monotonic()
        async with store.lock(conversation):
            return time.monotonic() - started

    return asyncio.run(asyncio.wait_for(take(), 30))


def test_turn_passes_at_once_to_the_next_waiter():
    """Ten quick turns on one conversation from two processes' stores: each
    waiter is woken when the turn passes, not at its next look (Rasa: 1 s each)."""
    stores = [leased_store(), leased_store()]

    async def burst():
        async def turn(i):
            async with stores[i % 2].lock("burst"):
                await asyncio.sleep(0.01)

        started = time.monotonic()
        await asyncio.gather(*(turn(i) for i in range(10)))
        return time.monotonic() - started

    assert asyncio.run(asyncio.wait_for(burst(), 30)) < 1.0
    assert stores[0].get_lock("burst") is None


def test_killed_holder_blocks_only_for_its_lease(caplog):
    holder = Holder("killed", hold_s=60)
    holder.kill()
    waited = wait_for_turn(leased_store(), "killed")
    assert waited <= LEASE_S + 0.5
    assert "lock.tickets_expired" in caplog.text  # the log tells its message went no further


def test_live_holder_keeps_its_turn_past_its_lease_and_the_waiter_its_place():
    holder = Holder("slow", hold_s=3 * LEASE_S)
    waited = wait_for_turn(leased_store(), "slow")
    assert holder.said() == ["written"]
    assert waited >= 3 * LEASE_S - 0.5  # not let in before the holder was done


def test_frozen_holder_may_not_write_after_its_lease_ran_out():
    """SIGSTOP for longer than the lease: the waiter is let in; the holder, woken
    up, is refused its write (it could interleave with the new holder's)."""
    holder = Holder("frozen", hold_s=0.5)
    holder.process.send_signal(signal.SIGSTOP)
    try:
        waited = wait_for_turn(leased_store(), "frozen")
    finally:
        holder.process.send_signal(signal.SIGCONT)
    assert waited <= LEASE_S + 0.5
    assert holder.said() == ["refused"]


def test_writes_outside_a_lock_or_for_another_conversation_are_not_checked():
    store = leased_store()
    tracker_store = FailSafeTrackerStore(InMemoryTrackerStore(Domain.empty()))

    async def write():
        await tracker_store.save(DialogueStateTracker("free", []))
        async with store.lock("held"):
            store.red.delete(store.key_prefix + "held")  # this lease is gone
            await tracker_store.save(DialogueStateTracker("other", []))
            with pytest.raises(LeaseLost):
                await tracker_store.save(DialogueStateTracker("held", []))
        return set(await tracker_store.keys())

    assert asyncio.run(write()) == {"free", "other"}
