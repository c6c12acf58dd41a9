"""Symptom triage (issue 3): policy, detector, evaluation targets, reply."""

import copy
from functools import partial
from pathlib import Path

import pytest
import yaml

from faq.dialogue import Conversation, respond
from faq.replies import render
from triage import evaluate
from triage.policy import POLICY_PATH, PolicyError, _kb_quotes, load_policy, parse_pattern, problems
from triage.reply import triage_reply

TESTS = Path(__file__).resolve().parents[2] / "data"
PROJECT_ROOT = TESTS.parents[1]
CASE_FILES = [TESTS / "triage_cases.yml", TESTS / "triage_cases_second.yml"]
# Blind sets written later (docs/triage.md): gated on emergency recall only.
EXTRA_SETS = [TESTS / "triage_cases_third.yml", TESTS / "triage_cases_fourth.yml"]


@pytest.fixture(scope="module")
def detector():
    from triage.detector import get_detector

    return get_detector()


@pytest.fixture(scope="module")
def raw_policy():
    return yaml.safe_load(POLICY_PATH.read_text(encoding="utf-8"))


# ------------------------------------------------------------------ policy
def test_policy_is_valid_and_cites_existing_quotes(raw_policy):
    assert problems(raw_policy, _kb_quotes()) == []
    policy = load_policy()
    assert {g.level for g in policy.groups} == {"emergency", "clinic", "mild"}
    assert policy.levels["emergency"].escalation == "emergency"


def test_policy_refuses_an_unknown_topic_and_level(raw_policy):
    broken = copy.deepcopy(raw_policy)
    broken["groups"][0]["cite"] = ["no_such_topic"]
    broken["groups"][1]["level"] = "urgent"
    broken["groups"][2]["cite"] = ["serious_complications#9.9"]
    found = problems(broken, _kb_quotes())
    assert any("no_such_topic" in p for p in found)
    assert any("'urgent'" in p for p in found)
    assert any("paragraph 9 sentence 9" in p for p in found)


def test_policy_refuses_missing_hearsay_words(raw_policy):
    broken = copy.deepcopy(raw_policy)
    del broken["hearsay"]["speech_verbs"]
    assert "no hearsay.speech_verbs" in problems(broken, _kb_quotes())


def test_policy_text_may_not_speak_for_the_article(raw_policy):
    """Level texts are clinic policy, outside the faithfulness check (faq.faithfulness):
    an article claim there would reach patients unchecked."""
    broken = copy.deepcopy(raw_policy)
    broken["levels"]["mild"]["answer"] = "The article says this is usually mild."
    found = problems(broken, _kb_quotes())
    assert [p.split(":")[0] for p in found] == ["levels.mild.answer"]


def test_pattern_language():
    assert parse_pattern("short|shortness of? breath") == [
        ("words", (("short", "shortness"), False)),
        ("words", (("of",), True)),
        ("words", (("breath",), False)),
    ]
    assert parse_pattern("=went away")[0] == ("exact", (("went",), False))
    for bad in ["... breath", "breath ...", "", "a||b", "a|=b c"]:
        with pytest.raises(PolicyError):
            parse_pattern(bad)


def test_every_level_has_an_emergency_path_in_the_policy_file_not_code():
    for path in (PROJECT_ROOT / "triage").glob("*.py"):
        text = path.read_text()
        for word in ("breathe", "swallow", "hives", "chest"):
            assert f'"{word}"' not in text, path.name


