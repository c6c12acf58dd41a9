"""Chooses the reply to one user message from its intent and the conversation
so far. Pure: no Rasa objects, so every branch is unit-testable.

The reply to a symptom report comes from the caller (`symptom_reply`, the
triage package's), so the core does not depend on triage."""

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

from faq.contract import SMALLTALK_INTENTS, Intent, ReplyType
from faq.knowledge_base import ButtonKey, KnowledgeBase, ReplyKey
from faq.replies import Reply, topic_answer, topic_suggestions
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


def _fallback(kb: KnowledgeBase, key: ReplyKey = ReplyKey.FALLBACK) -> Reply:
    answer = kb.with_emergency_line(key)
    return Reply(type=ReplyType.FALLBACK, answer=answer, suggestions=[kb.suggestion(ButtonKey.HANDOFF)])


def _tell_me_more(kb: KnowledgeBase, conv: Conversation) -> Turn:
    if not conv.last_topic:
        return Turn(_fallback(kb, ReplyKey.NO_PREVIOUS_ANSWER), None, conv.shown_topics)
    last = kb.topic(conv.last_topic)
    unseen = [r for r in last.related if r not in conv.shown_topics]
    if not unseen:
        reply = Reply(
            type=ReplyType.ANSWER,
            answer=kb.reply(ReplyKey.NO_MORE),
            topic=last.id,
            suggestions=[kb.suggestion(ButtonKey.HANDOFF)],
        )
        return Turn(reply, last.id, conv.shown_topics)
    more = kb.topic(unseen[0])
    reply = topic_answer(kb, more, intro=kb.reply(ReplyKey.MORE_INTRO))
    return Turn(reply, more.id, conv.shown_topics + (more.id,))


def _where_does_it_say(kb: KnowledgeBase, conv: Conversation) -> Turn:
    if not conv.last_topic:
        return Turn(_fallback(kb, ReplyKey.NO_PREVIOUS_ANSWER), None, conv.shown_topics)
    topic = kb.topic(conv.last_topic)
    reply = Reply(
        type=ReplyType.ANSWER,
        answer=kb.reply(ReplyKey.SOURCES_INTRO),
        escalation=topic.escalation,
        topic=topic.id,
        sources=topic.quotes,
        suggestions=[s for s in topic_suggestions(kb, topic) if s != kb.suggestion(ButtonKey.ASK_SOURCE)],
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
        return Turn(_fallback(kb, ReplyKey.TOO_LONG), *keep)
    if not text.strip() or not intent:
        return Turn(_fallback(kb, ReplyKey.BAD_INPUT), *keep)
    topic = kb.topic_for_intent(intent)
    if topic:
        shown = conv.shown_topics + ((topic.id,) if topic.id not in conv.shown_topics else ())
        return Turn(topic_answer(kb, topic), topic.id, shown)
    if intent == Intent.TELL_ME_MORE:
        return _tell_me_more(kb, conv)
    if intent == Intent.ASK_SOURCE:
        return _where_does_it_say(kb, conv)
    if intent in SMALLTALK_INTENTS:
        return Turn(Reply(type=ReplyType.SMALLTALK, answer=kb.reply(ReplyKey(intent))), *keep)
    if intent == Intent.HANDOFF:
        return Turn(Reply(type=ReplyType.HANDOFF, answer=kb.reply(ReplyKey.HANDOFF)), *keep)
    return Turn(_fallback(kb), *keep)
