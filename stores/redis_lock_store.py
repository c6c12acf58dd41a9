"""Rasa's Redis lock store, with every lock update atomic across processes.

Rasa Open Source 3.6's RedisLockStore updates a conversation's ticket lock by
GET, change in Python, SET. Two Rasa instances taking a ticket for the same
conversation at the same moment can both read the same lock and one ticket is
lost: both process a message at once and one message's events are not stored
(seen in tests/test_scale_out.py under a burst), or a waiter finds its lock
deleted and fails. Rasa fixed this only in its commercial edition.

This subclass keeps Rasa's lock format, key names and ticket logic and only
makes each read-change-write a Redis transaction (WATCH/MULTI/EXEC, retried
when another process changed the lock in between).

endpoints:
    lock_store:
      type: stores.redis_lock_store.AtomicRedisLockStore
      url: redis-host        # same keys as Rasa's `type: redis`
      port: 6379
      db: 1
      key_prefix: botoxfaq
"""

import json
from typing import Callable

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import WatchError

# Returned by a change to delete the lock instead of saving it.
_DELETE = object()


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url or "localhost", **endpoint_config.kwargs)

    def _change(self, conversation_id: str, change: Callable[[TicketLock], object], create: bool = False) -> object:
        """Applies `change` to the stored lock in one transaction and returns its
        result; nothing happens (None) when there is no lock and not `create`."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw:
                        lock = TicketLock.from_dict(json.loads(raw))
                    elif create:
                        lock = self.create_lock(conversation_id)
                    else:
                        pipe.unwatch()
                        return None
                    result = change(lock)
                    pipe.multi()
                    if result is _DELETE:
                        pipe.delete(key)
                    else:
                        pipe.set(key, lock.dumps())
                    pipe.execute()
                    return result
                except WatchError:
                    continue  # another process changed the lock meanwhile: read it again

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return self._change(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime), create=True)
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, lambda lock: lock.remove_expired_tickets())

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Removes the ticket, and the lock with it when no one else waits."""

        def done(lock: TicketLock) -> object:
            lock.remove_ticket_for(ticket_number)
            return None if lock.is_someone_waiting() else _DELETE

        self._change(conversation_id, done)