# ------------------------------------------------------------------ detector
@pytest.mark.parametrize(
    "text, level, kind, about",
    [
        ("I had Botox yesterday and now I can't breathe", "emergency", "report", "self"),
        ("I'm short of breath after my injection", "emergency", "report", "self"),
        ("my mom got Botox and now she's having trouble breathing", "emergency", "report", "other"),
        ("I actually have shortness of breath right now", "emergency", "report", "self"),
        ("is shortness of breath a risk?", None, "question", "self"),
        ("can botox cause shortness of breath?", None, "question", "self"),
        ("I don't have any symptoms, I'm just curious about allergic reactions", None, "negated", "self"),
        ("I'm just curious about allergic reactions", None, "question", "self"),
        ("no shortness of breath or anything", None, "negated", "self"),
        ("i'm not short of breath", None, "negated", "self"),
        ("my eyelid is drooping since the botox", "clinic", "report", "self"),
        ("the bruise keeps getting bigger", "clinic", "report", "self"),
        ("there's a small bruise where they injected", "mild", "report", "self"),
        ("i had a headache last year after botox but it went away", None, "historical", "self"),
        ("how much is botox", None, "none", "self"),
        ("I CANT BREATHE", "emergency", "report", "self"),
        ("can you help me i cant breathe", "emergency", "report", "self"),
        ("can botox cause me to stop breathing", None, "question", "self"),
        ("what happens if i cant breathe after botox", None, "question", "self"),
        ("can botox make my eyelid droop", None, "question", "self"),
        ("I can\u2019t breathe", "emergency", "report", "self"),
        ("I havn't got a headache", None, "negated", "self"),
        ("could you call someone, her lips are swelling", "emergency", "report", "other"),
        # euphemisms, typos and a report told after the question
        ("my jaw gets tired halfway through eating since the masseter botox", "clinic", "report", "self"),
        ("since the botox my eye looks sleepy, like the lid is lazy", "clinic", "report", "self"),
        ("i get blury vision since my injections", "clinic", "report", "self"),
        ("is a headache normal after botox? it started on day 4 and hasn't let up", "clinic", "report", "self"),
        ("the swelling by my injection spot has spread down my cheek", "clinic", "report", "self"),
    ],
)
def test_detector_cases(detector, text, level, kind, about):
    a = detector.assess(text)
    assert (a.level, a.kind, a.about) == (level, kind, about), a


@pytest.mark.parametrize(
    "text, level",
    [
        # someone else's past episode, told second hand: background to a question
        ("my friend said she felt dizzy for a week after hers once, is that common?", None),
        ("my sister told me she got a bad headache after her botox once", None),
        ("my sister got a bad headache after her botox yesterday", "clinic"),
        # ... but now, or an emergency, is a report
        ("my mum said she felt dizzy after her botox this morning", "clinic"),
        ("my wife had botox an hour ago and where she was injected is a bit red, she said", "mild"),
        ("a woman at work said she couldn't breathe after hers once", "emergency"),
        # someone's present state, reported, is a report; an emergency whatever its tense
        ("my husband says his chest hurts", "emergency"),
        ("she told me her eyelid is drooping", "clinic"),
        ("my mum said her throat was closing", "emergency"),
        ("my daughter said her eyelid drooped after her botox once", None),
        ("my friend says botox gave her a droopy eyelid, can it do that?", None),
        # a worry about the future, not a report
        ("he's convinced I'll pass out", None),
        ("I feel like I'll pass out", "emergency"),
        # my own unrelated past episode
        ("I fainted at my last blood test, so will I faint with botox?", None),
        # what the treatment is for is not a reaction to it
        ("my neurologist brought up botox for my nerve pain, is it used for that?", None),
        ("had the injections for my headaches yesterday and now i have a terrible headache", "clinic"),
        # a denied refers-back does not turn the question into a report
        ("can botox cause hives? I don't have that though", None),
        ("can botox make one side droop? how do I make sure that doesn't happen to me", None),
    ],
)
def test_second_hand_past_and_future_mentions(detector, text, level):
    assert detector.assess(text).level == level


def test_typos_are_corrected_towards_the_policy_words(detector):
    assert detector.assess("shortnes of breth").level == "emergency"
    assert detector.assess("dizzyness since yesterday").level == "clinic"
    # real words are left alone
    assert detector.typos.correct("they injected it") == "they injected it"


def test_question_then_report_in_the_next_sentence(detector):
    assert detector.assess("can botox cause hives? i have them right now").level == "emergency"


@pytest.mark.parametrize(
    "text, level",
    [
        ("There's a hard lump where the needle went in. It's been there 6 days now and isn't going down.", "clinic"),
        ("There's a small lump where the needle went in. My sister has been there 6 days now.", "mild"),
    ],
)
def test_worsening_told_in_the_next_sentence_raises_a_mild_symptom(detector, text, level):
    assert detector.assess(text).level == level


