"""Answer feedback on Telegram, in-process against the fake Bot API: the row of
two buttons under an answer, a tap sent to the bot as faq.feedback's message,
"What was missing?" opening the reply field, and a reply to it as the comment."""

import pytest
from test_telegram_channel import FEEDBACK, HELPFUL, NOT_HELPFUL, USER, Bot, callback, message, private

from channels.telegram import feedback_buttons, plain_text
from channels.telegram_format import MAX_CALLBACK_DATA_BYTES, keyboard, valid_callback_data
from faq.feedback import feedback_message
from faq.knowledge_base import ReplyKey


def test_only_an_answer_gets_the_feedback_row_of_two_small_buttons_after_at_most_three_others():
    suggestions = [{"title": f"T{i}", "payload": f"/ask_{i}"} for i in range(5)]
    rows = keyboard({"type": "answer", "suggestions": suggestions}, feedback=("Yes", "No"))["inline_keyboard"]
    assert [len(r) for r in rows] == [1, 1, 1, 2]
    assert rows[-1] == [{"text": "Yes", "callback_data": HELPFUL}, {"text": "No", "callback_data": NOT_HELPFUL}]
    for kind in ("fallback", "triage", "smalltalk", "handoff"):
        markup = keyboard({"type": kind, "suggestions": suggestions}, feedback=("Yes", "No")) or {}
        assert all(b.get("callback_data") not in FEEDBACK for row in markup.get("inline_keyboard", []) for b in row)


def test_feedback_data_fits_telegrams_64_bytes_and_only_our_two_messages_pass():
    assert all(len(d.encode()) < MAX_CALLBACK_DATA_BYTES and valid_callback_data(d) for d in FEEDBACK)
    assert not valid_callback_data('/give_feedback{"verdict":"great"}')
    assert not valid_callback_data(feedback_message("not_helpful", "a comment in a button"))


@pytest.mark.asyncio
async def test_helpful_is_acknowledged_and_sent_to_the_bot(channel, fake):
    bot = Bot(suggestions=(), kind="smalltalk")
    await channel.handle_update(callback(HELPFUL, chat=private(4401)), bot)
    assert fake.calls("answerCallbackQuery") == [{"callback_query_id": "cbq-1"}]
    assert [m.text for m in bot.messages] == [HELPFUL]
    [thanks] = fake.calls("sendMessage")
    assert "reply_markup" not in thanks


@pytest.mark.asyncio
async def test_not_helpful_asks_what_was_missing_in_the_reply_field_and_the_reply_is_the_comment(channel, fake):
    chat = private(4402)
    await channel.handle_update(message("is botox safe?", chat=chat), Bot())
    answer_id = fake.answered("sendMessage")[-1]["message_id"]
    assert [b["text"] for b in fake.keyboard(4402, answer_id)][-2:] == list(feedback_buttons())
    prompt = Bot(suggestions=(), kind="smalltalk")
    prompt.answer = plain_text(ReplyKey.FEEDBACK_ASK_COMMENT)
    await channel.handle_update(callback(NOT_HELPFUL, chat=chat), prompt)
    asked = fake.calls("sendMessage")[-1]
    assert asked["reply_markup"] == {"force_reply": True, "input_field_placeholder": "What was missing? (optional)"}
    assert fake.keyboard(4402, answer_id) == []  # a new reply takes the answer's buttons off, as always
    asked_id = fake.answered("sendMessage")[-1]["message_id"]

    bot = Bot(suggestions=(), kind="smalltalk")
    replied = {"message_id": asked_id, "date": 1700000001, "chat": chat, "text": asked["text"]}
    replied["from"] = {"id": 7000001, "is_bot": True, "first_name": "Clinic FAQ"}
    await channel.handle_update(message("  the price\nper area ", chat=chat, reply_to_message=replied), bot)
    assert [m.text for m in bot.messages] == [feedback_message("not_helpful", "the price per area")]
    # The prompt had no inline keyboard to take off.
    assert {"chat_id": "4402", "message_id": asked_id} not in fake.calls("editMessageReplyMarkup")


@pytest.mark.asyncio
async def test_a_reply_to_another_message_is_an_ordinary_question(channel, fake):
    bot = Bot()
    earlier = {"message_id": 5, "date": 1700000001, "chat": private(4403), "text": "Answer <1>"}
    earlier["from"] = {"id": 7000001, "is_bot": True, "first_name": "Clinic FAQ"}
    await channel.handle_update(message("and for a nurse?", chat=private(4403), reply_to_message=earlier), bot)
    own = {**earlier, "from": USER, "text": plain_text(ReplyKey.FEEDBACK_ASK_COMMENT)}  # quoting the bot's words
    await channel.handle_update(message("what was missing?", chat=private(4403), reply_to_message=own), bot)
    assert [m.text for m in bot.messages] == ["and for a nurse?", "what was missing?"]
