"""Loads data/knowledge_base.yml and checks it against the article.

`load_knowledge_base()` refuses a knowledge base whose quotes are not the
article's sentences, or whose answers say what their quotes do not
(faq.faithfulness), so neither the action server nor training can start from
a misquote or an added claim.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from faq.article import Article, load_article
from faq.contract import TOPIC_INTENT_PREFIX, Escalation, Intent, topic_intent
from faq.faithfulness import paraphrase_problems, unfaithful
from faq.settings import KB_PATH

# Replies shown with an article answer or in its place, which speak for the
# article ("Here is where the article says it:"): held to the faithfulness
# check with no quotes of their own, so they may only use paraphrase words.
# The other replies speak for the assistant or the clinic (greeting, contact).
ARTICLE_REPLIES = ("sources_intro", "more_intro", "no_more", "same_topic_intro")


class KnowledgeBaseError(ValueError):
    pass


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
class KnowledgeBase:
    document: str
    topics: Tuple[Topic, ...]
    replies: Dict[str, str]
    # word -> why an answer may use it without a quote (faq.faithfulness)
    paraphrase_words: Dict[str, str]
    # Words that show a message is about the article's subject (faq.questions.mentions_any).
    subject_words: Tuple[str, ...] = ()
    # Treated areas and treatment words: a symptom named with one of them is
    # about the treatment even when Botox is not named.
    treatment_words: Tuple[str, ...] = ()

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


def problems(kb: KnowledgeBase, article: Article) -> List[str]:
    """Every way the knowledge base disagrees with the article or itself."""
    found = []
    ids = [t.id for t in kb.topics]
    for duplicate in {i for i in ids if ids.count(i) > 1}:
        found.append(f"topic id {duplicate!r} is used twice")
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
        replies={k: " ".join(v.split()) for k, v in raw["replies"].items()},
        paraphrase_words={str(k): v for k, v in (raw.get("paraphrase_words") or {}).items()},
        subject_words=tuple(str(w) for w in raw.get("subject_words") or ()),
        treatment_words=tuple(str(w) for w in raw.get("treatment_words") or ()),
    )


@cache
def load_knowledge_base(path: Path = KB_PATH) -> KnowledgeBase:
    kb = parse_knowledge_base(yaml.safe_load(path.read_text(encoding="utf-8")))
    errors = problems(kb, load_article())
    if errors:
        raise KnowledgeBaseError("knowledge base does not match the article:\n" + "\n".join(errors))
    return kb
