"""The knowledge base agrees with the article and holds every text the code needs;
the validator catches it when it doesn't."""

import copy

import pytest
import yaml

from faq.knowledge_base import (
    KB_PATH,
    KnowledgeBaseError,
    ReplyKey,
    load_knowledge_base,
    parse_knowledge_base,
    problems,
)

REQUIRED_TOPICS = {
    "what_is_botox",
    "safety",
    "common_side_effects",
    "serious_complications",
    "who_should_inject",
    "incorrect_injection",
    "certified_brand",
    "diluted_botox",
    "price_vs_result",
    "medical_uses",
    "stopping",
    "preventive",
    "lowering_risk",
}


def raw_kb():
    return yaml.safe_load(KB_PATH.read_text(encoding="utf-8"))


def test_article_is_split_into_the_numbered_sentences_the_kb_cites(article):
    assert [len(p) for p in article.paragraphs] == [4, 5, 8, 1]
    assert article.sentence(2, 1) == "You may experience redness, bruising, bleeding, or swelling."
    assert article.sentence(3, 1).endswith("diluted Botox, etc.")


def test_knowledge_base_has_no_problems(kb, article):
    assert problems(kb, article) == []


def test_every_required_topic_is_covered(kb):
    assert REQUIRED_TOPICS <= {t.id for t in kb.topics}


def test_every_sentence_of_the_article_is_cited_by_some_topic(kb, article):
    cited = {(q.paragraph, q.sentence) for t in kb.topics for q in t.quotes}
    uncited = set(article.numbered_sentences()) - cited
    # Paragraph 1 sentence 2 only announces the article ("be aware of the risks").
    assert uncited <= {(1, 2)}


def test_who_should_inject_shows_both_sides_of_the_article(kb):
    quotes = " ".join(q.text for q in kb.topic("who_should_inject").quotes)
    assert "only a trained doctor" in quotes and "nurse, or dentist" in quotes


def test_a_misquote_is_reported(article):
    raw = copy.deepcopy(raw_kb())
    raw["topics"][0]["quotes"][0]["text"] = "Botox is a completely risk-free treatment."
    assert any("not verbatim" in p for p in problems(parse_knowledge_base(raw), article))


def test_a_wrong_sentence_number_is_reported(article):
    raw = copy.deepcopy(raw_kb())
    raw["topics"][0]["quotes"][0]["sentence"] = 99
    assert any("no sentence 99" in p for p in problems(parse_knowledge_base(raw), article))


def test_a_topic_without_training_examples_is_reported(article):
    raw = copy.deepcopy(raw_kb())
    raw["topics"][1]["examples"] = []
    assert any("training examples" in p for p in problems(parse_knowledge_base(raw), article))


def test_unknown_escalation_and_related_topic_are_reported(article):
    raw = copy.deepcopy(raw_kb())
    raw["topics"][0]["escalation"] = "panic"
    raw["topics"][0]["related"] = ["no_such_topic"]
    found = problems(parse_knowledge_base(raw), article)
    assert any("escalation 'panic'" in p for p in found)
    assert any("no_such_topic" in p for p in found)


def test_a_missing_reply_or_button_the_code_needs_is_reported(article):
    raw = copy.deepcopy(raw_kb())
    del raw["replies"]["failed"]
    del raw["buttons"]["handoff"]
    found = problems(parse_knowledge_base(raw), article)
    assert "replies: no 'failed' (the code needs it)" in found
    assert "buttons: no 'handoff' (the code needs it)" in found


def test_a_placeholder_nothing_fills_is_reported(article):
    raw = copy.deepcopy(raw_kb())
    raw["replies"]["fallback"] = "Call {clinic_phone}."
    assert any("'fallback' uses ['clinic_phone']" in p for p in problems(parse_knowledge_base(raw), article))


def test_the_loader_refuses_a_knowledge_base_missing_a_text(tmp_path):
    raw = copy.deepcopy(raw_kb())
    del raw["replies"]["telegram_help"]
    path = tmp_path / "knowledge_base.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="telegram_help"):
        load_knowledge_base(path)


def test_line_breaks_of_a_literal_block_are_kept(kb):
    assert "\n\u2022 Is Botox safe?\n" in kb.reply(ReplyKey.TELEGRAM_HELP)
    assert "\n" not in kb.reply(ReplyKey.FALLBACK)


def test_not_covered_entries_are_checked(kb, article):
    from dataclasses import replace

    from faq.knowledge_base import Uncovered, problems

    broken = (Uncovered("cost", "prices", ("per unit",)), Uncovered("cost", "", ("... hurt",)))
    found = problems(replace(kb, not_covered=kb.not_covered + broken), article)
    assert "not_covered id 'cost' is used twice" in found
    assert "not_covered 'cost': needs `about` and `words`" in found
    assert "not_covered 'cost': '... hurt' starts or ends with ..." in found
