"""Issue 11 (hardening) on the real Rasa server with the default limits, as
`make run` serves it without a proxy in front (channels/rest.py, channels/guard.py):

- one IP making up a new sender id for every message is refused with 429
  (Retry-After, the safe reply) beyond the per-IP limit, and the tracker
  store grows by one conversation per accepted message only;
- a 1 MB body is refused with 413 before it is read, with Content-Length
  and chunked, and on the Telegram webhook too;
- the caller's metadata and input_channel are not stored;
- malformed sender ids are a 400 (never a 500) and a NUL or lone surrogate
  in a message is stored without them, on SQLite and on PostgreSQL;
- sender ids are the server's (channels/sender_ids.py): a conversation's id
  without its signature, or made up, is refused with 403 and the
  conversation is untouched;
- one conversation of 300 turns: turns 251-300 cost what turns 1-50 cost
  (channels/sessions.py), and the review still reads all 300.
"""

import json
import socket
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from servers import RasaStack, fresh_postgres_store, payloads

from faq.clinic import load_clinic
from faq.settings import Settings

PHONE = load_clinic().contact["phone"]
# The default limits (unset), and the test client as the trusted proxy: the
# flood comes "through" it from one client IP, the other tests from 127.0.0.1.
ENV = {
    "BOTOX_RATE_PER_IP_PER_MINUTE": None,
    "BOTOX_RATE_GLOBAL_PER_SECOND": None,
    "BOTOX_SIGNED_SENDERS": None,
    "BOTOX_TRUSTED_PROXIES": "127.0.0.1",
}
MB = 1024 * 1024
REQUEST_HEAD = "POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


def engine_of(stack):
    store = stack.tracker_store
    if store["dialect"] == "sqlite":
        return sa.create_engine(f"sqlite:///{store['db']}")
    return sa.create_engine(f"postgresql://{store['username']}@{store['url']}:{store['port']}/{store['db']}")


def stored(stack, sql, **params):
    engine = engine_of(stack)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql), params).fetchall()
    finally:
        engine.dispose()


def user_events(stack, sender):
    rows = stored(stack, "SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id", s=sender)
    return [json.loads(data) for (data,) in rows]


def post_json(stack, body, headers=None):
    return stack.post(json.dumps(body).encode(), headers)


def start(stack, body, headers=None):
    """A new conversation (no sender): (status, its id from the server, the reply items)."""
    status, answer_headers, items = post_json(stack, body, headers)
    return status, answer_headers.get("X-Botox-Sender"), items


def conversations(stack):
    return stored(stack, "SELECT COUNT(DISTINCT sender_id) FROM events")[0][0]


def store_of(name):
    """The tracker store of a test stack: Rasa's SQLite (RasaStack's default) or a fresh PostgreSQL database."""
    return fresh_postgres_store(f"botox_hardening_{uuid.uuid4().hex[:8]}") if name == "postgresql" else None


# Every test below runs on SQLite and on PostgreSQL.
@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request):
    ports = {"sqlite": (5905, 5955), "postgresql": (5908, 5958)}[request.param]
    with RasaStack(*ports, tracker_store=store_of(request.param), env=ENV) as running:
        yield running


def flood(stack, i):
    """Message i of the flood: a new conversation, and a new made-up address at the
    left of X-Forwarded-For (written by the client; the proxy adds the real one)."""
    forwarded = f"198.18.{i // 256}.{i % 256}, 203.0.113.77"
    return post_json(stack, {"message": "hello"}, {"X-Forwarded-For": forwarded})


def test_one_ip_with_a_thousand_sender_ids_is_refused_beyond_the_per_ip_limit(stack):
    per_minute = Settings().rate_per_ip_per_minute
    before = conversations(stack)
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: flood(stack, i), range(1000)))
    elapsed = time.monotonic() - started
    accepted = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 429]
    print(f"\n1,000 messages in {elapsed:.1f} s: {len(accepted)} answered, {len(refused)} refused with 429")
    assert len(accepted) + len(refused) == 1000
    # Some of the first burst may meet the global limit (20/s) instead: also a 429.
    assert 20 <= len(accepted) <= per_minute + elapsed * per_minute / 60 + 1
    for _, headers, items in refused:
        assert int(headers["Retry-After"]) >= 1
        assert "faster than I can answer" in payloads(items)[0]["text"] and PHONE in payloads(items)[0]["text"]
    assert conversations(stack) - before == len(accepted)
    made_up = [post_json(stack, {"sender": f"flood-{i}", "message": "hello"})[0] for i in range(20)]
    assert made_up == [403] * 20  # ids the server did not issue: refused before any work


