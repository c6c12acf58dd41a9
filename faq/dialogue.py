"""Chooses the reply to one user message from its intent and the conversation
so far. Pure: no Rasa objects, so every branch is unit-testable.

The reply to a symptom report comes from the caller (`symptom_reply`, the
triage package's), so the core does not depend on triage."""

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from faq.contract import (
    MAX_TOPICS,
    NOT_COVERED_KEY,
    OTHER_CAUSE_KEY,
    SMALLTALK_INTENTS,
    SUBJECT_KEY,
    TOPICS_KEY,
    TREATMENT_KEY,
    TRIAGE_KEY,
    Escalation,
    Intent,
    ReplyType,
    TriageLevel,
    Verdict,
)
from faq.feedback import Feedback, feedback_from_entities
from faq.knowledge_base import ButtonKey, KnowledgeBase, ReplyKey, Topic
from faq.questions import split_message
from faq.replies import (
    Reply,
    matching_quotes,
    topic_answer,
    topic_suggestions,
    topics_answer,
    with_question_answered,
    with_uncovered_question,
)
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


def _not_covered(kb: KnowledgeBase, uncovered_id: Optional[str]) -> Reply:
    """The honest fallback, naming what the article does not cover when the NLU knows."""
    uncovered = kb.uncovered(uncovered_id)
    if not uncovered:
        return _fallback(kb)
    reply = _fallback(kb, ReplyKey.NOT_COVERED)
    return replace(reply, answer=uncovered.told_in(reply.answer))


def _emergency_elsewhere(kb: KnowledgeBase) -> Reply:
    return Reply(
        type=ReplyType.FALLBACK,
        answer=kb.reply(ReplyKey.EMERGENCY_ELSEWHERE),
        escalation=Escalation.EMERGENCY,
        advice=kb.reply(ReplyKey.EMERGENCY_ELSEWHERE_ADVICE),
        suggestions=[kb.suggestion(ButtonKey.HANDOFF)],
    )


