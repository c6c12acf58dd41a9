"""What the Telegram channel remembers about chats, in memory and bounded:

- the message whose inline keyboard is still live in each private chat, so a
  new answer can take it away (editMessageReplyMarkup): buttons under an old
  answer would ask about a topic the conversation has left;
- when each group last got the pointer to the private chat, so a group that
  keeps mentioning the bot gets it once per window, not once per message.

Per process: after a restart, or on another instance, an old keyboard stays
(its buttons still work) and a group may get the pointer once more. Neither
is worth a database row.
"""

import time
from collections import OrderedDict
from typing import Callable, Generic, Optional, TypeVar

V = TypeVar("V")

MAX_CHATS = 10_000
# A group gets the pointer to the private chat at most once in this window.
GROUP_POINTER_WINDOW_S = 600.0


class ChatMemory(Generic[V]):
    """chat id -> value, forgetting the least recently written chats beyond `size`."""

    def __init__(self, size: int = MAX_CHATS) -> None:
        self.size = size
        self._values: OrderedDict[str, V] = OrderedDict()

    def get(self, chat_id: str) -> Optional[V]:
        return self._values.get(chat_id)

    def put(self, chat_id: str, value: V) -> None:
        self._values[chat_id] = value
        self._values.move_to_end(chat_id)
        while len(self._values) > self.size:
            self._values.popitem(last=False)

    def pop(self, chat_id: str) -> Optional[V]:
        return self._values.pop(chat_id, None)


class GroupPointers:
    """Whether a group is due the pointer to the private chat."""

    def __init__(self, window_s: float = GROUP_POINTER_WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self.clock = window_s, clock
        self._last: ChatMemory[float] = ChatMemory()

    def due(self, chat_id: str) -> bool:
        """True (and remembered) unless the group got the pointer within the window."""
        now, last = self.clock(), self._last.get(chat_id)
        if last is not None and now - last < self.window_s:
            return False
        self._last.put(chat_id, now)
        return True
