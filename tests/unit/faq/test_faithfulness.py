"""Every answer says only what its quotes say (issue 15): a real answer with a
word its quotes do not have is refused, as a misquote is."""

import copy

import pytest
import yaml

from faq.faithfulness import STOP_WORDS, STRENGTH_WORDS, key, paraphrase_problems, tokens, unsupported_words
from faq.knowledge_base import KB_PATH, KnowledgeBaseError, load_knowledge_base, parse_knowledge_base, problems


def raw_kb():
    return yaml.safe_load(KB_PATH.read_text(encoding="utf-8"))


def with_answer(topic_id, old, new):
    """The shipped knowledge base with one edit to one topic's answer."""
    raw = copy.deepcopy(raw_kb())
    topic = next(t for t in raw["topics"] if t["id"] == topic_id)
    assert old in topic["answer"], f"the shipped answer of {topic_id} changed; update this test"
    topic["answer"] = topic["answer"].replace(old, new)
    return raw


# A real answer, the words added to it, and the word the validator must name.
MUTATIONS = [
    # the drift the issue found: the article says "and even a heart attack"
    ("serious_complications", "including even", "including, rarely, even", "rarely"),
    ("safety", "it is extremely safe", "it is always safe", "always"),
    ("common_side_effects", "muscle stiffness", "muscle stiffness in 1 in 10 patients", "10"),
    ("common_side_effects", "muscle stiffness", "muscle stiffness in two patients", "two"),
    ("common_side_effects", "pain and dizziness", "pain, nausea and dizziness", "nausea"),
    ("what_is_botox", "can help reduce", "will help reduce", "will"),
    ("who_should_inject", "only a trained doctor", "only a trained doctor or beautician", "beautician"),
]


@pytest.mark.parametrize("topic_id, old, new, word", MUTATIONS)
def test_a_word_the_quotes_do_not_say_is_refused_naming_topic_word_and_sentence(article, topic_id, old, new, word):
    found = problems(parse_knowledge_base(with_answer(topic_id, old, new)), article)
    message = next(p for p in found if f"{word!r}" in p)
    assert message.startswith(f"topic {topic_id!r}: ")
    sentence = message.split(", in: ", 1)[1]
    assert new in sentence and sentence.endswith(".")


@pytest.mark.parametrize("topic_id, old, new, word", MUTATIONS[:3])
def test_the_validator_refuses_to_load_it(tmp_path, topic_id, old, new, word):
    """What `make validate` and the action server call (load_knowledge_base)."""
    path = tmp_path / "knowledge_base.yml"
    path.write_text(yaml.safe_dump(with_answer(topic_id, old, new), sort_keys=False), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=f"{topic_id}.*{word!r}"):
        load_knowledge_base(path)


def test_a_reply_that_speaks_for_the_article_is_checked_too(article):
    raw = copy.deepcopy(raw_kb())
    raw["replies"]["no_more"] = "That's everything the article says on this."
    found = problems(parse_knowledge_base(raw), article)
    assert found == [
        "reply 'no_more': 'everything' changes how strong the claim is and is not in its quotes, "
        "in: That's everything the article says on this."
    ]


def test_a_new_paraphrase_word_needs_an_entry_with_its_reason(article):
    raw = with_answer("medical_uses", "The article says", "The article notes")
    assert any(
        "'notes' is neither in its quotes nor a reviewed paraphrase word" in p
        for p in problems(parse_knowledge_base(raw), article)
    )
    raw["paraphrase_words"]["note"] = 'attributes the sentence to the article ("the article notes")'
    assert problems(parse_knowledge_base(raw), article) == []


@pytest.mark.parametrize("word", ["rarely", "usually", "always", "never", "only", "most", "safe", "proven", "50%", "3"])
def test_a_strength_word_can_never_be_a_paraphrase_word(word):
    assert any("sets a claim's strength" in p for p in paraphrase_problems({word: "it reads better"}))


def test_a_paraphrase_word_without_a_reason_is_refused():
    assert paraphrase_problems({"outline": " "}) == ["paraphrase word 'outline': needs a one-line reason"]
    assert paraphrase_problems({"outline": "attributes a summary to the article"}) == []


def test_strength_words_are_compared_by_their_exact_form_not_their_stem():
    # "most" is not "much", "safely" is not "safe", "rarely" is not "rare".
    assert unsupported_words("It is most safely done.", ["It is much safer than it was."], []) == ["most", "safely"]
    assert unsupported_words("Serious effects are rare.", ["Serious effects happen rarely."], []) == ["rare"]


def test_inflections_and_spelling_share_a_key():
    pairs = [("swelling", "swell"), ("bruises", "bruising"), ("minimise", "minimized"), ("stopped", "stop")]
    pairs += [("lines", "line"), ("injections", "injection"), ("bleeding", "bleed"), ("ageing", "aging")]
    assert all(key(a) == key(b) for a, b in pairs)
    assert key("redness") != key("red") and key("thing") == "thing"


def test_contractions_keep_their_negation_and_placeholders_are_left_out():
    assert tokens("Your skin won't; it doesn't. You'll call {phone}.") == [
        "your",
        "skin",
        "will",
        "not",
        "it",
        "does",
        "not",
        "you",
        "will",
        "call",
    ]


def test_no_strength_word_hides_among_the_stop_words():
    assert not STOP_WORDS & STRENGTH_WORDS
