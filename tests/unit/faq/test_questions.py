"""Finding the question in a patient's message, and whether it is about Botox at all."""

import pytest

from faq.questions import mentions_any, split_message


@pytest.mark.parametrize(
    "text, questions",
    [
        ("is botox safe?", ["is botox safe?"]),
        (
            "My mates are going to a botox party next week. If the person doesn't inject it properly, "
            "what kind of problems can happen?",
            ["If the person doesn't inject it properly, what kind of problems can happen?"],
        ),
        (
            "can a beautician do botox? and what could go wrong",
            ["can a beautician do botox?", "and what could go wrong"],
        ),
        (
            "whats the safest way to get botox, and does the brand matter",
            ["whats the safest way to get botox", "does the brand matter"],
        ),
        ("i bruise like a peach will i get bruising from the injections", ["will i get bruising from the injections"]),
        ("ok so is it safe", ["ok so is it safe"]),
        (
            "Is preventative botox worth it at this point, and roughly how many units would I need?",
            ["Is preventative botox worth it at this point", "how many units would I need?"],
        ),
        (
            "If I stop botox will I look older straight away, and how long does each session last anyway?",
            ["If I stop botox will I look older straight away", "how long does each session last anyway?"],
        ),
        ("If I'm honest I love it. Is it safe though?", ["Is it safe though?"]),
    ],
)
def test_the_question_clauses_are_found_after_the_story(text, questions):
    assert list(split_message(text).questions) == questions


def test_a_message_without_a_question_is_classified_by_its_last_sentence():
    parts = split_message("I had botox last year. I loved it. Now I'm thinking about stopping")
    assert parts.questions == () and parts.focus == "Now I'm thinking about stopping"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("is tox safe for a 25 year old", True),
        ("my injections were done by a nurse", True),
        ("does it help crows feet", True),
        ("Dysport or Xeomin?", True),
        ("can i move money between my two accounts", False),
        ("recommend me a good shampoo", False),
        ("what's my phone number", False),
        ("the toxic waste dump near my house", False),
    ],
)
def test_the_subject_check_reads_whole_words(kb, text, expected):
    assert mentions_any(text, kb.subject_words) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("how long will my botox actually last", True),
        ("how long will the bruise from my botox last", True),
        ("how long do i need to wait and then will it all last", False),
    ],
)
def test_a_gap_allows_a_few_words_between_two_words(text, expected):
    assert mentions_any(text, ["how long ... last"]) is expected


@pytest.mark.parametrize(
    "text, expected",
    [("neck pain from staring at screens", True), ("a bruise from the needle", False), ("from ing", True)],
)
def test_a_leading_star_matches_any_beginning(text, expected):
    assert mentions_any(text, ["from *ing"]) is expected


def test_an_idiom_does_not_name_the_subject(kb):
    assert kb.names_subject("the needle went in my forehead")
    assert not kb.names_subject("pins and needles in my feet on the spin bike")
    assert not kb.names_subject_itself("forehead feels tight, sinus headache?")
    assert kb.names_subject("forehead feels tight, sinus headache?")  # a treated area is one of its words