def send_raw(port, head, chunks):
    """Sends a request's head then its body chunks until the server stops reading;
    returns the status line of the server's answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed without reading the rest
        answer = b""
        try:
            while b"\r\n" not in answer:
                data = sock.recv(4096)
                if not data:
                    break
                answer += data
        except ConnectionResetError:
            pass
        return answer.split(b"\r\n")[0].decode()


def one_megabyte_of_json():
    body = json.dumps({"sender": "big-body", "message": "x" * MB}).encode()
    return [body[i : i + 16384] for i in range(0, len(body), 16384)]


def test_a_one_megabyte_body_is_refused_with_413_before_it_is_read(stack):
    chunks = one_megabyte_of_json()
    size = sum(map(len, chunks))
    started = time.monotonic()
    head = f"{REQUEST_HEAD}Content-Length: {size}\r\n\r\n"
    assert " 413 " in send_raw(stack.rasa_port, head.encode(), [])  # the head alone: refused without a body
    assert " 413 " in send_raw(stack.rasa_port, head.encode(), chunks)
    head = f"{REQUEST_HEAD}Transfer-Encoding: chunked\r\n\r\n"
    framed = [b"%x\r\n%s\r\n" % (len(c), c) for c in chunks] + [b"0\r\n\r\n"]
    assert " 413 " in send_raw(stack.rasa_port, head.encode(), framed)
    print(f"\n1 MB bodies refused with 413 in {time.monotonic() - started:.2f} s (three requests)")
    telegram = f"{REQUEST_HEAD}Content-Length: {size}\r\n\r\n".replace("/rest/", "/telegram/")
    assert " 413 " in send_raw(stack.rasa_port, telegram.encode(), chunks)  # any route: channels/startup.py
    assert not user_events(stack, "big-body")
    status, _, items = post_json(stack, {"message": "is botox safe? " * 900})  # ~13 KB
    assert status == 200 and "too long" in payloads(items)[0]["text"]


def test_the_callers_metadata_and_input_channel_are_not_stored(stack):
    status, _, _ = post_json(stack, {"message": "hi", "metadata": {"junk": "x" * MB}})
    assert status == 413  # Sanic's own cap for any route (channels/startup.py): no body read at all
    status, _, items = post_json(stack, {"message": "hi", "metadata": {"junk": "x" * 30_000}})
    assert status == 413 and "too long" in payloads(items)[0]["text"] and PHONE in payloads(items)[0]["text"]
    forged = {"message": "is botox safe?", "input_channel": "telegram", "metadata": {"junk": "y" * 8000}}
    status, sender, items = start(stack, forged)
    assert status == 200 and payloads(items)[0]["topic"] == "safety"
    [event] = user_events(stack, sender)
    assert event["input_channel"] == "rest" and "junk" not in json.dumps(event)
    assert len(json.dumps(event)) < 4000  # the parse result, not 8 KB of the caller's


# (No sender at all is not bad: it starts a conversation.)
BAD_SENDERS = ["", "x\ud800", "a\x00b", "a" * 129, "a" * 257, "has space", "ümlaut", "a/b", "new\n", 42, ["a"]]
GOOD_SENDERS = ["a", str(uuid.uuid4()), "A_z-09" * 21 + "ab"]  # well-formed; signed or not decides


def check_sender_ids_and_odd_text(stack, signed):
    for sender in BAD_SENDERS:
        status, _, body = post_json(stack, {"sender": sender, "message": "hi"})
        assert status == 400 and "1-128 characters" in body["error"], (sender, status, body)
    for sender in GOOD_SENDERS:
        assert len(sender) <= 128
        status, _, items = post_json(stack, {"sender": sender, "message": "hi"})
        if signed:
            assert status == 403 and "not an id this server issued" in items["error"], (sender, status)
        else:
            assert status == 200 and payloads(items), sender
    status, sender, items = start(stack, {"message": "is botox\x00 safe?\ud800"})
    assert status == 200 and payloads(items)[0]["topic"] == "safety"
    assert [e["text"] for e in user_events(stack, sender)] == ["is botox safe?"]
    status, _, items = post_json(stack, {"sender": sender, "message": "where does it say that?"})
    assert status == 200 and payloads(items)[0]["topic"] == "safety"  # the next good message answered


def test_sender_ids_and_odd_text(stack):
    check_sender_ids_and_odd_text(stack, signed=True)


def test_sender_ids_and_odd_text_with_unsigned_ids_on_postgresql():
    """BOTOX_SIGNED_SENDERS=0 (trusted callers): any well-formed id is taken, the rest is still a 400."""
    with RasaStack(rasa_port=5906, action_port=5956, tracker_store=store_of("postgresql")) as pg:
        check_sender_ids_and_odd_text(pg, signed=False)


def test_a_conversation_id_without_its_signature_is_refused_and_the_conversation_untouched(stack):
    status, patient, items = start(stack, {"message": "is botox safe?"})
    assert status == 200 and len(patient) == 44 and payloads(items)[0]["topic"] == "safety"
    before = user_events(stack, patient)
    nonce, signature = patient[:22], patient[22:]
    forged = [
        nonce,  # the id without its signature
        nonce + signature[::-1],
        nonce + start(stack, {"message": "hi"})[1][22:],  # another conversation's signature
        patient[:-1] + ("A" if patient[-1] != "A" else "B"),
        "me",
    ]
    for sender in forged:
        for text in ("where does it say that?", "/restart", "I had botox and I can't breathe"):
            status, _, body = post_json(stack, {"sender": sender, "message": text})
            assert status == 403 and "not an id this server issued" in body["error"], (sender, text)
    assert user_events(stack, patient) == before  # not read, not reset, not written
    status, _, items = post_json(stack, {"sender": patient, "message": "where does it say that?"})
    assert status == 200 and payloads(items)[0]["topic"] == "safety" and payloads(items)[0]["sources"]


def median_ms(seconds):
    return round(statistics.median(seconds) * 1000, 1)


def test_a_turn_costs_the_same_at_turn_300_as_at_turn_1(stack):
    """One conversation of 300 turns (rate limits off for it, as in `make bench`):
    the median latency of its turns 251-300 is at most 1.2x that of turns 1-50.
    Turns 251-300 alternate with turns 1-50 of a new conversation asking the
    same, so both medians are taken under the same load of the machine (its
    own turns 1-50, minutes earlier, are printed beside)."""
    questions = ["is botox safe?", "tell me more", "where does it say that?", "what about a nurse?", "hello"]
    store = "postgresql" if stack.tracker_store and stack.tracker_store.get("dialect") == "postgresql" else "sqlite"
    ports = {"sqlite": (5907, 5957), "postgresql": (5909, 5959)}[store]
    with RasaStack(*ports, tracker_store=store_of(store), env={"BOTOX_RATE_PER_MINUTE": "0"}) as long_stack:
        latencies = {"long": [], "new": []}

        def turn(sender, n):
            started = time.perf_counter()
            status, _, items = post_json(long_stack, {"sender": sender, "message": questions[n % len(questions)]})
            latencies[sender].append(time.perf_counter() - started)
            assert status == 200 and payloads(items), (sender, n)
            return items

        for n in range(250):
            turn("long", n)
        for n in range(250, 300):
            items = turn("long", n)
            turn("new", n)
        own_first, first, last = (
            median_ms(x) for x in (latencies["long"][:50], latencies["new"], latencies["long"][250:])
        )
        print(
            f"\n300 turns ({store}): median of turns 251-300 {last} ms, of turns 1-50 {first} ms alongside "
            f"(x{last / first:.2f}) and {own_first} ms at the start (x{last / own_first:.2f})"
        )
        assert last <= 1.2 * first
        assert len(user_events(long_stack, "long")) == 300  # the whole conversation kept for the review
        # The last answer still knew the conversation's topic across the session boundaries.
        assert payloads(items)[0]["type"] == "smalltalk"
        _, _, items = post_json(long_stack, {"sender": "long", "message": "where does it say that?"})
        assert payloads(items)[0]["sources"]
