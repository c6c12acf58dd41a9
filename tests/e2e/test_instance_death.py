"""An instance that dies or stalls under load (issue 14, docs/production.md).

Rasa A (5521) and B (5522), one action server (5571), PostgreSQL (database
botox_lock_test), the project's Redis lock store with production's lease
(tests/support/scale_out.py), the guarded REST channel with production's
10 s reply timeout. What a patient sees and what PostgreSQL keeps when:

- many messages arrive at once on one conversation, over both instances;
- the holder of a conversation works longer than its lease (slow action server);
- the holder's process freezes for longer than its lease (SIGSTOP);
- the holder is killed with one message in hand (the one-message reproduction);
- a client resends a message (same message id) whose reply it did not get;
- A is killed under load, closed and open loop (tests/support/kill_load.py).

Each test that kills A starts with a fresh A (~30-60 s). The load figures go
to tests/artifacts/instance-death-*.json and the test output.
"""

import json
import os
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from kill_load import SAFE_REPLY_MARK, LoadRun, outcome_of, post, wait_until_stored
from scale_out import PRODUCTION_LOCK_STORE, database_fixture, events, rasa_pair, user_turns
from servers import ARTIFACTS, payloads

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DB, KEY_PREFIX = "botox_lock_test", "botoxdeath"
LEASE_S = float(PRODUCTION_LOCK_STORE["lease_seconds"])
REPLY_TIMEOUT_S = 10.0
SAFETY, SIDE_EFFECTS = "is botox safe?", "what are the common side effects of botox?"


@pytest.fixture(scope="module")
def stacks():
    with rasa_pair((5521, 5522, 5571), DB, KEY_PREFIX, REPLY_TIMEOUT_S) as pair:
        yield pair
    keys = redis.Redis(db=1)
    for key in keys.scan_iter(f"{KEY_PREFIX}:*"):
        keys.delete(key)


@pytest.fixture
def pair(stacks):
    """Both instances up (A again after a test killed it), each warmed by one message."""
    a, b = stacks
    if "rasa" not in a.processes:
        a.start_rasa()
    for stack in (a, b):
        post(stack, f"warm-{uuid.uuid4().hex[:6]}", SAFETY)
    return a, b


db = database_fixture(DB)


def _sender(name):
    return f"death-{name}-{uuid.uuid4().hex[:8]}"


def _signal(stack, name, sig):
    os.killpg(stack.processes[name].pid, sig)


def _tickets(sender):
    raw = redis.Redis(db=1).get(f"{KEY_PREFIX}:lock:{sender}")
    return [json.loads(t)["number"] for t in json.loads(raw)["tickets"]] if raw else []


def _wait_for_tickets(sender, count, timeout_s=15):
    deadline = time.monotonic() + timeout_s
    while len(_tickets(sender)) < count:
        assert time.monotonic() < deadline, f"{sender}: {count} ticket(s) never taken"
        time.sleep(0.05)


def _unread_requests(port):
    """Connections to `port` waiting to be accepted, or with bytes unread (Linux)."""
    pending = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                pending += int(fields[4].split(":")[1], 16)
    return pending


@contextmanager
def _a_holds_the_turn(a, sender, text, message_id=None):
    """A takes the conversation's turn with `text` and calls the paused action
    server (resumed on leaving); yields A's request (_in_background)."""
    _signal(a, "actions", signal.SIGSTOP)
    try:
        request = _in_background(post, a, sender, text, message_id)
        deadline = time.monotonic() + 15
        while not _unread_requests(a.action_port):  # A called it: A holds the turn
            assert time.monotonic() < deadline, "A never called the action server"
            time.sleep(0.05)
        assert _tickets(sender) == [0]
        yield request
    finally:
        _signal(a, "actions", signal.SIGCONT)


