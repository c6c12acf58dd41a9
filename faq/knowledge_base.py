"""Loads data/knowledge_base.yml and checks it against the article.

`load_knowledge_base()` refuses a knowledge base whose quotes are not the
article's sentences, or whose answers say what their quotes do not
(faq.faithfulness), so neither the action server nor training can start from
a misquote or an added claim. It is also where every patient-facing text
outside the article lives (`replies:` and `buttons:`), read by the action
server, the channels and triage alike; the loader refuses a knowledge base
missing one the code needs (ReplyKey, ButtonKey) or using a placeholder
nothing fills, so a text can't go missing in front of a patient.
"""

import string
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from faq.article import Article, load_article
from faq.contract import CLINIC_FIELDS, TOPIC_INTENT_PREFIX, Escalation, Intent, _Named, topic_intent
from faq.faithfulness import paraphrase_problems, unfaithful
from faq.questions import GAP, mentions_any, without_any
from faq.settings import KB_PATH

# Replies shown with an article answer or in its place, which speak for the
# article ("Here is where the article says it:"): held to the faithfulness
# check with no quotes of their own, so they may only use paraphrase words.
# The other replies speak for the assistant or the clinic (greeting, contact).
ARTICLE_REPLIES = ("sources_intro", "more_intro", "no_more", "same_topic_intro")


class KnowledgeBaseError(ValueError):
    pass


class ReplyKey(_Named):
    """The `replies:` the code uses; placeholders are clinic.yml's fields."""

    # faq/dialogue.py: smalltalk (the intent's name), follow-ups, fallbacks
    GREET = "greet"
    GOODBYE = "goodbye"
    THANKS = "thanks"
    BOT_CHALLENGE = "bot_challenge"
    HANDOFF = "handoff"
    FALLBACK = "fallback"
    NO_PREVIOUS_ANSWER = "no_previous_answer"
    NO_MORE = "no_more"
    ASK_CLINIC = "ask_clinic"
    SOURCES_INTRO = "sources_intro"
    MORE_INTRO = "more_intro"
    # a second question's answer, and the same topic asked again ("what about a nurse?")
    ALSO_INTRO = "also_intro"
    SAME_TOPIC_INTRO = "same_topic_intro"
    # a symptom report's question, answered after the advice
    QUESTION_INTRO = "question_intro"
    # a question about something the article does not answer ({about}: data/knowledge_base.yml not_covered)
    NOT_COVERED = "not_covered"
    # a symptom below the emergency level in a message not about the treatment,
    # and an emergency's symptoms with another cause named
    SYMPTOM_ELSEWHERE = "symptom_elsewhere"
    EMERGENCY_ELSEWHERE = "emergency_elsewhere"
    EMERGENCY_ELSEWHERE_ADVICE = "emergency_elsewhere_advice"
    BAD_INPUT = "bad_input"
    TOO_LONG = "too_long"
    # answer feedback (faq/feedback.py): thanks; after "not helpful", what was missing?
    FEEDBACK_THANKS = "feedback_thanks"
    FEEDBACK_ASK_COMMENT = "feedback_ask_comment"
    FEEDBACK_COMMENT_THANKS = "feedback_comment_thanks"
    # every fallback and refusal ends with it (with_emergency_line)
    EMERGENCY_LINE = "emergency_line"
    # channels/guarded.py: refusals and the safe reply ({max_chars}: the length limit)
    REFUSED_TOO_LONG = "refused_too_long"
    REFUSED_TOO_LONG_EMERGENCY = "refused_too_long_emergency"
    REFUSED_RATE_LIMITED = "refused_rate_limited"
    REFUSED_RATE_LIMITED_EMERGENCY = "refused_rate_limited_emergency"
    FAILED = "failed"
    FAILED_EMERGENCY = "failed_emergency"
    # triage/reply.py: a symptom report naming no symptom the policy knows
    UNKNOWN_SYMPTOM = "unknown_symptom"
    # channels/telegram.py: the channel's own messages
    TELEGRAM_HELP_TITLE = "telegram_help_title"
    TELEGRAM_HELP = "telegram_help"
    TELEGRAM_HELP_EMERGENCY = "telegram_help_emergency"
    TELEGRAM_HELP_CONTACT = "telegram_help_contact"
    TELEGRAM_MEDIA = "telegram_media"
    TELEGRAM_EDITED = "telegram_edited"
    TELEGRAM_UNKNOWN_COMMAND = "telegram_unknown_command"
    TELEGRAM_GROUP = "telegram_group"
    TELEGRAM_BUTTON_UNUSABLE = "telegram_button_unusable"
    TELEGRAM_CLINIC_TITLE = "telegram_clinic_title"
    TELEGRAM_CLINIC = "telegram_clinic"
    # the hint in the reply field Telegram opens after "Not helpful" (ForceReply)
    TELEGRAM_FEEDBACK_PLACEHOLDER = "telegram_feedback_placeholder"
    # the command menu (channels/telegram_commands.py)
    TELEGRAM_COMMAND_START = "telegram_command_start"
    TELEGRAM_COMMAND_HELP = "telegram_command_help"
    TELEGRAM_COMMAND_SOURCES = "telegram_command_sources"
    TELEGRAM_COMMAND_CLINIC = "telegram_command_clinic"


