"""Turns a reply (answer, quotes, escalation) into the chat text and the
payload every channel reads (docs/payload.md)."""

import re
from dataclasses import dataclass, replace
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

from faq.clinic import Clinic
from faq.contract import Escalation, ReplyType, topic_intent
from faq.knowledge_base import ButtonKey, KnowledgeBase, Quote, ReplyKey, Topic, Uncovered

# Words too common to say which quote a question is about.
STOP_WORDS: FrozenSet[str] = frozenset(
    "a an the and or but if of to in on at for with by from about as is are was were be been it its this that "
    "these those i me my you your we they them he she his her can could should would will do doe did have ha "
    "had what which who whom how why when where there here not no so than then too very just also any some all "
    "get got botox".split()
)


@dataclass(frozen=True)
class Reply:
    type: str
    answer: str
    escalation: str = Escalation.NONE
    topic: Optional[str] = None
    # Every topic answered, the first being `topic` (a message may ask two things).
    topics: Sequence[str] = ()
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


def _words(text: str) -> Set[str]:
    """Lowercase words without a plural or possessive s: enough to match a question to a quote."""
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in re.findall(r"[a-z]+", text.lower())}


def quotes_for(topic: Topic, question: str) -> List[Quote]:
    """The topic's quotes, those sharing the question's distinctive words first
    ("can a nurse do it?" -> the "doctor, nurse, or dentist" sentence)."""
    asked = _words(question) - STOP_WORDS
    score = {q: len(asked & _words(q.text)) for q in topic.quotes}
    return sorted(topic.quotes, key=lambda q: -score[q])


def matching_quotes(topic: Topic, question: str) -> List[Quote]:
    """Only the quotes that share a distinctive word with the question (the best one if none does)."""
    asked = _words(question) - STOP_WORDS
    ranked = quotes_for(topic, question)
    return [q for q in ranked if asked & _words(q.text)] or ranked[:1]


def topic_answer(kb: KnowledgeBase, topic: Topic, intro: Optional[str] = None, question: str = "") -> Reply:
    return Reply(
        type=ReplyType.ANSWER,
        answer=topic.answer,
        escalation=topic.escalation,
        topic=topic.id,
        topics=(topic.id,),
        sources=quotes_for(topic, question),
        suggestions=topic_suggestions(kb, topic),
        intro=intro,
    )


def topics_answer(kb: KnowledgeBase, topics: Sequence[Topic], question: str) -> Reply:
    """One reply to a message that asks about two topics: both answers, both quote sets."""
    first, *others = topics
    if not others:
        return topic_answer(kb, first, question=question)
    sources: List[Quote] = []
    for topic in topics:
        sources += [q for q in quotes_for(topic, question) if q not in sources]
    answers = [first.answer] + [f"{kb.reply(ReplyKey.ALSO_INTRO)} {t.answer}" for t in others]
    return Reply(
        type=ReplyType.ANSWER,
        answer=" ".join(answers),
        escalation=max((t.escalation for t in topics), key=lambda e: Escalation(e).rank),
        topic=first.id,
        topics=tuple(t.id for t in topics),
        sources=sources,
        suggestions=topic_suggestions(kb, first),
    )


def with_question_answered(kb: KnowledgeBase, reply: Reply, topics: Sequence[Topic], question: str) -> Reply:
    """A symptom report's reply that also answers what the report asks ("...is
    that a known side effect?"): the advice and the symptom's quotes first,
    then the asked topics' answers and quotes. The escalation stays the
    policy's for the symptom."""
    if not topics:
        return reply
    answered = topics_answer(kb, topics, question)
    return replace(
        reply,
        answer=f"{reply.answer} {kb.reply(ReplyKey.QUESTION_INTRO)} {answered.answer}",
        topic=answered.topic,
        topics=answered.topics,
        sources=list(reply.sources) + [q for q in answered.sources if q not in reply.sources],
    )


def with_uncovered_question(kb: KnowledgeBase, reply: Reply, uncovered: Optional[Uncovered]) -> Reply:
    """A symptom report's reply that also asks what the article does not
    answer ("...should I put ice on it?"): the advice and the symptom's quotes
    first, then the honest "the article doesn't cover that"."""
    if uncovered is None:
        return reply
    honest = uncovered.told_in(kb.reply(ReplyKey.NOT_COVERED))
    return replace(reply, answer=f"{reply.answer} {kb.reply(ReplyKey.QUESTION_INTRO)} {honest}")


def format_quote(quote: Quote) -> str:
    return f"\u201c{quote.text}\u201d (paragraph {quote.paragraph}, sentence {quote.sentence})"


def render(reply: Reply, clinic: Clinic) -> Tuple[str, Dict[str, Any]]:
    """The plain chat text and the JSON payload of one bot message."""
    advice = clinic.fill(reply.advice) if reply.advice is not None else clinic.advice(reply.escalation)
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
        "topics": list(reply.topics) or ([reply.topic] if reply.topic else []),
        "sources": [q.as_source() for q in reply.sources],
        "escalation": str(reply.escalation),
        "text": text,
        "answer": answer,
        "advice": advice,
        "suggestions": list(reply.suggestions),
        "clinic": dict(clinic.contact),
    }
    return text, payload