@pytest.mark.parametrize(
    "text",
    [
        "my hive thermostat keeps going offline",
        "my teenager barely speaks to me anymore",
        # a blocked nose, not trouble breathing
        "my nose is bunged up, i can hardly breathe through it",
        # named conditions of their own
        "can i have botox with a cold sore on my chin?",
        "i've got a chest infection, should i wait?",
        # planned, not happening
        "my dentist will numb my jaw next week, is that ok with botox?",
        # lifelong or natural, or at another occasion
        "my left eyebrow has always been lower than my right, can botox fix that?",
        "my eyelids have drooped a bit with age, will botox make it worse?",
        "i almost fainted at my covid jab, will i be ok with botox needles?",
        # "hold hands", not a weak hand
        "my palms are so sweaty i can't hold hands, does botox help with that?",
        # a trait, a named condition or an illness, an idiom
        "i bruise really easily, will botox leave marks?",
        "i've got a cold and a sore throat, should i move my botox?",
        "i have a bleeding disorder, is botox risky for me?",
        "my husband is a pain in the neck about my botox",
        "i have hooded eyes, is botox going to make my lids heavier?",
    ],
)
def test_words_of_emergencies_in_other_senses_are_not_triaged(detector, text):
    assert detector.assess(text).level is None


def test_emergency_wins_over_milder_symptoms_in_a_long_story(detector):
    text = (
        "so the bruise is small and a bit red, nothing much, went to work, had lunch, "
        "and then this afternoon my throat started feeling tight and my lips look swollen"
    )
    a = detector.assess(text)
    assert a.level == "emergency"
    assert a.symptoms[0] in ("throat", "airway_swelling")


def test_empty_and_odd_input_is_not_triage(detector):
    for text in ["", "   ", "???", "\U0001f600", "a" * 5000]:
        assert detector.assess(text).level is None


def test_assess_is_fast(detector):
    import time

    text = "i went in on tuesday and since then my throat feels tight and its hard to swallow " * 3
    started = time.perf_counter()
    for _ in range(20):
        detector.assess(text)
    assert (time.perf_counter() - started) / 20 < 0.1


# ------------------------------------------------------------------ targets
@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_evaluation_targets(detector, path):
    cases = evaluate.load_cases(path)
    assert len(cases) >= (150 if path.name == "triage_cases.yml" else 60)
    results = [(c, detector.assess(c["text"]).level or "none") for c in cases]
    score = evaluate.score(results)
    missed = [c["text"] for c, p in results if c["level"] == "emergency" and p != "emergency"]
    assert missed == [], f"missed emergencies: {missed}"
    assert evaluate.target_failures(score) == [], evaluate.target_failures(score)


def test_faq_questions_are_not_triaged(detector):
    """The held-out NLU questions (written by someone else) and the training
    questions: none may be an emergency, almost none triaged at all."""
    for path in (TESTS / "nlu_heldout.yml", PROJECT_ROOT / "data" / "nlu" / "topics.yml"):
        cases = evaluate.load_cases(path)
        levels = [detector.assess(c["text"]).level for c in cases]
        assert [c["text"] for c, level in zip(cases, levels) if level == "emergency"] == []
        assert sum(level is not None for level in levels) <= len(cases) * 0.02


@pytest.mark.parametrize("path", EXTRA_SETS, ids=lambda p: p.name)
def test_no_missed_emergency_on_the_later_sets(detector, path):
    cases = evaluate.load_cases(path)
    missed = [c["text"] for c in cases if c["level"] == "emergency" and detector.assess(c["text"]).level != "emergency"]
    assert missed == []


def test_test_sets_are_not_pasted_into_the_policy():
    policy_text = POLICY_PATH.read_text(encoding="utf-8").lower()
    for path in CASE_FILES + EXTRA_SETS:
        for case in evaluate.load_cases(path):
            if len(case["text"].split()) >= 3:
                assert case["text"].lower() not in policy_text, case["text"]


