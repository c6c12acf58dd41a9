"""Two Rasa instances sharing one conversation store, as in production.

Rasa A (5505) and Rasa B (5506) + one action server (5555), both with Rasa's
SQLTrackerStore on the PostgreSQL of this machine (database botox_prod_test,
created from `test` by Rasa's login_db) and the project's Redis lock store
(Redis db 1, key prefix botoxtest), tests/support/scale_out.py. The guarded
REST channel as in production, with a 30 s reply timeout. What happens when
an instance dies *while* it answers: test_instance_death.py.
"""

import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from scale_out import database_fixture, events, rasa_pair, user_turns
from servers import payloads

DB = "botox_prod_test"
SAFETY, SIDE_EFFECTS = "is botox safe?", "what are the common side effects of botox?"


@pytest.fixture(scope="module")
def pair():
    with rasa_pair((5505, 5506, 5555), DB, key_prefix="botoxtest", reply_timeout_s=30) as stacks:
        yield stacks


db = database_fixture(DB)


def _sender(name):
    return f"scale-{name}-{uuid.uuid4().hex[:8]}"


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
    turns = user_turns(events(db, sender))
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
    turns = user_turns(events(db, sender))
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
    assert [t for t, _ in user_turns(events(db, sender))] == texts


def test_sigkill_one_instance_mid_conversation(pair, db):
    a, b = pair
    sender = _sender("kill")
    topic = _topic(a.send(sender, SAFETY))
    a.stop("rasa", signal.SIGKILL)
    # the patient's next message reaches the surviving instance (the proxy's job)
    source = payloads(b.send(sender, "where does it say that?"))[0]
    assert source["topic"] == topic and source["sources"]
    assert _topic(b.send(sender, SIDE_EFFECTS))
    turns = user_turns(events(db, sender))
    assert [t for t, _ in turns] == [SAFETY, "where does it say that?", SIDE_EFFECTS]
    assert all(bots for _, bots in turns)
