"""docs/payload.md and the code cannot drift: the documented payload is the rendered one."""

import re

import pytest

from faq.contract import PAYLOAD_FIELDS, SOURCE_FIELDS, Escalation, Intent, ReplyType
from faq.dialogue import Conversation, respond
from faq.replies import render
from faq.settings import PROJECT_ROOT

# The reply's part of the document (the request is described before it).
DOC = (PROJECT_ROOT / "docs" / "payload.md").read_text(encoding="utf-8").split("## The reply", 1)[1]
DOCUMENTED = re.findall(r"^\| `([a-z_\[\].]+)` \|", DOC, flags=re.M)


def test_the_documented_fields_are_the_contracts():
    top = [f for f in DOCUMENTED if "." not in f]
    sources = [f.split(".")[1] for f in DOCUMENTED if f.startswith("sources[].")]
    assert top == list(PAYLOAD_FIELDS) and sources == list(SOURCE_FIELDS)


@pytest.mark.parametrize("enum, field", [(ReplyType, "type"), (Escalation, "escalation")])
def test_the_documented_values_are_the_enums(enum, field):
    row = next(line for line in DOC.splitlines() if line.startswith(f"| `{field}` |"))
    assert re.findall(r'`"([a-z_]+)"`', row) == [e.value for e in enum]


def test_every_rendered_payload_has_exactly_the_contracts_fields(kb, clinic, symptom_reply):
    for intent in ["ask_safety", Intent.GREET, Intent.OUT_OF_SCOPE, Intent.REPORT_SYMPTOM]:
        turn = respond(kb, intent, "is it safe?", Conversation(), symptom_reply, about_subject=True)
        _, payload = render(turn.reply, clinic)
        assert tuple(payload) == PAYLOAD_FIELDS
        assert all(tuple(source) == SOURCE_FIELDS for source in payload["sources"])


def test_a_topic_id_may_not_collide_with_a_conversation_intent(kb):
    import dataclasses

    from faq.article import load_article
    from faq.knowledge_base import problems

    clash = dataclasses.replace(kb.topics[0], id="source")  # its intent would be ask_source
    found = problems(dataclasses.replace(kb, topics=(clash,) + kb.topics[1:]), load_article())
    assert any("ask_source" in problem and "conversation intent" in problem for problem in found)
