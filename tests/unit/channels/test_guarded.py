"""The guarded-message routine (channels/guarded.py) in-process, with a stand-in
for Rasa's agent (its NLU says "emergency" for "can't breathe") and for the bot."""

import pytest
from rasa.core.channels.channel import UserMessage

from channels.guard import Guard
from channels.guarded import GuardedMessages, safe_reply, scan_windows
from channels.rest import RestOutput
from faq.clinic import load_clinic
from faq.feedback import feedback_message
from faq.knowledge_base import ReplyKey, load_knowledge_base

CLINIC = load_clinic()
EMERGENCY_LINE = CLINIC.fill(load_knowledge_base().reply(ReplyKey.EMERGENCY_LINE))
REPORT = "I had botox yesterday and now I can't breathe"


class Agent:
    """Rasa's agent as the routine uses it: only its NLU."""

    def __init__(self):
        self.parsed = []

    async def parse_message(self, text):
        self.parsed.append(text)
        return {"triage": {"level": "emergency"}} if "can't breathe" in text else {}


class Bot:
    """Rasa's on_new_message: records the message, answers or not."""

    def __init__(self, answer=True):
        self.messages, self.answer = [], answer

    async def __call__(self, message):
        self.messages.append(message)
        if self.answer:
            await message.output_channel.send_response(message.sender_id, {"text": "an answer"})


async def handle(text, bot=None, guard=None, sender="patient"):
    bot, agent, output = bot or Bot(), Agent(), RestOutput()
    routine = GuardedMessages("rest", reply_timeout_s=5, guard=guard or Guard(burst=100, per_minute=60))
    await routine.handle(UserMessage(text, output, sender), bot, agent)
    custom = [m["custom"] for m in output.messages if "custom" in m]
    return bot, agent, output.messages, custom


@pytest.mark.parametrize("reason", ["too_long", "rate_limited", "error"])
def test_every_refusal_and_failure_ends_with_the_emergency_line(reason):
    text, payload = safe_reply(reason)
    assert text.endswith(EMERGENCY_LINE) and payload["escalation"] == "none"
    assert CLINIC.contact["phone"] in text


@pytest.mark.parametrize("reason", ["too_long", "rate_limited", "error"])
def test_an_emergency_refusal_puts_the_advice_first_and_never_asks_to_wait_or_resend(reason):
    text, payload = safe_reply(reason, emergency=True)
    assert payload["escalation"] == "emergency" and text.startswith(CLINIC.advice("emergency"))
    assert "wait" not in text.lower() and "again" not in text.lower() and "few sentences" not in text


@pytest.mark.asyncio
async def test_the_bot_reads_the_normalised_text():
    bot, _, items, _ = await handle("<b>I c\u0430n't bre\u200bathe</b>")
    assert [m.text for m in bot.messages] == ["I can't breathe"]
    assert items == [{"recipient_id": "patient", "text": "an answer"}]


@pytest.mark.asyncio
async def test_a_too_long_message_is_read_whole_for_an_emergency():
    text = "please help " * 200 + REPORT  # the report starts after character 2,400
    bot, agent, _, [payload] = await handle(text)
    assert bot.messages == []  # refused: not passed on to Rasa
    assert payload["escalation"] == "emergency" and "too long" in payload["text"]
    assert max(len(t) for t in agent.parsed) <= 2000


@pytest.mark.asyncio
async def test_a_rate_limited_emergency_gets_the_advice_and_no_wait():
    guard = Guard(burst=1, per_minute=1)
    await handle("hello", guard=guard, sender="hammer")
    bot, _, _, [payload] = await handle(REPORT, guard=guard, sender="hammer")
    assert bot.messages == []
    assert payload["escalation"] == "emergency" and "wait" not in payload["text"]


@pytest.mark.asyncio
async def test_a_silent_bot_gets_the_safe_reply_but_a_silent_command_does_not():
    _, _, _, [payload] = await handle("is botox safe?", bot=Bot(answer=False))
    assert "something went wrong" in payload["text"] and payload["text"].endswith(EMERGENCY_LINE)
    _, _, items, _ = await handle("/restart", bot=Bot(answer=False))
    assert items == []


@pytest.mark.asyncio
async def test_an_emergency_written_as_feedback_gets_the_emergency_advice_when_the_bot_fails():
    comment = feedback_message("not_helpful", REPORT)
    _, agent, _, [payload] = await handle(comment, bot=Bot(answer=False))
    assert agent.parsed == [REPORT]  # the comment, not the /give_feedback command, was read
    assert payload["escalation"] == "emergency"


def test_scan_windows_cover_the_text_with_overlap():
    text = " ".join(f"word{i}" for i in range(3000))  # ~25,000 characters
    pieces = scan_windows(text, 2000, overlap=300)
    assert all(len(p) <= 2000 for p in pieces)
    assert pieces[0].startswith("word0 ") and pieces[-1].endswith("word2999")
    # every 250-character stretch is whole in some window, wherever it starts
    for start in range(0, len(text) - 250, 97):
        assert any(text[start : start + 250] in p for p in pieces), start
    assert scan_windows("short", 2000) == ["short"]
