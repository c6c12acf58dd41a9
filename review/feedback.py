"""Answer feedback in the review: which answers patients found helpful.

A feedback message ("/give_feedback{...}", faq/feedback.py) is about the last
answer the same patient got before it; its topic is that answer's (payload
`topic`, the first when a reply answered two). An answer counts once: its
verdict is the last one given on it ("Not helpful", then a comment with
"not_helpful" again, is one answer found not helpful), and it keeps every
comment. Feedback with no answer before it in the period is not counted.
"""

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from faq.contract import ReplyType, Verdict
from review.figures import Exchange


@dataclass
class RatedAnswer:
    """One answer that got feedback: the exchange (question, reply, topic), the verdict, comments."""

    answer: Exchange
    verdict: Optional[str] = None
    comments: List[str] = field(default_factory=list)

    @property
    def topic(self) -> str:
        return self.answer.topic or "(none)"


@dataclass(frozen=True)
class TopicFeedback:
    topic: str
    helpful: int
    not_helpful: int

    @property
    def rated(self) -> int:
        return self.helpful + self.not_helpful

    @property
    def helpful_rate(self) -> float:
        return self.helpful / self.rated if self.rated else 0.0


def rated_answers(exchanges: Iterable[Exchange]) -> List[RatedAnswer]:
    """The answers that got a verdict, in time order (exchanges in time order)."""
    last_answer: Dict[str, Exchange] = {}
    rated: Dict[int, RatedAnswer] = {}
    for t in exchanges:
        if t.feedback is None:
            if t.reply_type == ReplyType.ANSWER:
                last_answer[t.sender] = t
            continue
        answer = last_answer.get(t.sender)
        if answer is None:
            continue
        item = rated.setdefault(id(answer), RatedAnswer(answer))
        item.verdict = t.feedback.verdict or item.verdict
        if t.feedback.comment:
            item.comments.append(t.feedback.comment)
    return [item for item in rated.values() if item.verdict]


def per_topic(rated: Iterable[RatedAnswer]) -> List[TopicFeedback]:
    """Helpful and not helpful per topic, most rated first."""
    counts: Dict[str, Tuple[int, int]] = {}
    for item in rated:
        helpful, not_helpful = counts.get(item.topic, (0, 0))
        if item.verdict == Verdict.HELPFUL:
            helpful += 1
        else:
            not_helpful += 1
        counts[item.topic] = (helpful, not_helpful)
    rows = [TopicFeedback(topic, h, n) for topic, (h, n) in counts.items()]
    return sorted(rows, key=lambda r: (-r.rated, r.topic))


Text = Callable[[str], str]


def not_helpful_rows(rated: Sequence[RatedAnswer], pseudonym: Text, redact: Text) -> List[Dict[str, Any]]:
    """Every answer found not helpful, for people to read: when, who (pseudonym),
    the topic, the patient's question and what was missing (contact details masked)."""
    return [
        {
            "time": datetime.fromtimestamp(r.answer.timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "sender": pseudonym(r.answer.sender),
            "topic": r.answer.topic,
            "question": redact(r.answer.text),
            "comments": [redact(c) for c in r.comments],
        }
        for r in rated
        if r.verdict != Verdict.HELPFUL
    ]


def as_dict(rated: Sequence[RatedAnswer], pseudonym: Text, redact: Text) -> Dict[str, Any]:
    """JSON-ready: the figures per topic and the answers found not helpful."""
    return {
        "per_topic": {
            t.topic: {"helpful": t.helpful, "not_helpful": t.not_helpful, "helpful_rate": round(t.helpful_rate, 4)}
            for t in per_topic(rated)
        },
        "not_helpful": not_helpful_rows(rated, pseudonym, redact),
    }