def _tell_me_more(kb: KnowledgeBase, conv: Conversation) -> Turn:
    if not conv.last_topic:
        return Turn(_fallback(kb, ReplyKey.NO_PREVIOUS_ANSWER), None, conv.shown_topics)
    last = kb.topic(conv.last_topic)
    unseen = [r for r in last.related if r not in conv.shown_topics]
    if not unseen:
        answer = f"{kb.reply(ReplyKey.NO_MORE)} {kb.reply(ReplyKey.ASK_CLINIC)}"
        reply = Reply(
            type=ReplyType.ANSWER, answer=answer, topic=last.id, suggestions=[kb.suggestion(ButtonKey.HANDOFF)]
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


def _feedback(kb: KnowledgeBase, conv: Conversation, feedback: Feedback) -> Reply:
    """Thanks for "Helpful" (with the answer's follow-ups again, as its buttons
    are gone on Telegram); "Not helpful" asks what was missing; a comment gets
    thanks and the clinic's contact."""
    if feedback.comment:
        return Reply(
            type=ReplyType.SMALLTALK,
            answer=kb.reply(ReplyKey.FEEDBACK_COMMENT_THANKS),
            suggestions=[kb.suggestion(ButtonKey.HANDOFF)],
        )
    if feedback.verdict == Verdict.NOT_HELPFUL:
        return Reply(type=ReplyType.SMALLTALK, answer=kb.reply(ReplyKey.FEEDBACK_ASK_COMMENT))
    follow_ups = topic_suggestions(kb, kb.topic(conv.last_topic)) if conv.last_topic else []
    return Reply(type=ReplyType.SMALLTALK, answer=kb.reply(ReplyKey.FEEDBACK_THANKS), suggestions=follow_ups)


def _asked_topics(kb: KnowledgeBase, intent: Optional[str], topics: Optional[Sequence[str]]) -> List[Topic]:
    """The intent's topic, then the message's other asked topics (at most MAX_TOPICS)."""
    first = kb.topic_for_intent(intent)
    if not first:
        return []
    asked = [first]
    for topic_id in topics or ():
        if len(asked) < MAX_TOPICS and topic_id not in [t.id for t in asked] and kb.has_topic(topic_id):
            asked.append(kb.topic(topic_id))
    return asked


def _shown(conv: Conversation, asked: Sequence[Topic]) -> Tuple[str, ...]:
    """The topics shown so far in the conversation, with those just answered."""
    return conv.shown_topics + tuple(t.id for t in asked if t.id not in conv.shown_topics)


def _same_topic_again(kb: KnowledgeBase, topic: Topic, text: str) -> Reply:
    """A follow-up on the topic just answered ("what about a nurse?"): only what
    the article says on that point, not the whole answer again."""
    return Reply(
        type=ReplyType.ANSWER,
        answer=kb.reply(ReplyKey.SAME_TOPIC_INTRO),
        escalation=topic.escalation,
        topic=topic.id,
        topics=(topic.id,),
        sources=matching_quotes(topic, text),
        suggestions=topic_suggestions(kb, topic),
    )


def respond(
    kb: KnowledgeBase,
    intent: Optional[str],
    text: str,
    conv: Conversation,
    symptom_reply: SymptomReply,
    triage: Optional[Dict[str, Any]] = None,
    topics: Optional[Sequence[str]] = None,
    about_subject: Optional[bool] = None,
    about_treatment: Optional[bool] = None,
    max_chars: int = SETTINGS.max_message_chars,
    feedback: Optional[Feedback] = None,
    not_covered: Optional[str] = None,
    other_cause: Optional[bool] = None,
) -> Turn:
    """The reply to one message classified as `intent`. `triage` is the NLU's
    symptom assessment (message["triage"], docs/triage.md), if any; `topics`
    the topics of the questions the message asks (message["topics"]), the
    first being the intent's; `about_subject` whether the message names the
    article's subject (None: not known, e.g. a button); `feedback` the
    verdict and comment of a give_feedback message; `not_covered` what the
    message asks that the article does not answer (message["not_covered"]);
    `other_cause` whether it names another cause of a symptom, not Botox."""
    keep = (conv.last_topic, conv.shown_topics)
    # Nothing in the message or the conversation so far is about Botox (or the treatment).
    elsewhere = about_subject is False and not conv.last_topic
    not_treatment = about_treatment is False and not conv.last_topic
    # A symptom report outranks everything else (topic, follow-up, length).
    if intent == Intent.REPORT_SYMPTOM or triage:
        emergency = (triage or {}).get("level") == TriageLevel.EMERGENCY
        asked = [kb.topic(t) for t in topics or () if kb.has_topic(t)][:MAX_TOPICS]
        questions = bool(split_message(text).questions)
        if not_treatment and not emergency:
            if asked and questions and kb.names_subject_itself(text):
                # The symptom is not the treatment's ("I've never had anything
                # done ... what actually is it?"): the question is answered when
                # it names the subject itself ("i have a small bruise, is that
                # normal?" does not: a Botox answer would presume a treatment,
                # nor does "forehead feels tight ... sinus headache?").
                return Turn(topics_answer(kb, asked, text), asked[0].id, _shown(conv, asked))
            if not_covered and questions:
                # "can I get botox if I have a cold sore?": what it asks is not in the article.
                return Turn(_not_covered(kb, not_covered), *keep)
            return Turn(_fallback(kb, ReplyKey.SYMPTOM_ELSEWHERE if triage else ReplyKey.FALLBACK), *keep)
        if emergency and (other_cause or not_treatment) and not conv.last_topic:
            # "hives all over after eating prawns", "my chest is tight when I run":
            # the emergency number first, then the honest reply, no Botox triage.
            return Turn(_emergency_elsewhere(kb), *keep)
        # The question a report asks is answered after the advice; an emergency
        # reply stays short.
        if emergency or not questions:
            return Turn(symptom_reply(triage), *keep)
        if not asked:
            # "...swollen 2 days after botox, should I put ice on it?": the advice,
            # then the honest reply to what the article does not answer.
            return Turn(with_uncovered_question(kb, symptom_reply(triage), kb.uncovered(not_covered)), *keep)
        return Turn(with_question_answered(kb, symptom_reply(triage), asked, text), asked[0].id, _shown(conv, asked))
    if len(text) > max_chars:
        return Turn(_fallback(kb, ReplyKey.TOO_LONG), *keep)
    if not text.strip() or not intent:
        return Turn(_fallback(kb, ReplyKey.BAD_INPUT), *keep)
    if intent == Intent.GIVE_FEEDBACK:
        # The conversation goes on where it was: feedback is not a question.
        return Turn(_feedback(kb, conv, feedback or Feedback()), *keep)
    asked = _asked_topics(kb, intent, topics)
    if asked and elsewhere:
        return Turn(_fallback(kb), *keep)
    if asked:
        first = asked[0]
        shown = _shown(conv, asked)
        # "what about a nurse?" right after that answer: a follow-up that does not
        # name the subject again gets only the matching quotes. A repeated full
        # question ("is botox safe?" again) gets the whole answer again.
        if len(asked) == 1 and first.id == conv.last_topic and about_subject is False:
            return Turn(_same_topic_again(kb, first, text), first.id, shown)
        return Turn(topics_answer(kb, asked, text), first.id, shown)
    if intent == Intent.TELL_ME_MORE:
        return _tell_me_more(kb, conv)
    if intent == Intent.ASK_SOURCE:
        return _where_does_it_say(kb, conv)
    if intent in SMALLTALK_INTENTS:
        return Turn(Reply(type=ReplyType.SMALLTALK, answer=kb.reply(ReplyKey(intent))), *keep)
    if intent == Intent.HANDOFF:
        return Turn(Reply(type=ReplyType.HANDOFF, answer=kb.reply(ReplyKey.HANDOFF)), *keep)
    return Turn(_not_covered(kb, not_covered), *keep)


def respond_to_parse(kb: KnowledgeBase, parse: Dict[str, Any], conv: Conversation, symptom_reply: SymptomReply) -> Turn:
    """The reply to a message as the NLU parsed it (Rasa's parse data, or a
    tracker's latest message)."""
    return respond(
        kb,
        (parse.get("intent") or {}).get("name"),
        parse.get("text") or "",
        conv,
        symptom_reply,
        triage=parse.get(TRIAGE_KEY),
        topics=parse.get(TOPICS_KEY),
        about_subject=parse.get(SUBJECT_KEY),
        about_treatment=parse.get(TREATMENT_KEY),
        feedback=feedback_from_entities(parse.get("entities")),
        not_covered=parse.get(NOT_COVERED_KEY),
        other_cause=parse.get(OTHER_CAUSE_KEY),
    )
