"""The reply contract in code: the names every process and channel shares.

docs/payload.md describes the payload for people; tests/unit/faq/test_contract.py
checks that it names exactly the fields, types and levels defined here.
Enums are `str` subclasses, so a level is its own JSON value ("emergency")
and compares equal to the plain string Rasa stores.
"""

from enum import Enum
from typing import Optional, Tuple


class _Named(str, Enum):
    def __str__(self) -> str:
        return str(self.value)

    # Hash as the plain string too, so a member finds its value in a dict or set.
    def __hash__(self) -> int:
        return str.__hash__(self)


class Escalation(_Named):
    """How urgently the patient should seek help, least urgent first."""

    NONE = "none"
    ROUTINE = "routine"
    CLINIC = "clinic"
    EMERGENCY = "emergency"

    @property
    def rank(self) -> int:
        return list(Escalation).index(self)


class TriageLevel(_Named):
    """The clinic's triage policy levels (data/triage_policy.yml), least urgent first."""

    MILD = "mild"
    CLINIC = "clinic"
    EMERGENCY = "emergency"

    @property
    def rank(self) -> int:
        return list(TriageLevel).index(self) + 1


def triage_rank(level: Optional[str]) -> int:
    """0 for no level ("none" or unknown), then mild < clinic < emergency."""
    return TriageLevel(level).rank if level in list(TriageLevel) else 0


class ReplyType(_Named):
    ANSWER = "answer"
    TRIAGE = "triage"
    HANDOFF = "handoff"
    FALLBACK = "fallback"
    SMALLTALK = "smalltalk"


class Intent(_Named):
    """Intents outside the knowledge base's topics (data/nlu/conversation.yml, triage.yml)."""

    GREET = "greet"
    GOODBYE = "goodbye"
    THANKS = "thanks"
    BOT_CHALLENGE = "bot_challenge"
    HANDOFF = "handoff"
    TELL_ME_MORE = "tell_me_more"
    ASK_SOURCE = "ask_source"
    OUT_OF_SCOPE = "out_of_scope"
    REPORT_SYMPTOM = "report_symptom"
    NLU_FALLBACK = "nlu_fallback"  # Rasa's FallbackClassifier
    GIVE_FEEDBACK = "give_feedback"  # "Helpful" / "Not helpful" under an answer (faq/feedback.py)


SMALLTALK_INTENTS: Tuple[Intent, ...] = (Intent.GREET, Intent.GOODBYE, Intent.THANKS, Intent.BOT_CHALLENGE)
# Intents only our own buttons send ("/give_feedback{...}"), never typed: no
# training examples on purpose (`rasa data validate` only notes it).
BUTTON_ONLY_INTENTS: Tuple[Intent, ...] = (Intent.GIVE_FEEDBACK,)


class Verdict(_Named):
    """What a patient said of an answer (the `verdict` entity of give_feedback)."""

    HELPFUL = "helpful"
    NOT_HELPFUL = "not_helpful"


# The entities of give_feedback: the verdict, and what was missing (one line).
VERDICT_ENTITY = "verdict"
COMMENT_ENTITY = "comment"
FEEDBACK_ENTITIES: Tuple[str, ...] = (VERDICT_ENTITY, COMMENT_ENTITY)
# A knowledge-base topic `x` is the intent `ask_x`.
TOPIC_INTENT_PREFIX = "ask_"


def topic_intent(topic_id: str) -> str:
    return TOPIC_INTENT_PREFIX + topic_id


# Keys the NLU adds to a parsed message (and so to the tracker's user event):
# the symptom assessment, and the topics of the questions a message asks
# (at most MAX_TOPICS; the first is the message's intent).
TRIAGE_KEY = "triage"
TOPICS_KEY = "topics"
# Whether the message names the article's subject (Botox, injections...), and
# whether it speaks of the treatment at all (the subject, a treated area or a
# treatment word: "my smile is lopsided since the lip flip"; not when another
# cause is named, OTHER_CAUSE_KEY).
SUBJECT_KEY = "about_subject"
TREATMENT_KEY = "about_treatment"
# Whether the message names another cause of a symptom (data/knowledge_base.yml
# `other_causes`: "after eating prawns") and not the subject.
OTHER_CAUSE_KEY = "other_cause"
# The `not_covered` entry (data/knowledge_base.yml) a message asks about and
# the article does not answer ("how long does it last?"), named in the reply.
NOT_COVERED_KEY = "not_covered"
MAX_TOPICS = 2

# Conversations of the Telegram channel are stored as "telegram-<chat id>";
# REST refuses such sender ids so it can neither read nor write them.
TELEGRAM_SENDER_PREFIX = "telegram-"

# Metadata of a `session_started` event that only bounds a long session's
# cost (channels/sessions.py): the same conversation goes on, and the review
# counts it as one.
CONTINUED_SESSION = "botox_continued"

# The payload's keys (docs/payload.md), in the order render() writes them.
PAYLOAD_FIELDS: Tuple[str, ...] = (
    "type",
    "topic",
    "topics",
    "sources",
    "escalation",
    "text",
    "answer",
    "advice",
    "suggestions",
    "clinic",
)
SOURCE_FIELDS: Tuple[str, ...] = ("document", "paragraph", "sentence", "quote")
CLINIC_FIELDS: Tuple[str, ...] = ("name", "phone", "hours", "booking_url", "email", "emergency_number")
