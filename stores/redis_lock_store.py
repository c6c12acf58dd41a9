"""Rasa's Redis lock store with leases, a heartbeat and instant hand-over.

Rasa Open Source 3.6's RedisLockStore serves one message of a conversation
at a time, in arrival order, with a ticket lock in Redis. Under two instances
it fails in four ways (issue 14, docs/production.md "When an instance dies"):

- it changes a lock by GET, change, SET: two instances taking a ticket at
  once lose one, and two messages are processed at once;
- a ticket lives 60 s from its issue, waiting included, and waiters look once
  a second: an instance killed while holding a conversation blocks it for a
  minute, and a message queued right behind it expires with it, misses its
  turn and fails with LockError after the patient got the safe reply: an
  acknowledged message silently lost;
- a holder working longer than 60 s (the action call may take 300 s) lets the
  next one in;
- the next message learns only at its next one-second look that the lock is
  free: 10 messages at once on one conversation take 10 s.

This store keeps Rasa's interface (selected by module path in endpoints.yml),
its key names, value format and first-come-first-served ticket order, and:

- every change is one Lua script run by Redis as one step (stores/ticket_queue.py);
- a ticket has a short lease (`lease_seconds`, 3 s) that a thread of each
  process renews while the process holds or waits with the ticket
  (stores/lease_heartbeat.py): a killed instance's tickets run out within the
  lease, a live holder keeps its turn however long it works, a waiter keeps
  its place however long it waits, so it never fails with LockError;
- the next ticket is woken through Redis (BLPOP) the moment the turn passes;
- a holder whose lease ran out anyway (its process froze longer than the
  lease) may not write the conversation: stores/write_check.py.

endpoints:
    lock_store:
      type: stores.redis_lock_store.AtomicRedisLockStore
      url: redis-host        # same keys as Rasa's `type: redis`
      port: 6379
      db: 1
      key_prefix: botoxfaq
      lease_seconds: 3       # a dead instance blocks a conversation this long
      renew_seconds: 0.5     # heartbeat (default: a sixth of the lease)

Rasa's `lock_lifetime` and `wait_time_in_seconds` arguments are accepted and
not used: the lease and the wake-up replace them. One Redis server (the wake
keys are not declared to the script, as Redis Cluster would require).
"""

import asyncio
import json
import logging
import uuid
import weakref
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, List, Sequence, Tuple

import redis
import redis.asyncio
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from channels.guard import sender_tag
from stores import write_check
from stores.lease_heartbeat import Lease, LeaseHeartbeat
from stores.ticket_queue import (
    GONE,
    ISSUE,
    RELEASE,
    RELEASE_NUMBER,
    RENEW,
    SCRIPT,
    TURN,
    UPDATE,
    YOUR_TURN,
    wake_key,
)

logger = logging.getLogger(__name__)

