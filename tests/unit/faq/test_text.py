"""The text normaliser (faq/text.py): each disguise of "I can't breathe" reads as the plain text."""

import pytest

from faq.text import normalise

PLAIN = "I can't breathe"


@pytest.mark.parametrize(
    "disguised",
    [
        "I can't bre\u200bathe",  # zero-width space
        "I c\u0430n't bre\u0430the",  # Cyrillic а
        "<b>I can't breathe</b>",  # HTML tags
        "I ｃａｎ'ｔ ｂｒｅａｔｈｅ",  # full-width letters (NFKC)
        "I can't \U0001d41b\U0001d42b\U0001d41e\U0001d41a\U0001d42d\U0001d421\U0001d41e",  # mathematical bold
        "I can't brea\u00adthe",  # soft hyphen
        "I can\u2019t breathe",  # typographic apostrophe
        "I can&#39;t breathe",  # HTML entity
        "\u0406 can't breathe",  # a whole word of look-alikes: Cyrillic І
        "I cаn't brеаthе",  # several Cyrillic letters (а, е)
        "I can't br\u03b5\u03b1the",  # Greek ε α
        "\u202eI can't breathe\u202c",  # direction override
        "\ufeffI can't\u2060 breathe",  # BOM and word joiner
        "<p style='x'>I <i>can't</i> breathe</p><script>alert(1)</script>",
        "I can't\u00a0breathe",  # no-break space
    ],
)
def test_disguised_text_reads_as_the_plain_text(disguised):
    assert normalise(disguised) == PLAIN


@pytest.mark.parametrize(
    "text",
    [
        "is botox safe?",
        "/greet",
        '/greet{"last_topic": "safety"}',
        "dose < 5 units and > 2 weeks",
        "I <3 my injector",
        "у меня опухло лицо после ботокса",  # Russian stays Russian
        "είναι ασφαλές το botox;",  # Greek stays Greek (mostly Greek)
        "¿Es seguro ponerse bótox?",
        "line one\nline two\ttabbed",
        "AT&T isn't an entity",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert normalise(text) == text


def test_a_message_of_nothing_but_tags_or_invisible_characters_is_empty():
    assert normalise("<script>alert(1)</script>") == ""
    assert normalise("\u200b\u200c\u200d") == ""


def test_nul_and_lone_surrogates_are_dropped_so_every_database_can_store_the_text():
    assert normalise("is botox\x00 safe?\ud800") == "is botox safe?"
