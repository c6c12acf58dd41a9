import pytest

from actions.article import load_article
from actions.clinic import load_clinic
from actions.knowledge_base import load_knowledge_base


@pytest.fixture(scope="session")
def article():
    return load_article()


@pytest.fixture(scope="session")
def kb():
    return load_knowledge_base()


@pytest.fixture(scope="session")
def clinic():
    return load_clinic()
