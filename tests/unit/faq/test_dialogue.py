"""Which reply each message gets, and what the patient reads (no Rasa server)."""

import pytest

from faq.dialogue import Conversation, respond
from faq.knowledge_base import ReplyKey
from faq.replies import render
from faq.settings import SETTINGS

MAX_MESSAGE_CHARS = SETTINGS.max_message_chars


def reply_for(kb, clinic, intent, text="a question", conv=Conversation()):
    turn = respond(kb, intent, text, conv, lambda triage: pytest.fail("not a symptom report"))
    text_out, payload = render(turn.reply, clinic)
    return turn, text_out, payload


def test_topic_answer_quotes_the_article_verbatim_with_numbers(kb, clinic, article):
    turn, text, payload = reply_for(kb, clinic, "ask_common_side_effects")
    assert payload["type"] == "answer" and payload["topic"] == "common_side_effects"
    assert payload["sources"][0] == {
        "document": "the-risks-of-botox.txt",
        "paragraph": 2,
        "sentence": 1,
        "quote": "You may experience redness, bruising, bleeding, or swelling.",
    }
    for source in payload["sources"]:
        assert article.sentence(source["paragraph"], source["sentence"]) == source["quote"]
        assert source["quote"] in text
    assert "(paragraph 2, sentence 1)" in text
    assert payload["escalation"] == "routine"
    assert payload["advice"] and payload["advice"] in text and clinic.contact["phone"] in payload["advice"]
    assert turn.last_topic == "common_side_effects"


@pytest.mark.parametrize("level", ["none", "routine", "clinic"])
def test_every_escalation_level_gets_fitting_advice(kb, clinic, level):
    topic = next(t for t in kb.topics if t.escalation == level)
    _, text, payload = reply_for(kb, clinic, topic.intent)
    assert payload["escalation"] == level
    if level == "none":
        assert payload["advice"] is None
    else:
        assert text.endswith(payload["advice"])


def test_serious_complications_tell_the_patient_to_call_the_clinic(kb, clinic):
    _, text, payload = reply_for(kb, clinic, "ask_serious_complications")
    assert payload["escalation"] == "clinic"
    assert "today" in payload["advice"] and clinic.contact["phone"] in text


def test_where_does_it_say_that_shows_the_quotes_of_the_last_answer(kb, clinic):
    _, _, payload = reply_for(kb, clinic, "ask_source", conv=Conversation(last_topic="stopping"))
    assert payload["topic"] == "stopping"
    assert [s["paragraph"] for s in payload["sources"]] == [3]
    assert "overnight" in payload["sources"][0]["quote"]


def test_tell_me_more_moves_to_the_next_related_topic_not_yet_shown(kb, clinic):
    conv = Conversation(last_topic="who_should_inject", shown_topics=("who_should_inject",))
    turn, text, payload = reply_for(kb, clinic, "tell_me_more", conv=conv)
    assert payload["topic"] == kb.topic("who_should_inject").related[0]
    assert text.startswith(kb.replies["more_intro"])
    assert turn.shown_topics == ("who_should_inject", payload["topic"])


def test_tell_me_more_with_nothing_left_says_so_and_gives_the_clinic_contact(kb, clinic):
    last = kb.topic("stopping")
    conv = Conversation(last_topic=last.id, shown_topics=(last.id, *last.related))
    _, text, payload = reply_for(kb, clinic, "tell_me_more", conv=conv)
    assert text.startswith(kb.replies["no_more"]) and clinic.contact["phone"] in text
    assert payload["topic"] == last.id and payload["sources"] == []


def test_follow_ups_without_a_previous_answer_say_so_and_cite_nothing(kb, clinic):
    for intent in ("tell_me_more", "ask_source"):
        _, _, payload = reply_for(kb, clinic, intent)
        assert payload["sources"] == [] and payload["topic"] is None