class ButtonKey(_Named):
    """The `buttons:` titles the code uses: suggestion buttons send `/<key>`
    as the user's message; `book_visit` opens clinic.yml's booking_url,
    `open_private_chat` the bot's private chat (Telegram); the feedback
    buttons under an answer (Telegram) send faq.feedback's messages."""

    TELL_ME_MORE = "tell_me_more"
    ASK_SOURCE = "ask_source"
    HANDOFF = "handoff"
    BOOK_VISIT = "book_visit"
    OPEN_PRIVATE_CHAT = "open_private_chat"
    FEEDBACK_HELPFUL = "feedback_helpful"
    FEEDBACK_NOT_HELPFUL = "feedback_not_helpful"
    # Telegram's starter buttons on /start: topic intents (/ask_<topic id>)
    ASK_SAFETY = "ask_safety"
    ASK_COMMON_SIDE_EFFECTS = "ask_common_side_effects"
    ASK_WHO_SHOULD_INJECT = "ask_who_should_inject"
    ASK_STOPPING = "ask_stopping"


# Placeholders a reply may use besides clinic.yml's fields.
EXTRA_PLACEHOLDERS = ("max_chars", "about")


@dataclass(frozen=True)
class Quote:
    document: str
    paragraph: int
    sentence: int
    text: str

    def as_source(self) -> Dict[str, Any]:
        return {
            "document": self.document,
            "paragraph": self.paragraph,
            "sentence": self.sentence,
            "quote": self.text,
        }


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    answer: str
    quotes: Tuple[Quote, ...]
    escalation: str
    related: Tuple[str, ...]
    examples: Tuple[str, ...]

    @property
    def intent(self) -> str:
        return topic_intent(self.id)


@dataclass(frozen=True)
class Uncovered:
    """Something patients ask that the article does not answer (`not_covered:`)."""

    id: str
    about: str
    words: Tuple[str, ...]
    unless: Tuple[str, ...] = ()
    # Topics a question is about this, when the message names it anywhere
    # ("I have lupus. Is botox still an option for me?" is not "is it safe?").
    qualifies: Tuple[str, ...] = ()

    def asked_in(self, clause: str) -> bool:
        return mentions_any(clause, self.words) and not (self.unless and mentions_any(clause, self.unless))

    def told_in(self, reply: str) -> str:
        """A reply's text with its {about} placeholder filled."""
        return reply.replace("{about}", self.about)


