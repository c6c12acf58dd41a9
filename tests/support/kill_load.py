"""Load on two Rasa instances, one of them SIGKILLed midway, and what it cost.

    run = LoadRun({"A": a, "B": b}, kill=lambda: a.stop("rasa", signal.SIGKILL), in_flight=1)
    result = run.run(conversations=10, seconds=30, kill_at=15)
    figures = run.figures(wait_until_stored(db, run))   # dict

Each conversation sends a message ~`think_s` (+-25 %) after the previous
reply (closed loop, in_flight=1) or every ~`think_s` while fewer than
`in_flight` are unanswered (open loop), alternating instances; the
conversations start up to a second apart, so that they do not all talk to
the same instance at the same moment. The kill comes at `kill_at`, or as
soon after (within 3 s) as at least KILL_WHEN_IN_FLIGHT requests are on A. A request that fails (no
HTTP 200: connection refused or reset by the killed instance) is retried once
on the other instance with the same client message id, as the widget does. Every message
text is unique, so PostgreSQL tells which acknowledged message was stored,
how often and in which order.
"""

import http.client
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from scale_out import events
from servers import http_json

QUESTIONS = (
    "is botox safe?",
    "what are the common side effects of botox?",
    "who should inject my botox?",
    "can botox cause headaches?",
    "what are the rare side effects?",
)
# The channel's safe reply (channels/, "something went wrong ... call the clinic").
SAFE_REPLY_MARK = "something went wrong"
REQUEST_TIMEOUT_S = 30.0
KILL_WHEN_IN_FLIGHT = 3
# What a request to a killed instance raises (URLError, resets and timeouts are OSErrors).
REQUEST_ERRORS = (OSError, http.client.HTTPException)


@dataclass
class Message:
    conversation: str
    index: int
    text: str
    first: str  # the instance tried first
    sent: float
    done: float = 0.0
    outcome: str = "pending"  # answer | safe (the safe reply) | failed (no HTTP 200, twice)
    retried: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # the client's message id, the same when resent

    @property
    def acknowledged(self) -> bool:
        return self.outcome in ("answer", "safe")


def post(stack, sender: str, text: str, message_id: Optional[str] = None) -> List[Dict]:
    body = {"sender": sender, "message": text, "message_id": message_id}
    return http_json(f"{stack.url}/webhooks/rest/webhook", body, REQUEST_TIMEOUT_S)


def outcome_of(items: List[Dict]) -> str:
    return "safe" if items and SAFE_REPLY_MARK in (items[0].get("text") or "") else "answer"