@pytest.mark.parametrize("intent", ["out_of_scope", "nlu_fallback", "some_unknown_intent"])
def test_uncovered_questions_get_an_honest_fallback_with_the_clinic_contact(kb, clinic, intent):
    _, text, payload = reply_for(kb, clinic, intent, conv=Conversation(last_topic="safety"))
    assert payload["type"] == "fallback" and payload["sources"] == [] and payload["topic"] is None
    assert "doesn't cover" in text and clinic.contact["phone"] in text


def test_fallback_keeps_the_context_for_a_later_follow_up(kb):
    turn = respond(
        kb, "out_of_scope", "pregnant?", Conversation(last_topic="safety", shown_topics=("safety",)), pytest.fail
    )
    assert turn.last_topic == "safety" and turn.shown_topics == ("safety",)


def test_greeting_says_it_is_an_automated_assistant_not_a_doctor(kb, clinic):
    _, text, payload = reply_for(kb, clinic, "greet")
    assert payload["type"] == "smalltalk"
    assert "automated assistant" in text and "not a doctor" in text and clinic.contact["name"] in text


def test_handoff_gives_every_way_to_reach_the_clinic(kb, clinic):
    _, text, payload = reply_for(kb, clinic, "handoff")
    assert payload["type"] == "handoff"
    for field in ("phone", "email", "booking_url", "hours"):
        assert clinic.contact[field] in text


@pytest.mark.parametrize("text", ["", "   ", "x" * (MAX_MESSAGE_CHARS + 1)])
def test_empty_or_too_long_messages_get_a_polite_reply(kb, clinic, text):
    _, reply_text, payload = reply_for(kb, clinic, "ask_safety", text=text)
    assert payload["type"] == "fallback" and payload["sources"] == []
    assert reply_text


def _turn(kb, intent, text, conv=Conversation(), **parse):
    return respond(kb, intent, text, conv, lambda triage: pytest.fail("not a symptom report"), **parse)


def test_two_questions_in_one_message_get_both_answers_and_both_quote_sets(kb, clinic):
    turn = _turn(
        kb,
        "ask_who_should_inject",
        "can a beautician do it and is it safe?",
        topics=["who_should_inject", "safety"],
        about_subject=True,
    )
    _, payload = render(turn.reply, clinic)
    assert payload["topic"] == "who_should_inject" and payload["topics"] == ["who_should_inject", "safety"]
    quoted = {(s["paragraph"], s["sentence"]) for s in payload["sources"]}
    for topic in ("who_should_inject", "safety"):
        assert {(q.paragraph, q.sentence) for q in kb.topic(topic).quotes} <= quoted
    assert kb.topic("who_should_inject").answer in payload["answer"] and kb.topic("safety").answer in payload["answer"]
    assert turn.last_topic == "who_should_inject" and set(turn.shown_topics) == {"who_should_inject", "safety"}


def test_the_quote_that_answers_the_exact_question_comes_first(kb, clinic):
    turn = _turn(kb, "ask_who_should_inject", "can a nurse do my botox?", about_subject=True)
    _, payload = render(turn.reply, clinic)
    assert "nurse" in payload["sources"][0]["quote"]


def test_a_follow_up_on_the_same_topic_says_only_what_is_new(kb, clinic):
    first = _turn(kb, "ask_who_should_inject", "who should inject botox?", about_subject=True)
    again = _turn(
        kb,
        "ask_who_should_inject",
        "what about a nurse?",
        Conversation(first.last_topic, first.shown_topics),
        about_subject=False,
    )
    first_text, _ = render(first.reply, clinic)
    text, payload = render(again.reply, clinic)
    assert payload["type"] == "answer" and [s["paragraph"] for s in payload["sources"]] == [3]
    assert "nurse" in payload["sources"][0]["quote"] and len(text) < len(first_text) / 2


def test_a_topic_is_not_answered_for_a_message_that_is_not_about_botox(kb, clinic):
    turn = _turn(kb, "ask_price_vs_result", "can i move some money between my two accounts", about_subject=False)
    _, payload = render(turn.reply, clinic)
    assert payload["type"] == "fallback" and payload["sources"] == []