@dataclass(frozen=True)
class KnowledgeBase:
    document: str
    topics: Tuple[Topic, ...]
    replies: Dict[str, str]
    buttons: Dict[str, str]
    # word -> why an answer may use it without a quote (faq.faithfulness)
    paraphrase_words: Dict[str, str]
    # Words that show a message is about the article's subject (faq.questions.mentions_any).
    subject_words: Tuple[str, ...] = ()
    # Everyday phrases that hold a subject word in another sense ("pins and needles").
    subject_idioms: Tuple[str, ...] = ()
    # The article's own words for its topics ("diluted", "unknown brand"): with a
    # confident topic they make a message about the subject (nlu/focus.py).
    topic_words: Tuple[str, ...] = ()
    # Treated areas and treatment words: a symptom named with one of them is
    # about the treatment even when Botox is not named.
    treated_areas: Tuple[str, ...] = ()
    treatment_words: Tuple[str, ...] = ()
    # Another cause of a symptom ("my new moisturiser made my cheeks red"): not the treatment.
    other_causes: Tuple[str, ...] = ()
    # The treatment denied ("I haven't had anything done"): a symptom is not its reaction.
    no_treatment: Tuple[str, ...] = ()
    # The treatment still to come ("can I get botox if ..."), unless one was already had.
    treatment_to_come: Tuple[str, ...] = ()
    treatment_had: Tuple[str, ...] = ()
    # What the article does not answer, though patients ask it ("how long does it last?").
    not_covered: Tuple[Uncovered, ...] = ()

    def names_subject(self, text: str) -> bool:
        return mentions_any(self._plain(text), self.subject_words)

    def names_subject_itself(self, text: str) -> bool:
        """The subject, not only a treated area that is one of its words ("my forehead")."""
        return mentions_any(self._plain(text), self._subject_itself)

    def _plain(self, text: str) -> str:
        """The text without the idioms that hold a subject word in another sense."""
        return without_any(text, self.subject_idioms) if self.subject_idioms else text

    def names_topic_words(self, text: str) -> bool:
        return mentions_any(text, self.topic_words)

    def names_treatment_word(self, text: str) -> bool:
        return mentions_any(self._plain(text), self.treatment_words)

    def names_other_cause(self, text: str) -> bool:
        """Another cause of a symptom and not the treatment itself ("hives after
        eating prawns", "a bee sting on my eyebrow": a treated area is not the
        treatment), the treatment denied ("I haven't had anything done") or
        still to come with none had ("can I get botox if I have a cold sore?")."""
        if mentions_any(text, self.no_treatment):
            return True
        if mentions_any(text, self.treatment_had):
            return False  # "whenever I drink it dribbles out, I had my lines done 8 days ago"
        if mentions_any(text, self.treatment_to_come):
            return True
        return mentions_any(text, self.other_causes) and not mentions_any(self._plain(text), self._treatment_itself)

    def names_treatment(self, text: str) -> bool:
        """The subject, or a treated area, with no other cause named ("my new
        moisturiser made my cheeks red" is not about the treatment)."""
        named = self.names_subject(text) or mentions_any(self._plain(text), self._areas_and_treatment)
        return named and not self.names_other_cause(text)

    # Derived once per knowledge base (it is loaded once per process).
    @cached_property
    def _subject_itself(self) -> Tuple[str, ...]:
        return tuple(w for w in self.subject_words if w not in self.treated_areas)

    @cached_property
    def _treatment_itself(self) -> Tuple[str, ...]:
        return tuple(w for w in self.subject_words + self.treatment_words if w not in self.treated_areas)

    @cached_property
    def _areas_and_treatment(self) -> Tuple[str, ...]:
        return self.treated_areas + self.treatment_words

    def uncovered_in(self, clause: str) -> Optional[Uncovered]:
        """The first `not_covered` entry the question clause asks about, if any."""
        return next((u for u in self.not_covered if u.asked_in(clause)), None)

    def qualifying(self, text: str, topic_ids: Sequence[str]) -> Optional[Uncovered]:
        """The entry the message names that makes every asked topic a question
        about it (a health condition and "is it safe for me?"), if any."""
        if not topic_ids:
            return None
        return next(
            (u for u in self.not_covered if u.qualifies and set(topic_ids) <= set(u.qualifies) and u.asked_in(text)),
            None,
        )

    def uncovered(self, uncovered_id: Optional[str]) -> Optional[Uncovered]:
        return next((u for u in self.not_covered if u.id == uncovered_id), None)

    def reply(self, key: ReplyKey) -> str:
        """The text of one reply, placeholders not yet filled (Clinic.fill)."""
        return self.replies[key]

    def with_emergency_line(self, key: ReplyKey, separator: str = " ") -> str:
        """A fallback or refusal: the reply, then the emergency line. Whatever
        went wrong, the patient reads where to call if they feel unwell."""
        return self.reply(key) + separator + self.reply(ReplyKey.EMERGENCY_LINE)

    def suggestion(self, key: ButtonKey) -> Dict[str, str]:
        """A suggestion button: its title and the message it sends."""
        return {"title": self.buttons[key], "payload": f"/{key}"}

    def topic(self, topic_id: str) -> Topic:
        for topic in self.topics:
            if topic.id == topic_id:
                return topic
        raise KeyError(topic_id)

    def has_topic(self, topic_id: str) -> bool:
        return any(topic.id == topic_id for topic in self.topics)

    def topic_for_intent(self, intent: Optional[str]) -> Optional[Topic]:
        if not intent or not intent.startswith(TOPIC_INTENT_PREFIX):
            return None
        try:
            return self.topic(intent[len(TOPIC_INTENT_PREFIX) :])
        except KeyError:
            return None