@dataclass
class LoadRun:
    instances: Dict[str, object]  # two RasaStacks by name; the first is killed
    kill: Callable[[], None]
    in_flight: int = 1
    think_s: float = 0.2
    messages: List[Message] = field(default_factory=list)
    senders: List[str] = field(default_factory=list)
    killed_at: Optional[float] = None  # monotonic, as Message.sent and .done
    killed_wall: float = 0.0  # time.time(), as the stored events' timestamps
    in_flight_on_a_at_kill: int = 0

    def _send(self, message: Message) -> None:
        names = list(self.instances)
        order = [message.first] + [n for n in names if n != message.first]
        for attempt, name in enumerate(order):
            try:
                message.outcome = outcome_of(post(self.instances[name], message.conversation, message.text, message.id))
                break
            except REQUEST_ERRORS:
                message.outcome = "failed"
                message.retried = attempt == 0
        message.done = time.monotonic()

    def _conversation(self, sender: str, end: float) -> None:
        slots = threading.BoundedSemaphore(self.in_flight)
        threads = []
        index = 0
        time.sleep(random.uniform(0, 1))
        while time.monotonic() < end:
            if not slots.acquire(timeout=max(0.0, end - time.monotonic())):
                break
            text = f"{QUESTIONS[index % len(QUESTIONS)]} #{sender[-6:]}-{index}"
            message = Message(sender, index, text, list(self.instances)[index % 2], time.monotonic())
            self.messages.append(message)

            def send(message: Message = message) -> None:
                try:
                    self._send(message)
                finally:
                    slots.release()

            if self.in_flight == 1:
                send()
            else:
                threads.append(threading.Thread(target=send, daemon=True))
                threads[-1].start()
            index += 1
            time.sleep(self.think_s * random.uniform(0.75, 1.25))
        for thread in threads:
            thread.join(REQUEST_TIMEOUT_S * 2 + 5)

    def run(self, conversations: int, seconds: float, kill_at: float) -> "LoadRun":
        start = time.monotonic()
        self.senders = [f"kill-{uuid.uuid4().hex[:8]}-{c}" for c in range(conversations)]
        threads = [
            threading.Thread(target=self._conversation, args=(sender, start + seconds), daemon=True)
            for sender in self.senders
        ]
        [t.start() for t in threads]
        time.sleep(max(0.0, start + kill_at - time.monotonic()))
        latest = time.monotonic() + 3
        while len(self.in_flight_on(list(self.instances)[0])) < KILL_WHEN_IN_FLIGHT and time.monotonic() < latest:
            time.sleep(0.01)
        self.in_flight_on_a_at_kill = len(self.in_flight_on(list(self.instances)[0]))
        self.killed_at, self.killed_wall = time.monotonic(), time.time()
        self.kill()
        [t.join(seconds + REQUEST_TIMEOUT_S * 2 + 10) for t in threads]
        assert all(m.outcome != "pending" for m in self.messages), "a request never ended"
        return self

    def in_flight_on(self, name: str) -> List[Message]:
        return [m for m in list(self.messages) if m.first == name and m.outcome == "pending"]

    def back_after_kill(self) -> Dict[str, float]:
        """Per conversation, seconds from the kill to the first real answer to a
        message sent after the kill, with no safe reply or failure after it."""
        back = {}
        for sender in self.senders:
            after = sorted(
                (m for m in self.messages if m.conversation == sender and m.done > self.killed_at), key=lambda m: m.done
            )
            bad = [i for i, m in enumerate(after) if m.outcome != "answer"]
            good = [m for m in after[bad[-1] + 1 if bad else 0 :] if m.sent >= self.killed_at]
            back[sender] = round(good[0].done - self.killed_at, 2) if good else float("inf")
        return back

    def longest_wait_after_kill(self) -> float:
        """The longest any message waited for its answer after the kill."""
        return round(max(m.done - max(m.sent, self.killed_at) for m in self.messages if m.done > self.killed_at), 2)

    def stall_after_kill(self, stored: Dict[str, List[Tuple[str, float]]]) -> float:
        """The longest any conversation went without a message being processed
        (Rasa's timestamp of the stored user message) after the kill."""
        stalls = [0.0]
        for texts in stored.values():
            times = [timestamp for _, timestamp in texts]
            for before, after in zip(times, times[1:]):
                if after > self.killed_wall:
                    stalls.append(after - max(before, self.killed_wall))
        return round(max(stalls), 2)

    def figures(self, stored: Dict[str, List[Tuple[str, float]]]) -> Dict:
        """`stored`: per conversation, its stored user messages (text, timestamp) in stored order."""
        copies: Dict[str, List[float]] = {}
        position: Dict[str, int] = {}
        for texts in stored.values():
            for at, (text, timestamp) in enumerate(texts):
                copies.setdefault(text, []).append(timestamp)
                position.setdefault(text, at)
        acknowledged = [m for m in self.messages if m.acknowledged]
        missing = [m for m in acknowledged if m.text not in copies]
        duplicated = [m for m in self.messages if len(copies.get(m.text, ())) > 1]
        # The killed instance stored the message, died before its reply went out, and
        # the client sent it again (with the same message id: channels/resend.py).
        resent = [m for m in duplicated if m.retried and copies[m.text][0] < self.killed_wall]
        inversions, reordered = 0, 0
        for sender in self.senders:
            mine = [m for m in self.messages if m.conversation == sender and m.text in position]
            for first in mine:
                for later in mine:
                    if later.sent <= first.sent or position[later.text] > position[first.text]:
                        continue
                    if later.sent >= first.done:
                        inversions += 1  # sent after the reply to `first` arrived, stored before it
                    elif not (first.retried or later.retried):
                        reordered += 1  # both in flight at once, taken up by the instances in the other order
        back = self.back_after_kill()
        latencies = sorted(m.done - m.sent for m in acknowledged)
        return {
            "messages": len(self.messages),
            "in_flight_on_A_at_kill": self.in_flight_on_a_at_kill,
            "acknowledged": len(acknowledged),
            "answered_for_real": sum(m.outcome == "answer" for m in self.messages),
            "safe_replies": sum(m.outcome == "safe" for m in self.messages),
            "failed_twice": sum(m.outcome == "failed" for m in self.messages),
            "retried": sum(m.retried for m in self.messages),
            "missing": len(missing),
            "missing_sent_only_to_B": sum(1 for m in missing if not m.retried and m.first != list(self.instances)[0]),
            "stored_not_acknowledged": sum(1 for m in self.messages if not m.acknowledged and m.text in copies),
            "duplicates_resent_after_lost_reply": len(resent),
            "duplicates_other": len(duplicated) - len(resent),
            "order_inversions": inversions,
            "concurrent_messages_taken_up_out_of_send_order": reordered,
            "slowest_back_after_kill_s": max(back.values()),
            "back_after_kill_s": sorted(back.values()),
            "longest_wait_after_kill_s": self.longest_wait_after_kill(),
            "longest_stall_after_kill_s": self.stall_after_kill(stored),
            "latency_p50_s": round(latencies[len(latencies) // 2], 2),
            "latency_max_s": round(latencies[-1], 2),
        }


def stored_user_messages(engine, senders: List[str]) -> Dict[str, List[Tuple[str, float]]]:
    return {
        sender: [(e["text"], e["timestamp"]) for e in events(engine, sender) if e["event"] == "user"]
        for sender in senders
    }


def wait_until_stored(engine, run: LoadRun, timeout_s: float = 30.0) -> Dict[str, List[Tuple[str, float]]]:
    """Messages answered with the safe reply are still processed in the background:
    waits (bounded) until every acknowledged message is stored, then returns the store."""
    deadline = time.monotonic() + timeout_s
    wanted = {m.text for m in run.messages if m.acknowledged}
    while True:
        stored = stored_user_messages(engine, run.senders)
        if wanted <= {text for texts in stored.values() for text, _ in texts} or time.monotonic() > deadline:
            return stored
        time.sleep(0.5)
