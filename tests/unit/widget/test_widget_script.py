"""The widget is one hand-written JS file: the few facts it copies from the
server side (the sources intro, the message limit, Rasa's session length, the
intents that need the last answer) must stay equal to their sources, and the
file must stay within its size budget (docs/widget.md)."""

import gzip
import re

import yaml

from faq.contract import Intent
from faq.feedback import MAX_COMMENT_CHARS, feedback_message
from faq.settings import PROJECT_ROOT, SETTINGS

SCRIPT = (PROJECT_ROOT / "widget" / "botox-chat.js").read_text(encoding="utf-8")
GZIP_BUDGET_BYTES = 12_000


def constant(name: str) -> str:
    match = re.search(rf"const {name} = ([^;]+);", SCRIPT)
    assert match, f"{name} not found in widget/botox-chat.js"
    return match.group(1)


def test_the_sources_intro_is_the_knowledge_bases(kb):
    assert constant("SOURCES_INTRO") == f'"{kb.replies["sources_intro"]}"'


def test_the_length_limit_is_the_servers():
    assert int(constant("MAX_CHARS")) == SETTINGS.max_message_chars


def test_the_default_session_length_is_rasas():
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert 'number("session-minutes", {})'.format(domain["session_config"]["session_expiration_time"]) in SCRIPT


def test_follow_ups_that_need_the_last_answer_are_real_intents():
    assert constant("NEEDS_CONTEXT") == f'["/{Intent.TELL_ME_MORE.value}", "/{Intent.ASK_SOURCE.value}"]'


def test_size_budget():
    assert len(gzip.compress(SCRIPT.encode(), compresslevel=9)) < GZIP_BUDGET_BYTES


def test_feedback_is_faq_feedbacks_message():
    """The widget writes faq.feedback's messages itself: `/give_feedback` and the
    entities as compact JSON (JSON.stringify), the comment's length limit."""
    assert constant("FEEDBACK_INTENT") == f'"{feedback_message("helpful").split("{")[0]}"'
    assert int(constant("COMMENT_CHARS")) == MAX_COMMENT_CHARS
    assert "JSON.stringify(comment ? { verdict, comment } : { verdict })" in SCRIPT
    assert feedback_message("not_helpful", "x") == '/give_feedback{"verdict":"not_helpful","comment":"x"}'
