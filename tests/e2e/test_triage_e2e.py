"""Symptom triage end to end (issue 3): the real Rasa server (with
triage.component.TriageClassifier in its pipeline) and the real action server.
"""

import json
import sqlite3

import pytest
from servers import RasaStack, payloads

from faq.clinic import load_clinic

EMERGENCY_ADVICE = load_clinic().advice("emergency")


@pytest.fixture(scope="module")
def stack():
    with RasaStack(rasa_port=5205, action_port=5255) as running:
        yield running


def first_payload(stack, sender, text):
    items = stack.send(sender, text)
    found = payloads(items)
    assert found, items
    return items, found[0]


def tracker_events(stack, sender):
    db = sqlite3.connect(str(stack.workdir / "conversations.db"))
    try:
        rows = db.execute("SELECT type_name, data FROM events WHERE sender_id = ? ORDER BY id", (sender,)).fetchall()
    finally:
        db.close()
    return [(kind, json.loads(data)) for kind, data in rows]


def test_emergency_report_in_the_second_turn_overrides_the_conversation(stack):
    _, first = first_payload(stack, "triage-e2e-1", "what are the side effects?")
    assert (first["type"], first["topic"]) == ("answer", "common_side_effects")

    items, payload = first_payload(stack, "triage-e2e-1", "I actually have shortness of breath right now")
    assert (payload["type"], payload["escalation"]) == ("triage", "emergency")
    assert payload["text"].startswith(EMERGENCY_ADVICE)
    assert payload["advice"] == EMERGENCY_ADVICE
    # The very first thing the channel shows is the emergency advice.
    assert items[0]["text"].startswith(EMERGENCY_ADVICE)
    # The article's relevant sentence comes after the advice, verbatim.
    quote = (
        "More serious complications include allergic reactions, shortness of breath, and headache or flu-like symptoms."
    )
    assert quote in [s["quote"] for s in payload["sources"]]
    assert payload["text"].index(quote) > payload["text"].index(EMERGENCY_ADVICE)

    # The tracker keeps it for review: the user event's parse data and the slot.
    events = tracker_events(stack, "triage-e2e-1")
    user = [data for kind, data in events if kind == "user"][-1]
    assert user["parse_data"]["intent"]["name"] == "report_symptom"
    assert user["parse_data"]["triage"]["level"] == "emergency"
    assert "breathing" in user["parse_data"]["triage"]["symptoms"]
    slots = [data for kind, data in events if kind == "slot" and data.get("name") == "escalation"]
    assert slots[-1]["value"] == "emergency"

    # The conversation goes on where it was.
    _, more = first_payload(stack, "triage-e2e-1", "tell me more")
    assert more["type"] == "answer"


def test_question_about_the_same_symptom_gets_the_articles_answer(stack):
    _, payload = first_payload(stack, "triage-e2e-2", "can botox cause shortness of breath?")
    assert payload["type"] == "answer"
    assert payload["escalation"] != "emergency"
    assert any("shortness of breath" in s["quote"] for s in payload["sources"])


def test_a_report_that_asks_a_question_gets_the_advice_then_the_articles_answer(stack):
    text = "my forehead feels kinda stiff and achey since the jabs on tuesday. is that a known side effect?"
    _, payload = first_payload(stack, "triage-e2e-question", text)
    assert (payload["type"], payload["escalation"]) == ("triage", "clinic")
    assert payload["topics"] == ["common_side_effects"] and "On your question:" in payload["answer"]
    assert payload["answer"].index("You mentioned") < payload["answer"].index("On your question:")
    assert any("muscle stiffness" in s["quote"] for s in payload["sources"])
    assert any(s["quote"].startswith("You may experience redness") for s in payload["sources"])
    _, source = first_payload(stack, "triage-e2e-question", "where does it say that?")
    assert source["topic"] == "common_side_effects" and source["sources"]


def test_report_about_someone_else_is_an_emergency_too(stack):
    _, payload = first_payload(stack, "triage-e2e-3", "my mom got Botox and now she's having trouble breathing")
    assert (payload["type"], payload["escalation"]) == ("triage", "emergency")
    assert payload["text"].startswith(EMERGENCY_ADVICE)


def test_clinic_and_mild_levels(stack):
    _, clinic = first_payload(stack, "triage-e2e-4", "my left eyelid is drooping since the botox")
    assert (clinic["type"], clinic["escalation"]) == ("triage", "clinic")
    assert clinic["clinic"]["phone"] in clinic["text"]
    _, mild = first_payload(stack, "triage-e2e-5", "i have a small bruise where the needle went in, is that normal?")
    assert (mild["type"], mild["escalation"]) == ("triage", "routine")


def test_a_mild_symptom_not_said_to_follow_a_treatment_gets_the_clinic_and_the_emergency_number(stack):
    """Not triaged ("my son has a bruise from football" is not the clinic's), but never left without help."""
    _, reply = first_payload(stack, "triage-e2e-6", "i have a small bruise, is that normal?")
    assert (reply["type"], reply["sources"]) == ("fallback", [])
    assert reply["clinic"]["phone"] in reply["text"] and "call 112 now" in reply["text"]


def test_an_emergency_that_says_nothing_of_botox_gets_the_emergency_number_first_not_a_botox_triage(stack):
    items, reply = first_payload(stack, "triage-e2e-7", "my chest has gone really tight and i cant catch my breath")
    assert (reply["type"], reply["escalation"], reply["sources"]) == ("fallback", "emergency", [])
    assert items[0]["text"].startswith("What you describe can need urgent help") and "call 112 now" in reply["advice"]
    assert "only answer questions about Botox" in reply["answer"] and reply["clinic"]["phone"] in reply["answer"]


def test_a_symptom_before_the_treatment_is_a_question_not_a_report(stack):
    """The treatment is still to come: a rash now is not its reaction; what is asked is answered honestly."""
    text = "my forehead is itchy and a bit red today, can I still have botox on friday?"
    _, reply = first_payload(stack, "triage-e2e-8", text)
    assert (reply["type"], reply["sources"]) == ("fallback", [])
    assert "doesn't cover" in reply["answer"] and reply["clinic"]["phone"] in reply["text"]


def test_negation_is_not_triaged(stack):
    _, payload = first_payload(
        stack, "triage-e2e-6", "I don't have any symptoms, I'm just curious about allergic reactions"
    )
    assert payload["type"] != "triage"


def test_trained_nlu_agrees_with_the_triage_sets():
    """The whole trained NLU (DIET + fallback + triage): every case labelled
    with a level is a report_symptom with that level; no held-out FAQ
    question and no question/negation becomes report_symptom."""
    import asyncio

    from rasa.core.agent import Agent
    from servers import MODEL, TEST_DATA

    from triage.evaluate import load_cases

    tests = TEST_DATA
    cases = [
        c
        for name in ("triage_cases.yml", "triage_cases_second.yml", "nlu_heldout.yml")
        for c in load_cases(tests / name)
    ]

    async def parse_all():
        agent = Agent.load(str(MODEL))
        return [await agent.parse_message(c["text"]) for c in cases]

    wrong = []
    for case, parsed in zip(cases, asyncio.run(parse_all())):
        level = (parsed.get("triage") or {}).get("level")
        is_report = parsed["intent"]["name"] == "report_symptom"
        if case["level"] == "none" and is_report or case["level"] != "none" and level != case["level"]:
            wrong.append((case["text"], case["level"], parsed["intent"]["name"], level))
    assert wrong == []
