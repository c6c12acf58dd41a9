"""Answer feedback in the clinic review, from hand-written tracker events (no store)."""

from datetime import date

import yaml

from faq.feedback import feedback_message
from review import candidates, feedback, figures, report

DAY = date(2026, 11, 20)
T0 = 1795132800.0  # 2026-11-20 00:00 UTC


def user(text, at, intent=None, entities=()):
    parse = {"intent": {"name": intent or "ask_x", "confidence": 0.9}, "entities": list(entities)}
    return {"event": "user", "text": text, "timestamp": T0 + at, "parse_data": parse}


def said(verdict, at, comment=""):
    message = feedback_message(verdict, comment)
    entities = [{"entity": "verdict", "value": verdict}] + (
        [{"entity": "comment", "value": comment}] if comment else []
    )
    return user(message, at, "give_feedback", entities)


def bot(kind, at, topic=None):
    payload = {"type": kind, "topic": topic, "topics": [topic] if topic else [], "escalation": "none"}
    return {"event": "bot", "text": "reply", "timestamp": T0 + at, "data": {"custom": payload}}


EVENTS = {
    "alice": [
        user("is botox safe?", 10),
        bot("answer", 11, "safety"),
        said("helpful", 12),
        bot("smalltalk", 13),
        user("my email is pat@example.com, what are the side effects?", 20),
        bot("answer", 21, "common_side_effects"),
        said("not_helpful", 22),
        bot("smalltalk", 23),
        said("not_helpful", 24, "call me on 555 123 4567 about bruising"),
        bot("smalltalk", 25),
    ],
    "bob": [
        said("helpful", 5),  # nothing answered before it: not counted
        bot("smalltalk", 6),
        user("/ask_stopping", 30),
        bot("answer", 31, "stopping"),
        said("helpful", 32),
        said("not_helpful", 33),  # changed his mind: the last verdict counts
        user("thanks", 40, "thanks"),
        bot("smalltalk", 41),
        said("helpful", 42),  # still about the stopping answer, once
    ],
}


def exchanges():
    return figures.exchanges_from_events(EVENTS)


def test_each_answer_counts_once_with_its_last_verdict_for_its_topic():
    rated = feedback.rated_answers(exchanges())
    assert [(r.topic, r.verdict, r.comments) for r in rated] == [
        ("safety", "helpful", []),
        ("common_side_effects", "not_helpful", ["call me on 555 123 4567 about bruising"]),
        ("stopping", "helpful", []),
    ]
    rows = {t.topic: (t.helpful, t.not_helpful, t.helpful_rate) for t in feedback.per_topic(rated)}
    assert rows == {"safety": (1, 0, 1.0), "common_side_effects": (0, 1, 0.0), "stopping": (1, 0, 1.0)}


def test_feedback_is_not_a_patient_message_in_the_other_figures():
    figs = figures.compute(exchanges(), DAY, DAY)
    assert figs.messages == 4  # two questions, one button, one thanks
    assert figs.reply_types == {"answer": 3, "smalltalk": 1}


def test_not_helpful_rows_are_pseudonymised_and_masked():
    rated = feedback.rated_answers(exchanges())
    [row] = feedback.not_helpful_rows(
        rated, lambda s: "patient-" + s[:1], lambda t: t.replace("pat@example.com", "[email]")
    )
    assert row["sender"] == "patient-a" and row["topic"] == "common_side_effects"
    assert row["question"] == "my email is [email], what are the side effects?"
    data = feedback.as_dict(rated, str, str)
    assert data["per_topic"]["common_side_effects"] == {"helpful": 0, "not_helpful": 1, "helpful_rate": 0.0}


def test_the_report_shows_the_plot_the_rates_and_the_not_helpful_table():
    rated = feedback.rated_answers(exchanges())
    figs = figures.compute(exchanges(), DAY, DAY)
    meta = {"first_day": "a", "last_day": "b", "generated": "c", "store": "d", "retention": "e", "clinic": "f"}
    page = report.render(
        figs, [], lambda s: "patient-x", lambda t: t.replace("555 123 4567", "[number]"), meta, 0.6, 0.75, rated=rated
    )
    assert "helpful and not helpful answers per topic" in page
    assert "<td>common_side_effects</td><td class='n'>0</td><td class='n'>1</td><td class='n'>0.0%</td>" in page
    assert "call me on [number] about bruising" in page and "555 123" not in page
    assert "id='card-feedback'><b>3 <small>66.7% helpful</small>" in page


def test_typed_questions_found_not_helpful_are_nlu_candidates():
    rated = feedback.rated_answers(exchanges())
    text = candidates.nlu_yaml([], [], lambda t: t.replace("pat@example.com", "[email]"), "header", rated)
    nlu = yaml.safe_load(text)["nlu"]
    assert nlu == [
        {
            "intent": "TODO_not_helpful_common_side_effects",
            "examples": "- my email is (email), what are the side effects?\n",
        }
    ]  # the button click ("/ask_stopping") is no candidate; brackets become parentheses
    assert "#   what was missing: call me on 555 123 4567 about bruising" in text


def test_a_comment_that_reported_a_symptom_stays_a_patient_message():
    events = {"carol": [said("not_helpful", 1, "now I can't breathe"), bot("triage", 2)]}
    figs = figures.compute(figures.exchanges_from_events(events), DAY, DAY)
    assert figs.messages == 1 and figs.reply_types == {"triage": 1}
