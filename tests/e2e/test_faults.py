"""Faults and input protection on the real stack (channels/rest.py, channels/guarded.py, channels/guard.py).

One Rasa server (5115) + action server (5165) with the guarded REST channel:
- action server stopped -> the safe reply with the clinic's phone and the
  emergency number, never silence; the error is logged;
- over-length message refused politely and not stored, yet read whole for
  an emergency;
- per-sender rate limit; a rate-limited emergency gets the emergency advice
  and is not told to wait;
- disguised emergencies (zero-width space, Cyrillic letters, HTML, full-width
  letters) get the emergency reply (faq/text.py);
- no message text in either process's log at the default log level;
- Rasa restarted -> the conversation resumes from the SQLite tracker store.
"""

import json
import signal
import sqlite3
import time
import urllib.error
import urllib.request

import pytest
from servers import RasaStack, http_json, payloads

from channels.guard import Guard
from channels.guarded import emergency_from_parse, safe_reply
from faq.clinic import load_clinic
from faq.contract import PAYLOAD_FIELDS

CHANNEL = {"channels.rest.GuardedRestInput": {"reply_timeout_s": 5}}  # production: 10
MARKER = "zqxmarker"  # a word that must never reach a log
SITE = "https://clinic.example"  # the only origin allowed by CORS here
EMERGENCY = "I had Botox yesterday and now I can't breathe"  # tests/data/triage_cases.yml


# ---- unit: the guard -------------------------------------------------------


def test_token_bucket_burst_then_refill():
    now = [0.0]
    guard = Guard(burst=3, per_minute=60, clock=lambda: now[0])
    assert [guard.allow("a") for _ in range(4)] == [True, True, True, False]
    assert guard.allow("b")  # per sender
    now[0] += 1.0  # 60/min = one token per second
    assert guard.allow("a") and not guard.allow("a")


def test_guard_check_reasons():
    guard = Guard(burst=100, per_minute=60, max_chars=10)
    assert guard.check("s", "short") is None
    assert guard.check("s", "x" * 11) == "too_long"
    assert Guard(per_minute=0).allow("s")  # 0 switches the limit off


def test_tracked_senders_are_bounded():
    guard = Guard(max_senders=100)
    for i in range(1000):
        guard.allow(f"s{i}")
    assert len(guard.senders) == 100


@pytest.mark.parametrize("reason", ["too_long", "rate_limited", "error"])
def test_safe_reply_has_phone_and_emergency_number(reason):
    clinic = load_clinic()
    text, payload = safe_reply(reason)
    assert clinic.contact["phone"] in text and clinic.contact["emergency_number"] in text
    assert payload["text"] == text and payload["type"] == "fallback"
    assert set(payload) >= set(PAYLOAD_FIELDS)


def test_safe_reply_emergency_puts_advice_first():
    clinic = load_clinic()
    text, payload = safe_reply("error", emergency=True)
    assert payload["escalation"] == "emergency"
    assert text.startswith(clinic.advice("emergency"))
    assert emergency_from_parse({"triage": {"level": "emergency"}})
    assert not emergency_from_parse({"triage": {"level": "clinic"}}) and not emergency_from_parse(None)


# ---- end to end -------------------------------------------------------------


@pytest.fixture(scope="module")
def stack():
    with RasaStack(
        rasa_port=5115,
        action_port=5165,
        credentials=CHANNEL,
        extra_args=["--cors", SITE],
        env={"BOTOX_RATE_BURST": "5", "BOTOX_RATE_PER_MINUTE": "30"},
    ) as s:
        yield s


def _events(stack, sender):
    db = sqlite3.connect(stack.tracker_store["db"])
    try:
        rows = db.execute("SELECT type_name, data FROM events WHERE sender_id = ? ORDER BY id", (sender,)).fetchall()
    finally:
        db.close()
    return [(t, json.loads(d)) for t, d in rows]