def test_evaluate_command_exit_status(tmp_path):
    failing = tmp_path / "cases.yml"
    failing.write_text(
        yaml.safe_dump(
            {
                "cases": [
                    {"text": "my cat is purring", "level": "emergency", "kind": "report"},
                ]
            }
        )
    )
    assert evaluate.main([str(failing)]) == 1
    assert evaluate.main([str(CASE_FILES[1])]) == 0


# ------------------------------------------------------------------ reply
def _reply_for(detector, kb, clinic, text, conv=Conversation()):
    symptom_reply = partial(triage_reply, kb, clinic)
    a = detector.assess(text)
    turn = respond(kb, "report_symptom", text, conv, symptom_reply, triage=a.as_dict())
    return turn, render(turn.reply, clinic)


def test_emergency_reply_starts_with_the_emergency_advice(detector, kb, clinic, article):
    turn, (text, payload) = _reply_for(
        detector,
        kb,
        clinic,
        "I actually have shortness of breath right now",
        Conversation(last_topic="common_side_effects"),
    )
    advice = clinic.advice("emergency")
    assert "112" in advice
    assert text.startswith(advice)
    assert (payload["type"], payload["escalation"]) == ("triage", "emergency")
    assert payload["advice"] == advice
    assert turn.last_topic == "common_side_effects"  # the conversation's topic is kept
    # the article's sentence, verbatim, after the advice
    assert payload["sources"]
    for source in payload["sources"]:
        assert article.sentence(source["paragraph"], source["sentence"]) == source["quote"]
        assert text.index(source["quote"]) > text.index(advice)
    assert any("shortness of breath" in s["quote"] for s in payload["sources"])


def test_emergency_overrides_any_intent(detector, kb, clinic, symptom_reply):
    a = detector.assess("i can't breathe")
    for intent in ("ask_safety", "tell_me_more", "nlu_fallback", "greet", None):
        turn = respond(
            kb, intent, "i can't breathe", Conversation(last_topic="safety"), symptom_reply, triage=a.as_dict()
        )
        assert turn.reply.escalation == "emergency" and turn.reply.type == "triage"


def test_clinic_and_mild_replies(detector, kb, clinic):
    _, (text, payload) = _reply_for(detector, kb, clinic, "my left eyelid is drooping since the botox")
    assert (payload["type"], payload["escalation"]) == ("triage", "clinic")
    assert clinic.contact["phone"] in text
    assert any("facial asymmetry" in s["quote"] for s in payload["sources"])
    _, (text, payload) = _reply_for(detector, kb, clinic, "a small bruise on my forehead")
    assert (payload["type"], payload["escalation"]) == ("triage", "routine")
    assert any(s["quote"] == "You may experience redness, bruising, bleeding, or swelling." for s in payload["sources"])
    assert clinic.contact["phone"] in payload["advice"]


def test_other_person_reply_says_so(detector, kb, clinic):
    _, (text, payload) = _reply_for(detector, kb, clinic, "my wife had botox and her lips are swelling up")
    assert payload["escalation"] == "emergency"
    assert "someone else" in text


def test_report_symptom_without_triage_data_is_a_safe_triage_reply(kb, clinic):
    reply = triage_reply(kb, clinic, None)
    text, payload = render(reply, clinic)
    assert payload["type"] == "triage" and payload["escalation"] == "clinic"
    assert "112" in text


def test_question_is_answered_not_triaged(kb, clinic, symptom_reply):
    turn = respond(
        kb,
        "ask_serious_complications",
        "can botox cause shortness of breath?",
        Conversation(),
        symptom_reply,
        triage=None,
    )
    assert turn.reply.type == "answer"


# ------------------------------------------------------------------ NLU component
def _message(text, intent="ask_common_side_effects"):
    from rasa.shared.nlu.training_data.message import Message

    ranking = [{"name": intent, "confidence": 0.9}, {"name": "ask_safety", "confidence": 0.1}]
    return Message(data={"text": text, "intent": {"name": intent, "confidence": 0.9}, "intent_ranking": ranking})


