import pytest

from faq.article import load_article
from faq.clinic import load_clinic
from faq.knowledge_base import load_knowledge_base


@pytest.fixture(scope="session")
def article():
    return load_article()


@pytest.fixture(scope="session")
def kb():
    return load_knowledge_base()


@pytest.fixture(scope="session")
def clinic():
    return load_clinic()


@pytest.fixture(scope="session")
def symptom_reply(kb, clinic):
    """The reply to a symptom report, as the action server wires it."""
    from functools import partial

    from triage.reply import triage_reply

    return partial(triage_reply, kb, clinic)