def _parse_topic(raw: Dict[str, Any], document: str) -> Topic:
    return Topic(
        id=raw["id"],
        title=raw["title"],
        answer=" ".join(raw["answer"].split()),
        quotes=tuple(Quote(document, q["paragraph"], q["sentence"], q["text"]) for q in raw["quotes"]),
        escalation=raw["escalation"],
        related=tuple(raw.get("related", [])),
        examples=tuple(raw.get("examples", [])),
    )


def _placeholders(template: str) -> List[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]


def text_problems(kb: KnowledgeBase) -> List[str]:
    """Replies and buttons the code needs but the file lacks, and placeholders nothing fills."""
    found = [f"replies: no {key.value!r} (the code needs it)" for key in ReplyKey if key not in kb.replies]
    found += [f"buttons: no {key.value!r} (the code needs it)" for key in ButtonKey if key not in kb.buttons]
    fillable = set(CLINIC_FIELDS) | set(EXTRA_PLACEHOLDERS)
    for key, text in kb.replies.items():
        try:
            unknown = sorted(set(_placeholders(text)) - fillable)
        except ValueError as error:
            found.append(f"replies: {key!r} is not a valid template ({error})")
            continue
        if unknown:
            found.append(f"replies: {key!r} uses {unknown}; only clinic.yml's fields are filled in")
    return found


def problems(kb: KnowledgeBase, article: Article) -> List[str]:
    """Every way the knowledge base disagrees with the article or itself."""
    found = text_problems(kb)
    ids = [t.id for t in kb.topics]
    for duplicate in {i for i in ids if ids.count(i) > 1}:
        found.append(f"topic id {duplicate!r} is used twice")
    found += _uncovered_problems(kb)
    if kb.document != article.document:
        found.append(f"document {kb.document!r} is not the article {article.document!r}")
    for topic in kb.topics:
        where = f"topic {topic.id!r}"
        if topic.intent in {i.value for i in Intent}:
            found.append(f"{where}: its intent {topic.intent!r} is a conversation intent (faq.contract.Intent)")
        if topic.escalation not in list(Escalation):
            found.append(f"{where}: escalation {topic.escalation!r} not in {[e.value for e in Escalation]}")
        if not topic.quotes:
            found.append(f"{where}: no quotes")
        if len(topic.examples) < 10:
            found.append(f"{where}: {len(topic.examples)} training examples, need at least 10")
        for related in topic.related:
            if related not in ids or related == topic.id:
                found.append(f"{where}: related topic {related!r} does not exist")
        for q in topic.quotes:
            try:
                sentence = article.sentence(q.paragraph, q.sentence)
            except KeyError as missing:
                found.append(f"{where}: {missing.args[0]}")
                continue
            if q.text != sentence:
                found.append(
                    f"{where}: quote at paragraph {q.paragraph} sentence {q.sentence} is not "
                    f"verbatim.\n  quoted:  {q.text}\n  article: {sentence}"
                )
    return found + _faithfulness_problems(kb)


