"""Two Rasa instances sharing one conversation store, as in production.

Rasa A (5505) and Rasa B (5506) + one action server (5555), both with Rasa's
SQLTrackerStore on the PostgreSQL of this machine (database botox_prod_test,
created from `test` by Rasa's login_db) and Rasa's RedisLockStore (Redis db 1,
key prefix botoxtest). The guarded REST channel as in production.
"""

import json
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from servers import RasaStack, payloads

POSTGRES = {
    "type": "SQL",
    "dialect": "postgresql",
    "url": "127.0.0.1",
    "port": 5432,
    "username": "postgres",
    "db": "botox_prod_test",
    "login_db": "test",
}
REDIS = {
    "type": "stores.redis_lock_store.AtomicRedisLockStore",  # Rasa's own loses tickets
    "url": "127.0.0.1",
    "port": 6379,
    "db": 1,
    "key_prefix": "botoxtest",
}
CHANNEL = {"channels.rest.GuardedRestInput": {"reply_timeout_s": 30}}
# The concurrency test sends bursts to one conversation: no rate limit here.
ENV = {"BOTOX_RATE_PER_MINUTE": "0"}
SAFETY, SIDE_EFFECTS = "is botox safe?", "what are the common side effects of botox?"


@pytest.fixture(scope="module")
def pair():
    a = RasaStack(5505, 5555, tracker_store=POSTGRES, lock_store=REDIS, credentials=CHANNEL, env=ENV)
    b = RasaStack(
        5506, 5555, tracker_store=POSTGRES, lock_store=REDIS, credentials=CHANNEL, env=ENV, start_actions=False
    )
    try:
        a.start_action_server()
        errors = []

        def start(stack):
            try:
                stack.start_rasa()
            except Exception as error:  # noqa: BLE001
                errors.append(error)

        threads = [threading.Thread(target=start, args=(s,)) for s in (a, b)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        if errors:
            raise errors[0]
        yield a, b
    finally:
        b.stop()
        a.stop()


@pytest.fixture(scope="module")
def db():
    engine = sa.create_engine("postgresql://postgres@127.0.0.1:5432/botox_prod_test")
    yield engine
    engine.dispose()


def _sender(name):
    return f"scale-{name}-{uuid.uuid4().hex[:8]}"


def _events(db, sender):
    with db.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender}
        ).fetchall()
    return [json.loads(r[0]) for r in rows]


def _turns(events):
    """(user text, [bot texts]) per user message, in stored order."""
    turns = []
    for event in events:
        if event["event"] == "user":
            turns.append((event["text"], []))
        elif event["event"] == "bot" and turns:
            turns[-1][1].append(event.get("text"))
    return turns


def _topic(items):
    return payloads(items)[0]["topic"]


def test_conversation_alternates_between_instances(pair, db):
    a, b = pair
    sender = _sender("alt")
    first = a.send(sender, SAFETY)
    topic = _topic(first)
    assert topic
    # B answers a follow-up that only makes sense with A's context
    source = payloads(b.send(sender, "where does it say that?"))[0]
    assert source["topic"] == topic and source["sources"]
    more = payloads(a.send(sender, "tell me more"))[0]
    assert more["type"] == "answer" and more["topic"] and more["topic"] != topic
    back = payloads(b.send(sender, "where does it say that?"))[0]
    assert back["topic"] == more["topic"]
    turns = _turns(_events(db, sender))
    assert [t for t, _ in turns] == [SAFETY, "where does it say that?", "tell me more", "where does it say that?"]
    assert all(bots for _, bots in turns)


def test_concurrent_messages_to_one_conversation(pair, db):
    a, b = pair
    sender = _sender("burst")
    questions = [SAFETY if i % 2 == 0 else SIDE_EFFECTS for i in range(10)]
    texts = questions
    with ThreadPoolExecutor(max_workers=10) as pool:
        futures = [pool.submit((a if i % 2 else b).send, sender, text, 120) for i, text in enumerate(texts)]
        replies = [f.result() for f in futures]
    reference = {q: payloads(a.send(_sender("ref"), q))[0] for q in (SAFETY, SIDE_EFFECTS)}
    expected_topic = {q: p["topic"] for q, p in reference.items()}
    # every request got the answer to its own question
    assert [_topic(r) for r in replies] == [expected_topic[q] for q in questions]
    turns = _turns(_events(db, sender))
    # each message stored exactly once, each followed by its own reply before the next one
    assert sorted(t for t, _ in turns) == sorted(texts)
    assert all(bots == [reference[text]["text"]] for text, bots in turns)


def test_messages_in_sequence_keep_their_order(pair, db):
    a, b = pair
    sender = _sender("order")
    texts = [SAFETY, SIDE_EFFECTS, "tell me more", "where does it say that?", "thanks", "hello"]
    results = {}

    def send(i):
        results[i] = (a if i % 2 else b).send(sender, texts[i], 120)

    threads = []
    for i in range(len(texts)):
        threads.append(threading.Thread(target=send, args=(i,)))
        threads[-1].start()
        time.sleep(0.15)  # sent one after the other, before the previous is answered
    [t.join(timeout=150) for t in threads]
    assert len(results) == len(texts)
    assert [t for t, _ in _turns(_events(db, sender))] == texts


def test_sigkill_one_instance_mid_conversation(pair, db):
    a, b = pair
    sender = _sender("kill")
    topic = _topic(a.send(sender, SAFETY))
    a.stop("rasa", signal.SIGKILL)
    # the patient's next message reaches the surviving instance (the proxy's job)
    source = payloads(b.send(sender, "where does it say that?"))[0]
    assert source["topic"] == topic and source["sources"]
    assert _topic(b.send(sender, SIDE_EFFECTS))
    turns = _turns(_events(db, sender))
    assert [t for t, _ in turns] == [SAFETY, "where does it say that?", SIDE_EFFECTS]
    assert all(bots for _, bots in turns)