DEFAULT_LEASE_S = 3.0
RENEWALS_PER_LEASE = 6
# Shortest wait between two looks at the queue when nobody wakes us.
MIN_WAIT_S = 0.01


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        settings = dict(endpoint_config.kwargs)
        self.lease_s = float(settings.pop("lease_seconds", DEFAULT_LEASE_S))
        renew_s = float(settings.pop("renew_seconds", self.lease_s / RENEWALS_PER_LEASE))
        if not 0 < renew_s < self.lease_s:
            raise ValueError(f"renew_seconds ({renew_s}) must be above 0 and below lease_seconds ({self.lease_s})")
        super().__init__(host=endpoint_config.url or "localhost", **settings)
        self._script = self.red.register_script(SCRIPT)
        # Its own connection, with a timeout well within a lease, whatever the configured one.
        self._beat_script = self._client_like(redis.Redis, socket_timeout=renew_s).register_script(SCRIPT)
        self._heartbeat = LeaseHeartbeat(self._renew, renew_s)
        # redis.asyncio clients belong to one event loop (Rasa runs one; tests may run several).
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Tuple[Any, Any]] = weakref.WeakKeyDictionary()
        write_check.install()

    def _client_like(self, client_class: Any, socket_timeout: float) -> Any:
        """A client of `client_class` to the server of Rasa's client `self.red`."""
        pool = self.red.connection_pool
        kwargs = pool.connection_kwargs
        params = {name: kwargs.get(name) for name in ("host", "port", "db", "username", "password")}
        if issubclass(pool.connection_class, redis.SSLConnection):
            params.update(
                ssl=True, **{name: kwargs.get(name) for name in ("ssl_keyfile", "ssl_certfile", "ssl_ca_certs")}
            )
        return client_class(socket_timeout=socket_timeout, **params)

    def _async_client(self) -> Tuple[Any, Any]:
        """This event loop's client and script."""
        loop = asyncio.get_running_loop()
        if loop not in self._async:
            # A waiter blocks in BLPOP for up to a lease: the socket must wait longer.
            timeout = (self.red.connection_pool.connection_kwargs.get("socket_timeout") or 0) + self.lease_s
            client = self._client_like(redis.asyncio.Redis, socket_timeout=timeout)
            self._async[loop] = (client, client.register_script(SCRIPT))
        return self._async[loop]

    async def _call(self, lease: Lease, op: str, *args: object) -> Any:
        _, script = self._async_client()
        return await script(keys=[lease.key], args=[op, lease.token, *args])

    # -- Rasa's interface: the lock every message is processed in --------------------------------

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncIterator[TicketLock]:
        """Waits for this conversation's turn, holds it while the body runs, passes it on."""
        lease, value = await self._take_turn(conversation_id)
        held = write_check.HELD.set((conversation_id, lambda: self._confirm(lease)))
        try:
            yield TicketLock.from_dict(json.loads(value))
        finally:
            write_check.HELD.reset(held)
            await self._give_back(lease)

    async def _queue(self, conversation_id: str) -> Lease:
        lease = Lease(
            conversation_id, self.key_prefix + conversation_id, uuid.uuid4().hex, tag=sender_tag(conversation_id)
        )
        try:
            lease.number = int(await self._call(lease, ISSUE, int(self.lease_s * 1000), conversation_id))
        except redis.RedisError as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
        self._heartbeat.add(lease)
        return lease

    async def _take_turn(self, conversation_id: str) -> Tuple[Lease, bytes]:
        lease = await self._queue(conversation_id)
        try:
            while True:
                status, wait_ms, expired, *value = await self._call(lease, TURN)
                if expired:
                    # An instance died (or froze) holding or waiting with this conversation:
                    # those messages go no further. (A waiting one was never processed.)
                    logger.warning("lock.tickets_expired sender=%s count=%d; instance stopped", lease.tag, expired)
                if status == YOUR_TURN:
                    return lease, value[0]
                if status == GONE:
                    # Our lease ran out while we waited (process frozen): nothing was
                    # processed yet, so queue again rather than drop the message.
                    logger.warning("lock.ticket_lost sender=%s ticket=%d; queued again", lease.tag, lease.number)
                    self._heartbeat.discard(lease)
                    lease = await self._queue(conversation_id)
                    continue
                # Woken when the turn passes; else look again when the first lease would end.
                client, _ = self._async_client()
                await client.blpop(
                    [wake_key(lease.key, lease.token)], min(max(wait_ms / 1000, MIN_WAIT_S), self.lease_s)
                )
        except redis.RedisError as error:
            await self._give_back(lease)
            raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.") from error
        except BaseException:  # cancelled: give the place back
            await self._give_back(lease)
            raise

    async def _give_back(self, lease: Lease) -> None:
        self._heartbeat.discard(lease)
        try:
            # Shielded: a cancelled caller still passes the turn on at once.
            await asyncio.shield(self._call(lease, RELEASE))
        except redis.RedisError as error:
            logger.warning(
                "lock.release.failed sender=%s error=%s; the lease runs out", lease.tag, type(error).__name__
            )

    async def _confirm(self, lease: Lease) -> bool:
        """Renews the lease right before a write; False (and logged) when it is gone."""
        try:
            if await self._call(lease, RENEW, int(self.lease_s * 1000)):
                return True
            reason = "lease ran out"
        except redis.RedisError as error:
            reason = type(error).__name__
        logger.error(
            "lock.lease_lost sender=%s ticket=%d reason=%s; this message is not stored", lease.tag, lease.number, reason
        )
        return False

    def _renew(self, leases: Sequence[Lease]) -> List[bool]:
        """The heartbeat's renewal of all this process's tickets, in one round trip."""
        pipe = self._beat_script.registered_client.pipeline(transaction=False)
        for lease in leases:
            self._beat_script(keys=[lease.key], args=[RENEW, lease.token, int(self.lease_s * 1000)], client=pipe)
        return [bool(renewed) for renewed in pipe.execute()]

    # -- the rest of Rasa's LockStore interface (same queue, same scripts) ------------------------

    def _sync(self, conversation_id: str, *args: object) -> Any:
        return self._script(keys=[self.key_prefix + conversation_id], args=list(args))

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._sync(conversation_id, ISSUE, uuid.uuid4().hex, int(lock_lifetime * 1000), conversation_id))
        except redis.RedisError as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        self._sync(conversation_id, UPDATE, "")

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._sync(conversation_id, RELEASE_NUMBER, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Removes the ticket; the lock goes with its last ticket."""
        self.finish_serving(conversation_id, ticket_number)