def _in_background(call, *args):
    """Runs call(*args) in a thread; .result() returns (value or exception, seconds)."""
    box = {}

    def run():
        started = time.monotonic()
        try:
            box["value"] = call(*args)
        except Exception as error:  # noqa: BLE001 - handed to the test
            box["value"] = error
        box["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def result(timeout=60):
        thread.join(timeout)
        return box["value"], box["seconds"]

    thread.result = result
    return thread


def _answers(items):
    return outcome_of(items) == "answer"


def _record(name, figures):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"instance-death-{name}.json").write_text(json.dumps(figures, indent=2))
    print(f"\n{name}: {json.dumps(figures)}")


@pytest.mark.parametrize("size", [10, 14])
def test_burst_on_one_conversation_is_served_turn_after_turn(pair, db, size):
    """Half the burst to each instance at once: every message answered for real
    within the reply timeout (10 of them within 3 s), each stored once, each
    followed by its own answer."""
    a, b = pair
    sender = _sender(f"burst{size}")
    texts = [SAFETY if i % 2 == 0 else SIDE_EFFECTS for i in range(size)]
    reference = {q: payloads(post(a, _sender("ref"), q))[0]["text"] for q in (SAFETY, SIDE_EFFECTS)}

    def timed(i):
        started = time.monotonic()
        items = post(a if i % 2 else b, sender, texts[i])
        return items, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=size) as pool:
        replies = list(pool.map(timed, range(size)))
    slowest = max(seconds for _, seconds in replies)
    _record(
        f"burst-{size}",
        {
            "messages": size,
            "slowest_answer_s": round(slowest, 2),
            "safe_replies": sum(not _answers(items) for items, _ in replies),
        },
    )
    assert [payloads(items)[0]["text"] for items, _ in replies] == [reference[t] for t in texts]
    stored = user_turns(events(db, sender))
    assert sorted(t for t, _ in stored) == sorted(texts)
    assert all(bots == [reference[text]] for text, bots in stored)
    if size == 10:
        assert slowest <= 3.0


def test_holder_slower_than_its_lease_keeps_its_turn(pair, db):
    """A waits on a paused action server for longer than a lease: its heartbeat
    keeps the turn, B's message waits behind it, then both are answered in order."""
    a, b = pair
    sender = _sender("slow")
    with _a_holds_the_turn(a, sender, SAFETY) as first:
        second = _in_background(post, b, sender, SIDE_EFFECTS)
        _wait_for_tickets(sender, 2)
        time.sleep(LEASE_S + 1.5)
        assert _tickets(sender) == [0, 1], "A's turn was taken over while it still worked"
    (items_a, _), (items_b, _) = first.result(), second.result()
    assert _answers(items_a) and _answers(items_b), (items_a, items_b)
    stored = user_turns(events(db, sender))
    assert [t for t, _ in stored] == [SAFETY, SIDE_EFFECTS]
    assert all(bots for _, bots in stored)


def test_frozen_holder_may_not_write_after_its_lease_ran_out(pair, db):
    """A freezes (SIGSTOP) with a message in hand for longer than its lease: B
    takes the conversation over and answers; when A wakes, it may not write its
    stale turn: its patient gets the safe reply, the log says the message was
    not stored, and the conversation stays whole."""
    a, b = pair
    sender = _sender("frozen")
    with _a_holds_the_turn(a, sender, SAFETY) as frozen:
        _signal(a, "rasa", signal.SIGSTOP)
        time.sleep(LEASE_S + 1.5)
    try:
        taken_over = post(b, sender, SIDE_EFFECTS)
    finally:
        _signal(a, "rasa", signal.SIGCONT)
    assert _answers(taken_over), taken_over
    items, _ = frozen.result()
    assert SAFE_REPLY_MARK in items[0]["text"], items
    time.sleep(1)  # A's refused write has happened by now
    assert "lock.lease_lost" in a.log("rasa") and "this message is not stored" in a.log("rasa")
    assert _answers(post(a, sender, "where does it say that?"))
    stored = user_turns(events(db, sender))
    assert [t for t, _ in stored] == [SIDE_EFFECTS, "where does it say that?"]
    assert all(bots for _, bots in stored)