def test_a_non_emergency_symptom_in_a_message_not_about_botox_is_not_triaged(kb, clinic):
    triage = {"level": "mild", "symptoms": ["redness"], "labels": ["redness"]}
    turn = respond(
        kb,
        "report_symptom",
        "reserve a table for 5 at red robin",
        Conversation(),
        lambda t: pytest.fail("triaged"),
        triage=triage,
        about_subject=False,
        about_treatment=False,
    )
    text, payload = render(turn.reply, clinic)
    assert payload["type"] == "fallback" and clinic.contact["phone"] in text and "112" in text


def test_an_emergency_is_triaged_whatever_the_message_is_about(kb, clinic, symptom_reply):
    triage = {"level": "emergency", "symptoms": ["breathing"], "labels": ["trouble breathing"]}
    turn = respond(
        kb, "report_symptom", "i can't breathe", Conversation(), symptom_reply, triage=triage, about_subject=False
    )
    assert turn.reply.escalation == "emergency"


@pytest.mark.parametrize(
    "intent, text",
    [("nlu_fallback", "a question"), ("tell_me_more", "tell me more"), ("greet", ""), ("greet", "x" * 3000)],
    ids=["not covered", "no previous answer", "empty", "too long"],
)
def test_every_fallback_ends_with_the_emergency_line(kb, clinic, intent, text):
    _, text_out, payload = reply_for(kb, clinic, intent, text=text)
    assert payload["type"] == "fallback"
    assert text_out.endswith(
        f"If you feel seriously unwell after an injection, call {clinic.contact['emergency_number']} now."
    )


def test_a_question_the_article_does_not_answer_is_named_in_the_honest_reply(kb, clinic):
    turn = respond(
        kb, "nlu_fallback", "how long does botox last?", Conversation(), lambda t: None, not_covered="duration"
    )
    text, payload = render(turn.reply, clinic)
    assert payload["type"] == "fallback" and payload["sources"] == [] and payload["topic"] is None
    assert "doesn't cover how long Botox lasts" in text and "{" not in text
    assert clinic.contact["phone"] in text and text.endswith(f"call {clinic.contact['emergency_number']} now.")


def test_an_unknown_not_covered_entry_still_gets_the_plain_honest_reply(kb, clinic):
    turn = respond(kb, "nlu_fallback", "a question", Conversation(), lambda t: None, not_covered="no_such_entry")
    assert turn.reply.answer.startswith(kb.reply(ReplyKey.FALLBACK))


def _report(kb, symptom_reply, level, text, topics):
    triage = {"level": level, "symptoms": ["stiffness"], "labels": ["muscle stiffness"]}
    conv = Conversation()
    return respond(kb, "report_symptom", text, conv, symptom_reply, triage=triage, topics=topics, about_subject=True)


def test_a_report_that_asks_a_question_gets_the_advice_first_then_the_answer(kb, clinic, symptom_reply):
    text = "my forehead feels stiff since the jabs on tuesday. is that a known side effect?"
    turn = _report(kb, symptom_reply, "clinic", text, ["common_side_effects"])
    chat, payload = render(turn.reply, clinic)
    assert payload["type"] == "triage" and payload["escalation"] == "clinic"
    assert payload["topic"] == "common_side_effects" and payload["topics"] == ["common_side_effects"]
    topic = kb.topic("common_side_effects")
    assert payload["answer"].index("You mentioned: muscle stiffness") < payload["answer"].index(topic.answer)
    assert {q.text for q in topic.quotes} <= {s["quote"] for s in payload["sources"]}
    assert len({(s["paragraph"], s["sentence"]) for s in payload["sources"]}) == len(payload["sources"])
    assert turn.last_topic == "common_side_effects"


def test_a_report_that_asks_what_the_article_does_not_cover_gets_the_advice_then_the_honest_reply(
    kb, clinic, symptom_reply
):
    triage = {"level": "mild", "symptoms": ["local_swelling"], "labels": ["swelling"]}

    def reply(text):
        conv = Conversation()
        kwargs = dict(triage=triage, topics=[], about_subject=True, not_covered="aftercare")
        return render(respond(kb, "report_symptom", text, conv, symptom_reply, **kwargs).reply, clinic)[1]

    payload = reply("my face is swollen around the injection site 2 days after botox. should i put ice on it?")
    assert payload["type"] == "triage" and payload["escalation"] == "routine"
    honest = "doesn't cover " + kb.uncovered("aftercare").about
    assert payload["answer"].index("You mentioned: swelling") < payload["answer"].index(honest)
    # Without a question, only the triage reply.
    assert honest not in reply("my face is swollen around the injection site")["answer"]