def _uncovered_problems(kb: KnowledgeBase) -> List[str]:
    found = []
    ids = [u.id for u in kb.not_covered]
    for duplicate in {i for i in ids if ids.count(i) > 1}:
        found.append(f"not_covered id {duplicate!r} is used twice")
    for entry in kb.not_covered:
        if not entry.words or not entry.about:
            found.append(f"not_covered {entry.id!r}: needs `about` and `words`")
        for topic_id in entry.qualifies:
            if not kb.has_topic(topic_id):
                found.append(f"not_covered {entry.id!r}: qualifies an unknown topic {topic_id!r}")
        for word in entry.words + entry.unless:
            if word.split()[0] == GAP or word.split()[-1] == GAP:
                found.append(f"not_covered {entry.id!r}: {word!r} starts or ends with {GAP}")
    return found


def _faithfulness_problems(kb: KnowledgeBase) -> List[str]:
    found = paraphrase_problems(kb.paraphrase_words)
    for topic in kb.topics:
        found += unfaithful(f"topic {topic.id!r}", topic.answer, [q.text for q in topic.quotes], kb.paraphrase_words)
    for key in ARTICLE_REPLIES:
        if key not in kb.replies:
            found.append(f"reply {key!r} is missing")
        else:
            found += unfaithful(f"reply {key!r}", kb.replies[key], (), kb.paraphrase_words)
    return found


def parse_knowledge_base(raw: Dict[str, Any]) -> KnowledgeBase:
    document = raw["document"]
    return KnowledgeBase(
        document=document,
        topics=tuple(_parse_topic(t, document) for t in raw["topics"]),
        replies={k: _tidy(v) for k, v in (raw.get("replies") or {}).items()},
        buttons={k: _tidy(v) for k, v in (raw.get("buttons") or {}).items()},
        paraphrase_words={str(k): v for k, v in (raw.get("paraphrase_words") or {}).items()},
        subject_words=tuple(str(w) for w in raw.get("subject_words") or ()),
        subject_idioms=tuple(str(w) for w in raw.get("subject_idioms") or ()),
        topic_words=tuple(str(w) for w in raw.get("topic_words") or ()),
        treated_areas=tuple(str(w) for w in raw.get("treated_areas") or ()),
        treatment_words=tuple(str(w) for w in raw.get("treatment_words") or ()),
        other_causes=tuple(str(w) for w in raw.get("other_causes") or ()),
        no_treatment=tuple(str(w) for w in raw.get("no_treatment") or ()),
        treatment_to_come=tuple(str(w) for w in raw.get("treatment_to_come") or ()),
        treatment_had=tuple(str(w) for w in raw.get("treatment_had") or ()),
        not_covered=tuple(
            Uncovered(
                id=str(u["id"]),
                about=_tidy(u["about"]),
                words=tuple(str(w) for w in u["words"]),
                unless=tuple(str(w) for w in u.get("unless") or ()),
                qualifies=tuple(str(t) for t in u.get("qualifies") or ()),
            )
            for u in raw.get("not_covered") or ()
        ),
    )


def _tidy(text: str) -> str:
    """Single spaces; line breaks only where the text has them (a `|` block)."""
    return "\n".join(" ".join(line.split()) for line in str(text).strip().split("\n"))


@cache
def load_knowledge_base(path: Path = KB_PATH) -> KnowledgeBase:
    kb = parse_knowledge_base(yaml.safe_load(path.read_text(encoding="utf-8")))
    errors = problems(kb, load_article())
    if errors:
        raise KnowledgeBaseError(f"{path}: the knowledge base has problems:\n" + "\n".join(errors))
    return kb
