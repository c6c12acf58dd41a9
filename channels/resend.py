"""A message sent again is answered once: processed and stored at most once.

A client that got no answer (its connection broke, or the instance that was
answering died after storing the turn) sends the message again, maybe to
another instance. With the same client message id (`message_id` in the REST
body, docs/payload.md) the second copy is not processed again: under the
conversation's lock, the stored conversation is searched for a user message
with that id, and if it is there the bot messages stored after it are sent
back instead. The search runs under the lock, so a copy that arrives while
the first is still being answered waits for it and then finds it.

    await handle_once(agent, message)   # in place of agent.handle_message(message)

The current session is searched (what Rasa loads anyway). A long session goes
on in a new one when the next message arrives (channels/sessions.py), and
that may be another message of the same client while the resend is on its
way: the new session's start records the ended session's message ids, and
only a resend of one of those loads the whole conversation.
"""

import logging
import re
from typing import Any, Dict, List, Optional, Sequence

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, Event, UserUttered

from channels.guard import sender_tag
from channels.sessions import earlier_message_ids

logger = logging.getLogger(__name__)

# What a client may use as a message id (the widget: 22 random base64url characters).
MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def stored_replies(events: Sequence[Event], message_id: str) -> Optional[List[Dict[str, Any]]]:
    """The bot messages that answered the user message `message_id`, in the
    shape an output channel sends (text, custom, buttons); None when the
    conversation holds no such message."""
    replies: Optional[List[Dict[str, Any]]] = None
    for event in events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break
            if event.message_id == message_id:
                replies = []
        elif replies is not None and isinstance(event, BotUttered):
            replies.append({"text": event.text, **{key: value for key, value in event.data.items() if value}})
    return replies


async def handle_once(agent: Any, message: UserMessage) -> None:
    """Rasa's Agent.handle_message, except for a message already answered."""
    async with agent.lock_store.lock(message.sender_id):
        tracker = await agent.tracker_store.retrieve(message.sender_id)
        replies = stored_replies(tracker.events, message.message_id) if tracker else None
        if replies is None and tracker and message.message_id in earlier_message_ids(tracker):
            # Answered just before the session went on in a new one (a rare, whole load).
            full = await agent.tracker_store.retrieve_full_tracker(message.sender_id)
            replies = stored_replies(full.events, message.message_id) if full else None
        if replies is None:
            await agent.processor.handle_message(message)
            return
        tag = sender_tag(message.sender_id)
        logger.info("message.resent sender=%s replies=%d: answered from the store", tag, len(replies))
        for reply in replies:
            await message.output_channel.send_response(message.sender_id, reply)
