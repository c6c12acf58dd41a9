"""Turns a reply (answer, quotes, escalation) into the chat text and the
payload every channel reads (docs/payload.md)."""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from faq.clinic import Clinic
from faq.contract import Escalation, ReplyType, topic_intent
from faq.knowledge_base import ButtonKey, KnowledgeBase, Quote, Topic


@dataclass(frozen=True)
class Reply:
    type: str
    answer: str
    escalation: str = Escalation.NONE
    topic: Optional[str] = None
    sources: Sequence[Quote] = ()
    suggestions: Sequence[Dict[str, str]] = ()
    # None: the clinic's advice for the escalation level (clinic.yml).
    advice: Optional[str] = None
    intro: Optional[str] = None

    def __post_init__(self) -> None:
        if self.type not in list(ReplyType):
            raise ValueError(f"unknown reply type {self.type!r}")


def topic_button(kb: KnowledgeBase, topic_id: str) -> Dict[str, str]:
    """A button that asks about one topic (its payload is the topic's intent)."""
    return {"title": kb.topic(topic_id).title, "payload": f"/{topic_intent(topic_id)}"}


def topic_suggestions(kb: KnowledgeBase, topic: Topic) -> List[Dict[str, str]]:
    follow_ups = [kb.suggestion(ButtonKey.TELL_ME_MORE), kb.suggestion(ButtonKey.ASK_SOURCE)]
    return follow_ups + [topic_button(kb, r) for r in topic.related]


def topic_answer(kb: KnowledgeBase, topic: Topic, intro: Optional[str] = None) -> Reply:
    return Reply(
        type=ReplyType.ANSWER,
        answer=topic.answer,
        escalation=topic.escalation,
        topic=topic.id,
        sources=topic.quotes,
        suggestions=topic_suggestions(kb, topic),
        intro=intro,
    )


def format_quote(quote: Quote) -> str:
    return f"\u201c{quote.text}\u201d (paragraph {quote.paragraph}, sentence {quote.sentence})"


def render(reply: Reply, clinic: Clinic) -> Tuple[str, Dict[str, Any]]:
    """The plain chat text and the JSON payload of one bot message."""
    advice = reply.advice if reply.advice is not None else clinic.advice(reply.escalation)
    answer = clinic.fill(f"{reply.intro} {reply.answer}" if reply.intro else reply.answer)
    parts = [answer]
    if reply.sources:
        parts.append("From the article:\n" + "\n".join(f"- {format_quote(q)}" for q in reply.sources))
    if advice:
        # An emergency must be the first thing the patient reads.
        parts.insert(0, advice) if reply.escalation == Escalation.EMERGENCY else parts.append(advice)
    text = "\n\n".join(parts)
    payload = {
        "type": str(reply.type),
        "topic": reply.topic,
        "sources": [q.as_source() for q in reply.sources],
        "escalation": str(reply.escalation),
        "text": text,
        "answer": answer,
        "advice": advice,
        "suggestions": list(reply.suggestions),
        "clinic": dict(clinic.contact),
    }
    return text, payload
