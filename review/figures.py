"""Pure computations: Rasa events -> exchanges -> the review's figures.

No Rasa objects, no I/O: every figure is unit-testable on hand-written events.

An *exchange* is one patient message (a `user` event) with the bot messages that
follow it until the next patient message. A *conversation* is one Rasa session
of one sender (a new one starts at each `session_started` event, except one
that only continues a long session, channels/sessions.py); it is counted
on the day of its first patient message. All days are UTC.
"""

from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from faq.contract import CONTINUED_SESSION, Escalation, Intent  # docs/payload.md
from faq.feedback import Feedback, feedback_from_entities

ESCALATION_LEVELS = tuple(e.value for e in Escalation)

AUDITED_LEVELS = ("clinic", "emergency")
FALLBACK_INTENT = "nlu_fallback"
NO_REPLY = "no reply"


def utc_day(timestamp: float) -> date:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).date()


@dataclass
class Exchange:
    """One patient message and the bot messages that answered it, as the tracker store
    recorded them (the reply the domain core computes is faq.dialogue.Turn)."""

    sender: str
    session: int
    timestamp: float
    text: str
    intent: Optional[str] = None
    # Confidence of the best real intent (not `nlu_fallback`): what NLU thought.
    confidence: Optional[float] = None
    guessed_intent: Optional[str] = None
    # "/intent" button payloads skip NLU: no confidence, never a candidate.
    is_payload: bool = False
    triage: Optional[Any] = None
    # "Helpful" / "Not helpful" and its comment: not a question (review/feedback.py).
    feedback: Optional[Feedback] = None
    payloads: List[Dict[str, Any]] = field(default_factory=list)
    reply_texts: List[str] = field(default_factory=list)

    @property
    def day(self) -> date:
        return utc_day(self.timestamp)

    @property
    def reply_type(self) -> str:
        types = [p.get("type") for p in self.payloads if p.get("type")]
        return types[0] if types else NO_REPLY

    @property
    def topic(self) -> Optional[str]:
        topics = [p.get("topic") for p in self.payloads if p.get("topic")]
        return topics[0] if topics else None

    @property
    def topics(self) -> List[str]:
        """Every topic answered (a message may ask two things; older payloads have only `topic`)."""
        for payload in self.payloads:
            answered = payload.get("topics") or ([payload["topic"]] if payload.get("topic") else [])
            if answered:
                return list(answered)
        return []

    @property
    def escalation(self) -> str:
        levels = [p.get("escalation") for p in self.payloads if p.get("escalation") in ESCALATION_LEVELS]
        return max(levels, key=lambda level: Escalation(level).rank) if levels else Escalation.NONE.value

    @property
    def reply_text(self) -> str:
        return "\n\n".join(self.reply_texts)

    @property
    def only_feedback(self) -> bool:
        """Feedback on an answer and nothing else: not a patient message. A
        comment that reported a symptom (and was triaged) is one."""
        return self.feedback is not None and self.reply_type != "triage"

    @property
    def unanswered(self) -> bool:
        return self.reply_type == "fallback"


def _nlu(parse_data: Dict[str, Any]) -> Tuple[Optional[str], Optional[float], Optional[str]]:
    intent = parse_data.get("intent") or {}
    name, confidence = intent.get("name"), intent.get("confidence")
    guess, guess_conf = name, confidence
    if name == FALLBACK_INTENT:
        ranking = [r for r in parse_data.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT]
        if ranking:
            best = max(ranking, key=lambda r: r.get("confidence") or 0.0)
            guess, guess_conf = best.get("name"), best.get("confidence")
        else:
            guess, guess_conf = None, None
    return name, (float(guess_conf) if guess_conf is not None else None), guess


def _feedback(intent: Optional[str], parse_data: Dict[str, Any]) -> Optional[Feedback]:
    return feedback_from_entities(parse_data.get("entities")) if intent == Intent.GIVE_FEEDBACK else None


def exchanges_from_events(events_by_sender: Dict[str, List[Dict[str, Any]]]) -> List[Exchange]:
    """Exchanges of every sender, in time order."""
    exchanges: List[Exchange] = []
    for sender, events in events_by_sender.items():
        session, current = 0, None
        for event in events:
            kind = event.get("event")
            if kind == "session_started" and not (event.get("metadata") or {}).get(CONTINUED_SESSION):
                session += 1
                current = None
            elif kind == "user":
                parse_data = event.get("parse_data") or {}
                text = event.get("text") or ""
                name, confidence, guess = _nlu(parse_data)
                is_payload = text.startswith("/")
                current = Exchange(
                    sender=sender,
                    session=session,
                    timestamp=float(event.get("timestamp") or 0.0),
                    text=text,
                    intent=name,
                    confidence=None if is_payload else confidence,
                    guessed_intent=guess,
                    is_payload=is_payload,
                    triage=parse_data.get("triage"),
                    feedback=_feedback(name, parse_data),
                )
                exchanges.append(current)
            elif kind == "bot" and current is not None:
                custom = (event.get("data") or {}).get("custom")
                if isinstance(custom, dict):
                    current.payloads.append(custom)
                if event.get("text"):
                    current.reply_texts.append(event["text"])
    exchanges.sort(key=lambda t: t.timestamp)
    return exchanges