def test_normal_answer_and_no_message_text_in_logs(stack):
    items = stack.send("log-check", f"is botox safe {MARKER}")
    assert payloads(items) and payloads(items)[0]["type"] in ("answer", "fallback", "triage")
    time.sleep(0.5)
    for name in ("rasa", "actions"):
        assert MARKER not in stack.log(name), f"message text in the {name} log"


def test_over_length_is_refused_and_not_stored(stack):
    items = stack.send("long-one", "botox " * 400)
    assert "too long" in items[0]["text"]
    assert load_clinic().contact["phone"] in payloads(items)[0]["text"]
    assert not any(t == "user" for t, _ in _events(stack, "long-one"))


def _reply(stack, sender, text):
    """(HTTP status, Retry-After, the reply's payload): refusals are 429s with a body."""
    status, headers, items = stack.post(json.dumps({"sender": sender, "message": text}).encode())
    return status, headers.get("Retry-After"), payloads(items)[0]


def test_rate_limit_per_sender(stack):
    replies = [_reply(stack, "hammer", "hello") for _ in range(7)]
    limited = [payload["text"] for status, wait, payload in replies if status == 429 and wait]
    assert len(limited) >= 1 and all("faster than I can answer" in t for t in limited)
    assert replies[0][0] == 200 and "faster" not in replies[0][2]["text"]
    # another sender is not affected
    assert "faster" not in payloads(stack.send("calm", "hello"))[0]["text"]


def test_a_rate_limited_emergency_gets_the_emergency_advice_and_is_not_told_to_wait(stack):
    emergency_advice = load_clinic().advice("emergency")
    for _ in range(12):  # past the burst
        _reply(stack, "hammer-emergency", "hello")
    status, _, payload = _reply(stack, "hammer-emergency", "I had botox yesterday and now I can't breathe")
    assert status == 429
    assert "faster than I can answer" in payload["text"]
    assert payload["escalation"] == "emergency" and payload["text"].startswith(emergency_advice)
    assert "wait" not in payload["text"].lower() and "again" not in payload["text"].lower()


def test_a_too_long_message_is_read_whole_for_an_emergency(stack):
    emergency_advice = load_clinic().advice("emergency")
    long_report = "I had botox yesterday and my face looks a bit odd. " * 45 + EMERGENCY  # starts at 2,295
    assert long_report.index(EMERGENCY) > 2000
    payload = payloads(stack.send("long-emergency", long_report))[0]
    assert "too long" in payload["text"]
    assert payload["escalation"] == "emergency" and payload["text"].startswith(emergency_advice)
    assert "few sentences" not in payload["text"] and "wait" not in payload["text"].lower()
    assert not any(t == "user" for t, _ in _events(stack, "long-emergency"))


@pytest.mark.parametrize(
    "disguised",
    [
        "I had Botox yesterday and now I can't bre\u200bathe",  # zero-width space
        "I had Botox yesterday and now I c\u0430n't bre\u0430the",  # Cyrillic а
        "<b>I had Botox yesterday and now I can't breathe</b>",  # HTML
        "I had Botox yesterday and now I ｃａｎ'ｔ ｂｒｅａｔｈｅ",  # full-width letters
    ],
    ids=["zero-width", "cyrillic", "html", "full-width"],
)
def test_a_disguised_emergency_gets_the_emergency_reply(stack, disguised):
    sender = f"disguised-{abs(hash(disguised))}"
    payload = payloads(stack.send(sender, disguised))[0]
    assert payload["type"] == "triage" and payload["escalation"] == "emergency", payload
    assert payload["text"].startswith(load_clinic().advice("emergency"))
    # the conversation stores the text the NLU read
    [user] = [d for t, d in _events(stack, sender) if t == "user"]
    assert user["text"] == EMERGENCY


def test_rasa_restart_resumes_conversation(stack):
    stack.send("resume", "is botox safe?")
    stack.stop("rasa")
    stack.start_rasa()
    items = stack.send("resume", "where does it say that?")
    payload = payloads(items)[0]
    assert payload["topic"] is not None and payload["sources"], payload