@pytest.mark.parametrize(
    "clause, expected",
    [
        ("how long does botox last?", "duration"),
        ("can i go to the gym after my botox", "aftercare"),
        ("is it safe to get botox while breastfeeding?", "pregnancy"),
        ("how much do you charge for three areas", "cost"),
        ("how much is it worth paying for a good injector?", None),
        ("is 19 too young for botox?", "age"),
        ("whats the youngest age you can get botox?", "age"),
        ("can a dentist do lip filler too?", "fillers"),
        ("does a nurse need a prescription to give me botox?", "regulation"),
        ("can a nurse give me botox?", None),
        ("can i have coffee after botox?", "aftercare"),
        ("can botox lift my eyebrows?", "other_uses"),
        ("can botox lift my droopy eyebrows?", "other_uses"),
        ("what brand do you use at this clinic?", "clinic_logistics"),
        ("is jeuveau the same as botox?", "comparison"),
        ("how do i find a good injector in my city?", "regulation"),
        ("is cosmetic botox safe for someone like me?", "health_conditions"),
        ("is it weird to get botox from a dentist?", None),
        ("will i have pain after?", None),
        ("is starting botox in your twenties too young?", None),
        ("it stopped working after two years, am i immune?", "resistance"),
        ("it stopped working, was it diluted?", None),
        ("whats the difference between a derm and a nurse injector", None),
        ("is botox safe?", None),
        ("what happens if i stop?", None),
    ],
)
def test_questions_the_article_does_not_answer_are_recognised(kb, clause, expected):
    found = kb.uncovered_in(clause)
    assert (found.id if found else None) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("my smile is lopsided since the lip flip", True),
        ("my cheeks are red since yesterday", True),
        ("my new moisturiser made my cheeks red and itchy", False),
        ("my cheeks are red after the botox and my new moisturiser", True),
        ("reserve a table for 5 at red robin", False),
        ("my son split his lip at football and it's really swollen", False),
        ("got a bee sting on my eyebrow and my eye is half shut", False),
        ("my left eye looks droopy lately, never had any treatment or anything", False),
        # the treatment still to come: a symptom now is not its reaction ...
        ("my forehead is itchy today, can i still have botox on friday?", False),
        ("should i rebook my forehead botox? my lips are sore", False),
        # ... unless one was already had
        ("i had botox last week, my forehead is itchy, can i still have my top up?", True),
        # a recurring symptom tied to an everyday moment
        ("my cheeks go red every morning in the shower", False),
        # the symptom blamed on something else, unless the treatment is named
        ("neck pain from looking down at my phone, posture exercises?", False),
        ("my jaw aches after sitting at my laptop all day", False),
        ("my forehead aches after getting my lines done", True),
        ("my forehead is numb from the botox", True),
        ("is it the new face wash? my face is red and tight", False),
        # an idiom is not the treatment: "needles" in "pins and needles"
        ("pins and needles in my cheek after sitting cross-legged", False),
        ("i had botox 3 days ago and I'm a week out from my first botox, my brow is heavy", True),
        ("I'm a week out from my first botox and my eyelid is drooping", True),
        # a condition had before, and the treatment still to come
        ("I have rosacea and my cheeks flush constantly. Could botox help with that?", False),
        ("I had botox last week and my cheeks are red, could botox help with that?", True),
    ],
)
def test_a_symptom_is_about_the_treatment_unless_another_cause_is_named(kb, text, expected):
    assert kb.names_treatment(text) is expected
    assert kb.names_other_cause(text) is (not expected and text != "reserve a table for 5 at red robin")


@pytest.mark.parametrize(
    "text, topics, expected",
    [
        # the article's general "very safe" would mislead someone it says nothing about
        ("I'm 20 weeks pregnant. Is botox safe?", ["safety"], "pregnancy"),
        ("I've got multiple sclerosis, is botox ok for someone like me?", ["safety"], "health_conditions"),
        # a question the article answers, whatever else the message names
        ("I'm allergic to nuts. Can botox cause an allergic reaction?", ["serious_complications"], None),
        ("I'm pregnant and my friend swears cheap botox is fine, is it?", ["price_vs_result"], None),
        ("healthy, no meds, how safe is botox?", ["safety"], None),
    ],
)
def test_a_named_circumstance_makes_a_safety_question_its_own(kb, text, topics, expected):
    found = kb.qualifying(text, topics)
    assert (found.id if found else None) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("is an unknown brand ok or a bad idea?", True),
        ("would a clinic water down the product?", True),
        ("my hairdresser offered to do it for half price", True),
        # everyday words that topics share with other errands are not the article's own
        ("cheapest way to send a parcel", False),
        ("delete the reminder about the dentist", False),
        ("is it safe to cook fish that smells a bit off", False),
    ],
)
def test_the_articles_own_words_for_its_topics(kb, text, expected):
    assert kb.names_topic_words(text) is expected