def days_between(first: date, last: date) -> List[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass
class Figures:
    days: List[date]
    messages: int
    conversations: int
    senders: int
    per_day: "OrderedDict[date, Dict[str, Any]]"
    reply_types: Dict[str, int]
    answers_per_topic: List[Tuple[str, int]]
    escalations: Dict[str, int]
    confidences: List[float]
    unanswered: List[Exchange]
    low_confidence: List[Exchange]
    audited: List[Exchange]

    @property
    def fallbacks(self) -> int:
        return self.reply_types.get("fallback", 0)

    @property
    def fallback_rate(self) -> float:
        return self.fallbacks / self.messages if self.messages else 0.0

    def as_dict(self, pseudonym=lambda s: s) -> Dict[str, Any]:
        """JSON-ready figures (sender ids through `pseudonym`)."""

        def exchange(t: Exchange) -> Dict[str, Any]:
            return {
                "time": datetime.fromtimestamp(t.timestamp, tz=timezone.utc).isoformat(timespec="seconds"),
                "sender": pseudonym(t.sender),
                "text": t.text,
                "intent": t.intent,
                "guessed_intent": t.guessed_intent,
                "confidence": t.confidence,
                "reply_type": t.reply_type,
                "topic": t.topic,
                "escalation": t.escalation,
                "triage": t.triage,
                "reply": t.reply_text,
            }

        return {
            "first_day": self.days[0].isoformat() if self.days else None,
            "last_day": self.days[-1].isoformat() if self.days else None,
            "messages": self.messages,
            "conversations": self.conversations,
            "senders": self.senders,
            "fallbacks": self.fallbacks,
            "fallback_rate": round(self.fallback_rate, 4),
            "reply_types": dict(self.reply_types),
            "answers_per_topic": dict(self.answers_per_topic),
            "escalations": dict(self.escalations),
            "per_day": {d.isoformat(): v for d, v in self.per_day.items()},
            "nlu_confidence": {
                "count": len(self.confidences),
                "median": _median(self.confidences),
            },
            "unanswered": len(self.unanswered),
            "low_confidence": len(self.low_confidence),
            "audited_escalations": [exchange(t) for t in self.audited],
        }


def _median(values: Sequence[float]) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return round(ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2, 4)


def compute(exchanges: Iterable[Exchange], first_day: date, last_day: date, low_confidence: float = 0.75) -> Figures:
    """Figures of the exchanges whose day lies in [first_day, last_day].
    Feedback on answers is not a patient message here: review/feedback.py counts it."""
    exchanges = [t for t in exchanges if first_day <= t.day <= last_day and not t.only_feedback]
    days = days_between(first_day, last_day)
    per_day: OrderedDict[date, Dict[str, Any]] = OrderedDict(
        (
            d,
            {
                "messages": 0,
                "conversations": 0,
                "fallbacks": 0,
                "fallback_rate": None,
                **{level: 0 for level in ESCALATION_LEVELS[1:]},
            },
        )
        for d in days
    )
    conversation_day: Dict[Tuple[str, int], date] = {}
    reply_types: Counter = Counter()
    topics: Counter = Counter()
    escalations: Counter = Counter({level: 0 for level in ESCALATION_LEVELS[1:]})
    confidences: List[float] = []
    unanswered: List[Exchange] = []
    low: List[Exchange] = []
    audited: List[Exchange] = []
    for t in exchanges:
        day = per_day[t.day]
        day["messages"] += 1
        conversation_day.setdefault((t.sender, t.session), t.day)
        reply_types[t.reply_type] += 1
        if t.reply_type == "answer":
            topics.update(t.topics)
        if t.escalation != "none":
            escalations[t.escalation] += 1
            day[t.escalation] += 1
        if t.escalation in AUDITED_LEVELS:
            audited.append(t)
        if t.confidence is not None:
            confidences.append(t.confidence)
        if t.unanswered:
            day["fallbacks"] += 1
            if not t.is_payload and t.text.strip():
                unanswered.append(t)
        elif (
            not t.is_payload
            and t.confidence is not None
            and t.confidence < low_confidence
            and t.reply_type not in ("triage", NO_REPLY)
        ):
            low.append(t)
    for first in conversation_day.values():
        per_day[first]["conversations"] += 1
    for day in per_day.values():
        if day["messages"]:
            day["fallback_rate"] = round(day["fallbacks"] / day["messages"], 4)
    return Figures(
        days=days,
        messages=len(exchanges),
        conversations=len(conversation_day),
        senders=len({t.sender for t in exchanges}),
        per_day=per_day,
        reply_types=dict(reply_types),
        answers_per_topic=sorted(topics.items(), key=lambda kv: (-kv[1], kv[0])),
        escalations=dict(escalations),
        confidences=confidences,
        unanswered=unanswered,
        low_confidence=low,
        audited=audited,
    )
