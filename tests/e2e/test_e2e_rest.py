"""A patient's conversations over REST with the real Rasa server and action server."""

import json
import urllib.error
import urllib.request

import pytest
from servers import RasaStack, payloads

CLINIC_PHONE = "+1 555 0100"


@pytest.fixture(scope="module")
def stack():
    with RasaStack(rasa_port=5105, action_port=5155) as running:
        yield running


def ask(stack, sender, text):
    items = stack.send(sender, text)
    found = payloads(items)
    assert len(found) == 1, items
    # Rasa's REST channel splits the plain text at blank lines (docs/payload.md).
    assert "\n\n".join(i["text"] for i in items if "text" in i) == found[0]["text"]
    return found[0]


def assert_quotes_are_the_articles(payload, article):
    assert payload["sources"], payload
    for source in payload["sources"]:
        assert source["document"] == "the-risks-of-botox.txt"
        assert article.sentence(source["paragraph"], source["sentence"]) == source["quote"]
        assert source["quote"] in payload["text"]


def test_greeting_says_what_the_assistant_is(stack):
    payload = ask(stack, "greet-1", "hello")
    assert payload["type"] == "smalltalk" and "not a doctor" in payload["text"]


def test_safety_question_is_answered_with_the_articles_sentences(stack, article):
    payload = ask(stack, "safety-1", "is botox safe?")
    assert (payload["type"], payload["topic"], payload["escalation"]) == ("answer", "safety", "routine")
    assert_quotes_are_the_articles(payload, article)
    assert any("risks are very small" in s["quote"] for s in payload["sources"])
    assert CLINIC_PHONE in payload["advice"]


def test_who_should_inject_then_what_about_a_nurse(stack, article):
    first = ask(stack, "inject-1", "who should inject my botox?")
    assert first["topic"] == "who_should_inject"
    second = ask(stack, "inject-1", "what about a nurse?")
    assert second["topic"] == "who_should_inject"
    assert any("nurse, or dentist" in s["quote"] for s in second["sources"])
    assert_quotes_are_the_articles(second, article)


def test_side_effects_then_which_ones_are_serious_then_where_does_it_say(stack, article):
    assert ask(stack, "fx-1", "what are the side effects?")["topic"] == "common_side_effects"
    serious = ask(stack, "fx-1", "which ones are serious?")
    assert serious["topic"] == "serious_complications" and serious["escalation"] == "clinic"
    source = ask(stack, "fx-1", "where does it say that?")
    assert source["topic"] == "serious_complications"
    assert source["sources"] == serious["sources"]
    assert_quotes_are_the_articles(source, article)


def test_tell_me_more_and_if_i_stop(stack, kb):
    assert ask(stack, "more-1", "what is preventive botox?")["topic"] == "preventive"
    more = ask(stack, "more-1", "tell me more")
    assert more["topic"] == kb.topic("preventive").related[0]
    assert ask(stack, "more-1", "and if i stop?")["topic"] == "stopping"


@pytest.mark.parametrize("question", ["can I get Botox while pregnant?", "what's the capital of France?"])
def test_uncovered_questions_get_an_honest_fallback_citing_nothing(stack, question):
    payload = ask(stack, f"oos-{hash(question)}", question)
    assert payload["type"] == "fallback" and payload["sources"] == [] and payload["topic"] is None
    assert "doesn't cover" in payload["text"] and CLINIC_PHONE in payload["text"]


@pytest.mark.parametrize(
    "question, named",
    [
        ("I'm planning my year. How long does Botox last before I need to go back?", "how long Botox lasts"),
        ("Can I go to the gym after my botox this afternoon?", "aftercare"),
        ("how much do you charge for forehead and crows feet, and is cheap botox risky?", None),
    ],
)
def test_what_the_article_does_not_answer_is_named_and_a_covered_question_beside_it_answered(
    stack, article, question, named
):
    payload = ask(stack, f"nc-{abs(hash(question))}", question)
    if named:
        assert payload["type"] == "fallback" and payload["sources"] == [] and payload["topic"] is None
        assert f"doesn't cover {named}" in payload["text"] and CLINIC_PHONE in payload["text"]
    else:  # the price clause is set aside; "is cheap botox risky?" is answered
        assert payload["type"] == "answer" and payload["topic"] in ("price_vs_result", "safety")
        assert_quotes_are_the_articles(payload, article)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "???",
        "<script>alert(1)</script>",
        "🙂🙂🙂",
        "¿Es seguro ponerse bótox durante el embarazo?",
        "botox " * 2500,  # 15 KB: far over the length limit, under the body cap
    ],
)
def test_bad_input_gets_a_safe_reply_and_the_conversation_goes_on(stack, bad, article):
    sender = f"bad-{abs(hash(bad))}"
    items = stack.send(sender, bad)
    assert items, "no reply"
    for item in items:
        assert "<script>" not in json.dumps(item)
    reply = payloads(items)[-1]
    assert reply["sources"] == [] and reply["type"] == "fallback"
    after = ask(stack, sender, "is botox safe?")
    assert after["topic"] == "safety"
    assert_quotes_are_the_articles(after, article)


def test_malformed_request_is_a_client_error_not_a_crash(stack):
    request = urllib.request.Request(
        f"{stack.url}/webhooks/rest/webhook", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=30)
    assert 400 <= error.value.code < 500
    assert ask(stack, "after-malformed", "hi")["type"] == "smalltalk"


def test_rest_cannot_write_into_a_telegram_conversation(stack):
    with pytest.raises(urllib.error.HTTPError) as error:
        stack.send("telegram-4242", "is botox safe?")
    assert error.value.code == 400