def test_action_server_down_gives_safe_reply(stack):
    stack.stop("actions", signal.SIGKILL)
    started = time.monotonic()
    items = stack.send("no-actions", f"what are the side effects {MARKER}")
    assert time.monotonic() - started < 15
    clinic = load_clinic()
    payload = payloads(items)[0]
    assert payload["type"] in ("fallback", "triage")
    assert clinic.contact["phone"] in payload["text"]
    assert clinic.contact["emergency_number"] in payload["text"]
    time.sleep(0.5)
    log = stack.log("rasa")
    assert "rest.message.failed" in log and "action" in log.lower()
    assert MARKER not in log
    # the user message itself is kept in the tracker store
    assert any(t == "user" for t, _ in _events(stack, "no-actions"))
    # an emergency still gets the emergency advice first: triage runs in Rasa's NLU
    emergency = payloads(stack.send("no-actions-2", EMERGENCY))[0]
    assert emergency["escalation"] == "emergency", emergency
    assert emergency["text"].startswith(clinic.advice("emergency"))
    stack.start_action_server()  # back up: answers again
    assert payloads(stack.send("no-actions", "is botox safe?"))[0]["topic"] is not None


def test_slow_action_server_gives_safe_reply_in_time(stack):
    """An action server that takes 8 s: the patient gets the safe reply after
    reply_timeout_s (5 s here), and the late answer still lands in the tracker."""
    import http.server
    import threading

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(8)
            body = json.dumps({"events": [], "responses": [{"text": "late answer"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    stack.stop("actions")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", stack.action_port), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        items = stack.send("slow-actions", "is botox safe?")
        waited = time.monotonic() - started
        assert 4.5 < waited < 8, waited
        payload = payloads(items)[0]
        assert payload["type"] == "fallback" and load_clinic().contact["phone"] in payload["text"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            t == "bot" and d.get("text") == "late answer" for t, d in _events(stack, "slow-actions")
        ):
            time.sleep(0.5)
        assert any(t == "bot" and d.get("text") == "late answer" for t, d in _events(stack, "slow-actions"))
        assert "rest.message.late" in stack.log("rasa")
    finally:
        server.shutdown()
        server.server_close()
        stack.start_action_server()


def test_http_api_is_off(stack):
    with pytest.raises(urllib.error.HTTPError) as error:
        http_json(f"{stack.url}/conversations/resume/tracker")
    assert error.value.code in (403, 404, 405)
    with pytest.raises(urllib.error.HTTPError):
        http_json(f"{stack.url}/model/parse", {"text": "hi"})


def test_cors_allows_only_the_configured_origin(stack):
    def allowed_origin(origin):
        request = urllib.request.Request(
            f"{stack.url}/webhooks/rest/webhook",
            method="OPTIONS",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.headers.get("Access-Control-Allow-Origin")
        except urllib.error.HTTPError as error:
            return error.headers.get("Access-Control-Allow-Origin")

    assert allowed_origin(SITE) == SITE
    assert allowed_origin("https://evil.example") is None


@pytest.mark.parametrize("body", [{"sender": "shape"}, {"sender": "shape", "message": 42}, ["hi"], {"message_id": "x"}])
def test_bad_request_shape(stack, body):
    with pytest.raises(urllib.error.HTTPError) as error:
        http_json(f"{stack.url}/webhooks/rest/webhook", body)
    assert error.value.code == 400
    assert "error" in json.loads(error.value.read())


def test_cached_action_response_validation_accepts_and_rejects_as_rasa():
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction

    from channels.speedups import cache_action_response_validation

    assert cache_action_response_validation()
    action = RemoteAction("action_reply", None)
    assert getattr(RemoteAction._validate_action_result, "botox_cached", False)
    text, payload = safe_reply("error")
    assert action._validate_action_result(
        {
            "events": [{"event": "slot", "name": "last_topic", "value": None}],
            "responses": [{"text": text, "custom": payload}],
        }
    )
    with pytest.raises(ValidationError) as error:
        action._validate_action_result({"events": [{"no_event_key": 1}], "responses": []})
    assert "Failed to validate Action server response" in error.value.message
