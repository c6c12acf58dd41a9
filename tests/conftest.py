"""Fixtures every suite shares, and the markers that say what a test needs:
`e2e` (real servers; everything under tests/e2e/), `browser` (chromium) and
`slow`, so `pytest -m "not browser"` and friends pick a lane."""

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


def pytest_collection_modifyitems(items):
    for item in items:
        path = str(item.fspath)
        if "/tests/e2e/" in path:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)
        if "browser" in path or "test_review" in path:
            item.add_marker(pytest.mark.browser)
