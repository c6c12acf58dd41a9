"""Chooses the reply to one user message from its intent and the conversation
so far. Pure: no Rasa objects, so every branch is unit-testable.

The reply to a symptom report comes from the caller (`symptom_reply`, the
triage package's), so the core does not depend on triage."""

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

from faq.contract import SMALLTALK_INTENTS, Intent, ReplyType
from faq.knowledge_base import KnowledgeBase
from faq.replies import TALK_TO_PERSON, WHERE_DOES_IT_SAY, Reply, topic_answer, topic_suggestions
from faq.settings import SETTINGS

# The NLU's symptom assessment (message["triage"], docs/triage.md) -> the reply.
SymptomReply = Callable[[Optional[Dict[str, Any]]], Reply]


@dataclass(frozen=True)
class Conversation:
    """What the reply may depend on from earlier turns (kept in slots)."""

    last_topic: Optional[str] = None
    shown_topics: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Turn:
    reply: Reply
    last_topic: Optional[str]
    shown_topics: Tuple[str, ...] = field(default=())


def _fallback(kb: KnowledgeBase, key: str = "fallback") -> Reply:
    return Reply(type=ReplyType.FALLBACK, answer=kb.replies[key], suggestions=[TALK_TO_PERSON])


def _tell_me_more(kb: KnowledgeBase, conv: Conversation) -> Turn:
    if not conv.last_topic:
        return Turn(_fallback(kb, "no_previous_answer"), None, conv.shown_topics)
    last = kb.topic(conv.last_topic)
    unseen = [r for r in last.related if r not in conv.shown_topics]
    if not unseen:
        answer = f"{kb.replies['no_more']} {kb.replies['ask_clinic']}"
        reply = Reply(type=ReplyType.ANSWER, answer=answer, topic=last.id, suggestions=[TALK_TO_PERSON])
        return Turn(reply, last.id, conv.shown_topics)
    more = kb.topic(unseen[0])
    reply = topic_answer(kb, more, intro=kb.replies["more_intro"])
    return Turn(reply, more.id, conv.shown_topics + (more.id,))


def _where_does_it_say(kb: KnowledgeBase, conv: Conversation) -> Turn:
    if not conv.last_topic:
        return Turn(_fallback(kb, "no_previous_answer"), None, conv.shown_topics)
    topic = kb.topic(conv.last_topic)
    reply = Reply(
        type=ReplyType.ANSWER,
        answer=kb.replies["sources_intro"],
        escalation=topic.escalation,
        topic=topic.id,
        sources=topic.quotes,
        suggestions=[s for s in topic_suggestions(kb, topic) if s is not WHERE_DOES_IT_SAY],
    )
    return Turn(reply, topic.id, conv.shown_topics)


def respond(
    kb: KnowledgeBase,
    intent: Optional[str],
    text: str,
    conv: Conversation,
    symptom_reply: SymptomReply,
    triage: Optional[Dict[str, Any]] = None,
    max_chars: int = SETTINGS.max_message_chars,
) -> Turn:
    """The reply to one message classified as `intent`. `triage` is the NLU's
    symptom assessment (message["triage"], docs/triage.md), if any."""
    keep = (conv.last_topic, conv.shown_topics)
    # A symptom report outranks everything else (topic, follow-up, length).
    if intent == Intent.REPORT_SYMPTOM or triage:
        return Turn(symptom_reply(triage), *keep)
    if len(text) > max_chars:
        return Turn(_fallback(kb, "too_long"), *keep)
    if not text.strip() or not intent:
        return Turn(_fallback(kb, "bad_input"), *keep)
    topic = kb.topic_for_intent(intent)
    if topic:
        shown = conv.shown_topics + ((topic.id,) if topic.id not in conv.shown_topics else ())
        return Turn(topic_answer(kb, topic), topic.id, shown)
    if intent == Intent.TELL_ME_MORE:
        return _tell_me_more(kb, conv)
    if intent == Intent.ASK_SOURCE:
        return _where_does_it_say(kb, conv)
    if intent in SMALLTALK_INTENTS:
        return Turn(Reply(type=ReplyType.SMALLTALK, answer=kb.replies[intent]), *keep)
    if intent == Intent.HANDOFF:
        return Turn(Reply(type=ReplyType.HANDOFF, answer=kb.replies["handoff"]), *keep)
    return Turn(_fallback(kb), *keep)
