"""Answer feedback: the messages the buttons send, what Rasa's entities give
back, and the reply (no Rasa server)."""

import json
import re

import pytest

from faq.contract import Intent, ReplyType
from faq.dialogue import Conversation, respond, respond_to_parse
from faq.feedback import (
    MAX_COMMENT_CHARS,
    Feedback,
    clean_comment,
    comment_in,
    feedback_from_entities,
    feedback_message,
)
from faq.replies import render

# Rasa's pattern for "/intent{entities}" (YAMLStoryReader._regex_message_pattern).
RASA_INTENT_MESSAGE = re.compile(r"^/(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>{.+})?(?P<rest>.*)$")


def parsed(message):
    """What Rasa's RegexMessageHandler makes of a feedback message."""
    match = RASA_INTENT_MESSAGE.match(message)
    entities = [{"entity": k, "value": v} for k, v in json.loads(match["entities"]).items()]
    return {"text": message, "intent": {"name": match["intent"], "confidence": 1.0}, "entities": entities}


@pytest.mark.parametrize(
    "verdict, comment, expected",
    [
        ("helpful", "", '/give_feedback{"verdict":"helpful"}'),
        ("not_helpful", "", '/give_feedback{"verdict":"not_helpful"}'),
        (
            "not_helpful",
            ' the "price"\nper area ',
            r'/give_feedback{"verdict":"not_helpful","comment":"the \"price\" per area"}',
        ),
    ],
)
def test_feedback_messages_are_rasa_intent_syntax(verdict, comment, expected):
    message = feedback_message(verdict, comment)
    assert message == expected
    match = RASA_INTENT_MESSAGE.match(message)
    assert match["intent"] == Intent.GIVE_FEEDBACK and not match["rest"]
    assert feedback_from_entities(parsed(message)["entities"]) == Feedback(verdict, clean_comment(comment))


def test_a_comment_is_one_trimmed_line_of_at_most_200_characters():
    assert clean_comment(" a\n\tb  c ") == "a b c"
    assert len(clean_comment("x" * 500)) == MAX_COMMENT_CHARS
    long = parsed(feedback_message("not_helpful", "y " * 300))
    assert feedback_from_entities(long["entities"]).comment == clean_comment("y " * 300)


def test_an_unknown_verdict_is_none_and_a_wrong_one_is_refused():
    assert feedback_from_entities([{"entity": "verdict", "value": "great"}]) == Feedback(None, "")
    assert feedback_from_entities(None) == Feedback()
    with pytest.raises(ValueError):
        feedback_message("great")


def turn_for(kb, message, conv):
    return respond_to_parse(kb, parsed(message), conv, lambda triage: pytest.fail("not a symptom report"))


def test_helpful_is_thanked_with_the_answers_follow_ups_and_keeps_the_conversation(kb, clinic):
    conv = Conversation(last_topic="safety", shown_topics=("safety",))
    turn = turn_for(kb, feedback_message("helpful"), conv)
    _, payload = render(turn.reply, clinic)
    assert payload["type"] == ReplyType.SMALLTALK and payload["answer"] == kb.reply("feedback_thanks")
    assert payload["topic"] is None and payload["sources"] == []
    assert {"title": "Tell me more", "payload": "/tell_me_more"} in payload["suggestions"]
    assert (turn.last_topic, turn.shown_topics) == ("safety", ("safety",))


def test_not_helpful_asks_what_was_missing_then_a_comment_gets_the_clinics_contact(kb, clinic):
    conv = Conversation(last_topic="stopping", shown_topics=("stopping",))
    asked = turn_for(kb, feedback_message("not_helpful"), conv)
    assert asked.reply.answer == kb.reply("feedback_ask_comment") and not asked.reply.suggestions
    thanked = turn_for(kb, feedback_message("not_helpful", "how long it lasts"), conv)
    text, payload = render(thanked.reply, clinic)
    assert clinic.contact["phone"] in text
    assert payload["suggestions"] == [kb.suggestion("handoff")]
    assert (thanked.last_topic, thanked.shown_topics) == ("stopping", ("stopping",))


def test_feedback_before_any_answer_is_still_thanked(kb):
    turn = respond(kb, "give_feedback", "/give_feedback", Conversation(), lambda t: pytest.fail("no symptom"))
    assert turn.reply.answer == kb.reply("feedback_thanks") and not turn.reply.suggestions


def test_a_symptom_in_a_comment_gets_the_symptom_reply(kb):
    """The triage in Rasa's NLU reads the comment too: an emergency wins over the thanks."""
    parse = parsed(feedback_message("not_helpful", "now I can't breathe"))
    parse["triage"] = {"level": "emergency"}
    turn = respond_to_parse(kb, parse, Conversation(last_topic="safety"), lambda triage: "EMERGENCY REPLY")
    assert turn.reply == "EMERGENCY REPLY"


def test_the_comment_of_a_feedback_message_for_the_triage():
    assert comment_in(feedback_message("not_helpful", " now  I can't\nbreathe ")) == "now I can't breathe"
    for text in (feedback_message("helpful"), "/give_feedback{broken", "/ask_safety", "what was missing?", ""):
        assert comment_in(text) is None