def test_component_marks_a_report_and_keeps_the_previous_ranking(detector):
    from triage.component import TriageClassifier

    component = TriageClassifier({}, detector=detector)
    report, question = (
        _message("I actually have shortness of breath right now"),
        _message("can botox cause shortness of breath?"),
    )
    component.process([report, question])
    assert report.get("intent") == {"name": "report_symptom", "confidence": 1.0}
    assert [r["name"] for r in report.get("intent_ranking")][:2] == ["report_symptom", "ask_common_side_effects"]
    assert report.get("triage")["level"] == "emergency" and report.get("triage")["about"] == "self"
    assert {"triage", "intent", "intent_ranking"} <= set(report.output_properties)
    assert question.get("intent")["name"] == "ask_common_side_effects" and question.get("triage") is None


def test_component_fails_safe(caplog):
    from triage.component import TriageClassifier

    class Broken:
        def assess(self, text):
            raise RuntimeError("boom")

    message = _message("i can't breathe")
    TriageClassifier({}, detector=Broken()).process([message])
    assert message.get("intent")["name"] == "ask_common_side_effects"
    assert "triage: failed" in caplog.text


def test_component_demotes_a_report_intent_without_a_current_symptom(detector):
    from triage.component import TriageClassifier

    message = _message("i feel totally fine, no headache, no bruising", intent="report_symptom")
    TriageClassifier({}, detector=detector).process([message])
    assert message.get("intent")["name"] == "ask_safety"
    vague = _message("something is wrong after my botox", intent="report_symptom")
    TriageClassifier({}, detector=detector).process([vague])
    assert vague.get("intent")["name"] == "report_symptom" and vague.get("triage") is None


def _load_in(config):
    """TriageClassifier.create as Rasa calls it when it loads a model trained with `config`."""
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.recipes.recipe import Recipe
    from rasa.shared.data import TrainingType

    from triage.component import TriageClassifier

    recipe = Recipe.recipe_for_name(config["recipe"])
    schema = recipe.graph_config_for_recipe(config, {}, training_type=TrainingType.BOTH).predict_schema
    node = next(name for name, node in schema.nodes.items() if node.uses is TriageClassifier)
    return TriageClassifier.create({}, None, None, ExecutionContext(schema, node_name=node))


def test_component_loads_only_after_the_intent_and_fallback_classifiers(detector):
    from rasa.engine.exceptions import GraphSchemaValidationException

    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    assert _load_in(copy.deepcopy(config)).detector is detector
    pipeline = [c for c in config["pipeline"] if c["name"] != "triage.component.TriageClassifier"]
    names = [c["name"] for c in pipeline]
    for before, refused in [
        ("FallbackClassifier", "must come after FallbackClassifier"),
        ("DIETClassifier", "needs FallbackClassifier before it; must come after DIETClassifier, FallbackClassifier"),
    ]:
        position = names.index(before)
        moved = pipeline[:position] + [{"name": "triage.component.TriageClassifier"}] + pipeline[position:]
        with pytest.raises(GraphSchemaValidationException, match=refused):
            _load_in({**copy.deepcopy(config), "pipeline": copy.deepcopy(moved)})


def test_triage_reply_without_a_readable_policy_still_escalates(kb, clinic, monkeypatch):
    import triage.reply as module

    def broken():
        raise PolicyError("broken")

    monkeypatch.setattr(module, "load_policy", broken)
    reply = module.triage_reply(kb, clinic, {"level": "emergency", "escalation": "emergency"})
    text, payload = render(reply, clinic)
    assert payload["escalation"] == "emergency" and text.startswith(clinic.advice("emergency"))


def test_component_triages_a_symptom_written_as_feedback_and_keeps_it_a_report(detector):
    """Rasa's RegexMessageHandler rebuilds a "/give_feedback{...}" message after us
    (and would drop the triage): a report in the comment becomes the message's text."""
    from faq.feedback import feedback_message
    from triage.component import TriageClassifier

    report = _message(feedback_message("not_helpful", "I had Botox yesterday and now I can't breathe"))
    plain = _message(feedback_message("not_helpful", "the price per area"))
    TriageClassifier({}, detector=detector).process([report, plain])
    assert report.get("text") == "I had Botox yesterday and now I can't breathe" and "text" in report.output_properties
    assert report.get("intent")["name"] == "report_symptom" and report.get("triage")["level"] == "emergency"
    assert plain.get("text").startswith("/give_feedback{") and plain.get("triage") is None
