"""The reply to a symptom report (issue 3, docs/triage.md).

The NLU component (triage.component.TriageClassifier) attaches
`message["triage"]` (level, symptoms, about, cite); this module turns it into
a `Reply` of type "triage":

  - escalation: the policy's escalation for the level (emergency -> "emergency",
    clinic -> "clinic", mild -> "routine");
  - advice: the clinic's (clinic.yml) for emergency and clinic, the policy's own
    clinic-owned text for mild; render() puts emergency advice first;
  - answer: the policy's text for the level and the symptoms understood (clinic
    policy, not the article's claim, so not held to faq.faithfulness; the
    policy validator refuses a level text that names the article);
  - sources: the article's sentences the policy cites for those symptoms,
    verbatim from the knowledge base, shown after the advice;
  - suggestions: talk to the clinic (and, below emergency, the article's topic).
"""

import logging
from typing import Dict, List, Optional

from faq.clinic import Clinic
from faq.contract import Escalation, ReplyType, TriageLevel
from faq.knowledge_base import ButtonKey, KnowledgeBase, Quote, ReplyKey
from faq.replies import Reply, topic_button
from triage.policy import Policy, load_policy, parse_cite

logger = logging.getLogger(__name__)

# A report the NLU classified as `report_symptom` without a symptom the policy
# knows ("something is wrong after my botox"): ask the clinic today, and name
# the emergency signs (the knowledge base's `unknown_symptom` reply). Clinic
# policy, not the article.
UNKNOWN_SYMPTOM_LEVEL = TriageLevel.CLINIC


def cited_quotes(kb: KnowledgeBase, cites: List[str]) -> List[Quote]:
    """The knowledge-base quotes for the policy's cites, without repeats."""
    quotes: List[Quote] = []
    seen = set()
    for cite in cites:
        topic_id, where = parse_cite(cite)
        try:
            topic = kb.topic(topic_id)
        except KeyError:
            continue
        for quote in topic.quotes:
            if where and (quote.paragraph, quote.sentence) != where:
                continue
            if (quote.paragraph, quote.sentence) not in seen:
                seen.add((quote.paragraph, quote.sentence))
                quotes.append(quote)
    return quotes


def _cites_for(policy: Policy, triage: Dict) -> List[str]:
    if triage.get("cite"):
        return list(triage["cite"])
    cites: List[str] = []
    for group_id in triage.get("symptoms") or []:
        try:
            group = policy.group(group_id)
        except KeyError:
            continue
        cites += [c for c in group.cite if c not in cites]
    return cites


def _sentence_list(labels: List[str]) -> str:
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def _without_policy(kb: KnowledgeBase, triage: Optional[Dict]) -> Reply:
    """The policy file could not be read: still escalate, with clinic.yml's advice."""
    escalation = (triage or {}).get("escalation")
    if escalation not in list(Escalation) or escalation == Escalation.NONE:
        emergency = (triage or {}).get("level") == TriageLevel.EMERGENCY
        escalation = Escalation.EMERGENCY if emergency else Escalation.CLINIC
    return Reply(
        type=ReplyType.TRIAGE,
        answer=kb.reply(ReplyKey.UNKNOWN_SYMPTOM),
        escalation=escalation,
        suggestions=[kb.suggestion(ButtonKey.HANDOFF)],
    )


def triage_reply(kb: KnowledgeBase, clinic: Clinic, triage: Optional[Dict], policy: Optional[Policy] = None) -> Reply:
    if policy is None:
        try:
            policy = load_policy()
        except Exception:
            logger.exception("triage: policy could not be loaded; generic triage reply")
            return _without_policy(kb, triage)
    level_name = (triage or {}).get("level")
    if triage is None or level_name not in list(TriageLevel):
        level = policy.levels[UNKNOWN_SYMPTOM_LEVEL]
        return Reply(
            type=ReplyType.TRIAGE,
            answer=kb.reply(ReplyKey.UNKNOWN_SYMPTOM),
            escalation=level.escalation,
            suggestions=[kb.suggestion(ButtonKey.HANDOFF)],
        )
    level = policy.levels[level_name]
    labels = list(triage.get("labels") or [])
    answer = level.answer
    if labels:
        answer += f" You mentioned: {_sentence_list(labels)}."
    if triage.get("about") == "other" and policy.other_person_note:
        answer += " " + policy.other_person_note
    cites = _cites_for(policy, triage)
    quotes = cited_quotes(kb, cites)
    topic = parse_cite(cites[0])[0] if quotes else None
    suggestions = [kb.suggestion(ButtonKey.HANDOFF)]
    if level_name != TriageLevel.EMERGENCY and topic:
        suggestions.append(topic_button(kb, topic))
    return Reply(
        type=ReplyType.TRIAGE,
        answer=answer,
        escalation=level.escalation,
        topic=topic,
        sources=quotes,
        suggestions=suggestions,
        advice=clinic.fill(level.advice) if level.advice else None,
    )
