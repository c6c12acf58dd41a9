"""PostgreSQL or Redis going down under a running Rasa (production setup).

Rasa (5125) + action server (5175) with the PostgreSQL tracker store
(botox_prod_test) and the Redis lock store, each reached through a TCP
forwarder of this test, so the test can "unplug" one engine without touching
the shared servers: the patient gets the safe reply (emergency advice first
for an emergency), and the conversation continues once the engine is back.
"""

import socket
import threading
import time
import uuid

import pytest
from servers import RasaStack, payloads

from faq.clinic import load_clinic

PG_PORT, REDIS_PORT = 15432, 16379
CHANNEL = {"channels.rest.GuardedRestInput": {"reply_timeout_s": 10}}
EMERGENCY = "I had Botox yesterday and now I can't breathe"


class Forwarder:
    """127.0.0.1:listen -> 127.0.0.1:target; stop() drops every connection."""

    def __init__(self, listen: int, target: int):
        self.listen, self.target = listen, target
        self.sockets, self.server, self.lock = [], None, threading.Lock()

    def start(self):
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", self.listen))
        self.server.listen(64)
        threading.Thread(target=self._accept, args=(self.server,), daemon=True).start()
        return self

    def _accept(self, server):
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        except OSError:
            pass
        self.server.close()
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.sockets = []


@pytest.fixture(scope="module")
def setup():
    pg, redis = Forwarder(PG_PORT, 5432).start(), Forwarder(REDIS_PORT, 6379).start()
    tracker_store = {
        "type": "SQL",
        "dialect": "postgresql",
        "url": "127.0.0.1",
        "port": PG_PORT,
        "username": "postgres",
        "db": "botox_prod_test",
        "login_db": "test",
    }
    lock_store = {
        "type": "stores.redis_lock_store.AtomicRedisLockStore",
        "url": "127.0.0.1",
        "port": REDIS_PORT,
        "db": 1,
        "key_prefix": "botoxdown",
        "socket_timeout": 3,
    }
    try:
        with RasaStack(
            5125,
            5175,
            tracker_store=tracker_store,
            lock_store=lock_store,
            credentials=CHANNEL,
            env={"BOTOX_RATE_PER_MINUTE": "0"},
        ) as stack:
            yield stack, pg, redis
    finally:
        pg.stop()
        redis.stop()


def _is_safe_reply(items):
    payload = payloads(items)[0]
    clinic = load_clinic().contact
    return clinic["phone"] in payload["text"] and clinic["emergency_number"] in payload["text"], payload


def _answers(stack, sender, text, attempts=3):
    """The first real answer; a pooled connection may fail once after an outage."""
    for _ in range(attempts):
        payload = payloads(stack.send(sender, text))[0]
        if "something went wrong" not in payload["text"]:
            return payload
    return payload


@pytest.mark.parametrize("engine", ["redis", "postgresql"])
def test_engine_down_gives_safe_reply_then_conversation_goes_on(setup, engine):
    stack, pg, redis = setup
    forwarder = pg if engine == "postgresql" else redis
    sender = f"down-{engine}-{uuid.uuid4().hex[:6]}"
    topic = _answers(stack, sender, "is botox safe?")["topic"]
    assert topic
    forwarder.stop()
    try:
        started = time.monotonic()
        safe, payload = _is_safe_reply(stack.send(sender, "where does it say that?"))
        assert safe and payload["type"] == "fallback", payload
        assert time.monotonic() - started < 15
        safe, payload = _is_safe_reply(stack.send(f"{sender}-e", EMERGENCY))
        assert safe and payload["escalation"] == "emergency", payload
        assert payload["text"].startswith(load_clinic().advice("emergency"))
    finally:
        forwarder.start()
    # back up: the same conversation continues with its context
    payload = _answers(stack, sender, "where does it say that?")
    assert payload["topic"] == topic and payload["sources"], payload
    assert "rest.message.failed" in stack.log("rasa")