def test_a_report_without_a_question_or_an_emergency_gets_only_the_triage_reply(kb, clinic, symptom_reply):
    plain = _report(kb, symptom_reply, "clinic", "my forehead feels stiff since tuesday", ["common_side_effects"])
    assert kb.topic("common_side_effects").answer not in plain.reply.answer
    urgent = _report(kb, symptom_reply, "emergency", "i can't breathe, is that a side effect?", ["common_side_effects"])
    assert urgent.reply.escalation == "emergency" and kb.topic("common_side_effects").answer not in urgent.reply.answer
    number = clinic.contact["emergency_number"]
    assert render(urgent.reply, clinic)[0].startswith(f"Call the emergency number {number} now")


def test_an_emergency_with_another_cause_named_gets_the_emergency_number_not_a_botox_triage(kb, clinic):
    triage = {"level": "emergency", "symptoms": ["allergic_reaction"], "labels": ["signs of an allergic reaction"]}
    text = "hives all over my arms after eating prawns, should i take piriton"
    never = lambda t: pytest.fail("triaged")  # noqa: E731
    flags = {"triage": triage, "about_subject": False, "other_cause": True}
    turn = respond(kb, "report_symptom", text, Conversation(), never, **flags)
    chat, payload = render(turn.reply, clinic)
    assert payload["type"] == "fallback" and payload["sources"] == []
    assert payload["escalation"] == "emergency"  # the channels' red banner and call button
    assert chat.startswith("What you describe can need urgent help")
    assert f"call {clinic.contact['emergency_number']} now" in payload["advice"]
    assert "only answer questions about Botox" in payload["answer"]


def test_an_emergency_that_says_nothing_of_the_treatment_gets_the_emergency_number_not_a_botox_triage(kb, clinic):
    triage = {"level": "emergency", "symptoms": ["chest_pain"], "labels": ["chest pain"]}
    never = lambda t: pytest.fail("triaged")  # noqa: E731
    flags = {"triage": triage, "about_subject": False, "about_treatment": False, "other_cause": False}
    turn = respond(kb, "report_symptom", "my chest feels tight when i run in cold air", Conversation(), never, **flags)
    chat, payload = render(turn.reply, clinic)
    assert (payload["type"], payload["escalation"]) == ("fallback", "emergency")
    assert chat.startswith("What you describe can need urgent help")


def test_an_emergency_in_a_conversation_about_botox_is_triaged_whatever_else_it_names(kb, symptom_reply):
    triage = {"level": "emergency", "symptoms": ["breathing"], "labels": ["trouble breathing"]}
    conv = Conversation(last_topic="safety")
    text = "i can't breathe, i ate prawns an hour ago"
    flags = {"triage": triage, "about_subject": False, "other_cause": True}
    turn = respond(kb, "report_symptom", text, conv, symptom_reply, **flags)
    assert turn.reply.type == "triage" and turn.reply.escalation == "emergency"


def test_a_symptom_not_the_treatments_does_not_hide_the_question(kb, clinic):
    """A symptom word in a question from someone who never had the treatment is not a report to triage."""
    text = "I've never had anything done and the word botox terrifies me. What actually is it?"
    triage = {"level": "clinic", "symptoms": ["headache"], "labels": ["headache"]}
    never = lambda t: pytest.fail("triaged")  # noqa: E731
    flags = {"triage": triage, "topics": ["what_is_botox"], "about_subject": True, "about_treatment": False}
    turn = respond(kb, "report_symptom", text, Conversation(), never, **flags)
    _, payload = render(turn.reply, clinic)
    assert (payload["type"], payload["topic"]) == ("answer", "what_is_botox") and payload["sources"]