def test_killed_holder_of_one_message_blocks_only_for_its_lease(pair, db):
    """The one-message reproduction: A holds ticket 0 (action server paused) and
    is killed; the patient's retry on B is answered for real within the lease
    plus a turn, and the message is stored once."""
    a, b = pair
    sender = _sender("repro")
    with _a_holds_the_turn(a, sender, SAFETY) as killed:
        a.stop("rasa", signal.SIGKILL)
    error, _ = killed.result()
    assert isinstance(error, OSError), error
    retried = _in_background(post, b, sender, SAFETY)
    items, seconds = retried.result()
    _record("one-message", {"retry_answered_after_s": round(seconds, 2), "lease_s": LEASE_S})
    assert _answers(items), items
    assert seconds <= LEASE_S + 3
    assert [t for t, _ in user_turns(events(db, sender))] == [SAFETY]
    assert "lock.tickets_expired" in b.log("rasa")


def test_a_resent_message_is_answered_once_from_either_instance(pair, db):
    """The reply to a message got lost (A stored the turn, the connection broke),
    and the client sends it again with the same message id, to B: B answers it
    from the store. And a resend that arrives while A still works on the first
    copy waits for it and gets the same reply. Each message stored once."""
    a, b = pair
    sender = _sender("resend")
    resent_before = b.log("rasa").count("message.resent")
    first = post(a, sender, SAFETY, "resend-safety-1")
    again = post(b, sender, SAFETY, "resend-safety-1")
    assert _answers(first) and payloads(again) == payloads(first)
    with _a_holds_the_turn(a, sender, SIDE_EFFECTS, "resend-side-effects-2") as held:
        resend = _in_background(post, b, sender, SIDE_EFFECTS, "resend-side-effects-2")
        _wait_for_tickets(sender, 2)  # B waits behind A's turn
    (items_a, _), (items_b, _) = held.result(), resend.result()
    assert _answers(items_a) and payloads(items_b) == payloads(items_a)
    assert [t for t, _ in user_turns(events(db, sender))] == [SAFETY, SIDE_EFFECTS]
    assert b.log("rasa").count("message.resent") - resent_before == 2


@pytest.mark.parametrize("mode, in_flight", [("closed-loop", 1), ("open-loop", 4)])
def test_sigkill_under_load_loses_nothing_acknowledged(pair, db, mode, in_flight):
    """10 conversations for 30 s over both instances, A SIGKILLed at 15 s, a failed
    request retried once on B: every acknowledged message stored, none stored
    twice by the servers, none stored before a message whose reply had already
    arrived, none stored twice after the client resent it (a message A had
    stored before it died, whose reply died with it: the resend carries the
    same message id and gets the stored reply), no conversation standing
    still for more than 10 s, and (closed loop) every conversation back to
    real answers within 10 s.

    Not asserted, reported: in the open loop, messages in flight at once on
    both instances are taken up in the order the instances read them."""
    a, b = pair
    resent_before = b.log("rasa").count("message.resent")
    run = LoadRun({"A": a, "B": b}, kill=lambda: a.stop("rasa", signal.SIGKILL), in_flight=in_flight)
    run.run(conversations=10, seconds=30, kill_at=15)
    figures = run.figures(wait_until_stored(db, run))
    # Resends of messages A had stored before it died, answered from the store (channels/resend.py).
    figures["resent_answered_from_store"] = b.log("rasa").count("message.resent") - resent_before
    _record(mode, figures)
    assert figures["failed_twice"] == 0
    assert figures["missing"] == 0
    assert figures["duplicates_other"] == 0
    assert figures["duplicates_resent_after_lost_reply"] == 0
    assert figures["order_inversions"] == 0
    # What the lock decides: how long a conversation stands still after the kill.
    assert figures["longest_stall_after_kill_s"] <= 10.0
    if mode == "closed-loop":
        # In the open loop B alone then serves 10 x 4 queued messages: there the
        # end-to-end figure measures the machine's spare CPU (reported, not asserted).
        assert figures["slowest_back_after_kill_s"] <= 10.0
