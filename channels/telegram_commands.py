"""What the bot tells Telegram about itself, in one place for the channel
(channels/telegram.py, which handles them) and `make telegram-webhook-set`
(scripts/telegram_webhook.py, which registers them): the command menu
(setMyCommands) and the kinds of update the channel reads (setWebhook's
allowed_updates). Telegram then sends no update the code would ignore, and
the menu never offers a command the channel doesn't answer.

No Rasa or web framework here: the command-line script imports it.
"""

from typing import Dict, List, Tuple

from faq.clinic import load_clinic
from faq.knowledge_base import ButtonKey, ReplyKey, load_knowledge_base

# The updates channels/telegram.py handles; every other kind is never sent.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")

START, HELP, SOURCES, CLINIC = "start", "help", "sources", "clinic"
# The menu, in order: command -> its description (data/knowledge_base.yml).
COMMANDS: Tuple[Tuple[str, ReplyKey], ...] = (
    (START, ReplyKey.TELEGRAM_COMMAND_START),
    (HELP, ReplyKey.TELEGRAM_COMMAND_HELP),
    (SOURCES, ReplyKey.TELEGRAM_COMMAND_SOURCES),
    (CLINIC, ReplyKey.TELEGRAM_COMMAND_CLINIC),
)
# Commands answered by the bot itself: the message sent to Rasa in their place.
BOT_MESSAGES = {START: "/greet", SOURCES: f"/{ButtonKey.ASK_SOURCE}"}
# The main topics, as buttons under the greeting /start brings (each sends its topic's intent).
STARTER_BUTTONS = (
    ButtonKey.ASK_SAFETY,
    ButtonKey.ASK_COMMON_SIDE_EFFECTS,
    ButtonKey.ASK_WHO_SHOULD_INJECT,
    ButtonKey.ASK_STOPPING,
)


def bot_commands() -> List[Dict[str, str]]:
    """setMyCommands' `commands`: BotCommand objects."""
    kb, clinic = load_knowledge_base(), load_clinic()
    return [{"command": name, "description": clinic.fill(kb.reply(key))} for name, key in COMMANDS]


def starter_buttons() -> List[Dict[str, str]]:
    """The starter buttons as suggestions (title, payload)."""
    kb = load_knowledge_base()
    return [kb.suggestion(key) for key in STARTER_BUTTONS]
