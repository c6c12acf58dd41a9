"""What the Rasa process sets up once when it starts, whatever channels it serves.

Every project channel (channels/rest.py, channels/telegram.py) calls
`register(blueprint)`, so a REST-only, a Telegram-only and a both-channels
deployment all get the same start-up; the listeners are idempotent, so two
channels registering them is the same as one.

- before the server starts (before Rasa loads the model): the patient-facing
  texts (data/knowledge_base.yml, clinic.yml) are loaded and checked, so a
  missing text stops the start instead of the first safe reply; and Rasa's
  action-response schema check is replaced by a cached validator
  (channels/speedups.py). That used to be a side effect of importing
  channels.rest, so a process without the REST channel ran without it.
- before the server starts: Sanic's limit on any request body, whichever
  route, goes from 100 MB down to MAX_REQUEST_BYTES (64 KB). Sanic reads a
  body before the route's code runs, so a webhook checking a secret (the
  Telegram channel) would otherwise buffer 100 MB first. The REST channel
  applies its own, smaller cap (16 KB, channels/rest.py); Telegram updates
  are a few KB (texts at most 4,096 characters).
- after the server starts (the agent is loaded): the tracker store fails
  closed. Rasa's FailSafeTrackerStore would, with the database down, answer
  without the conversation's history and keep the new events in this
  process's memory (lost on restart, invisible to the other instances,
  never written back), and log the database error with its SQL parameters.
  Through Rasa's own `on_tracker_store_error` hook the error is raised
  instead: nothing is processed, the patient gets the safe reply
  (channels/guarded.py), the log gets the error type only. It used to be
  installed by the REST channel on its messages, so a Telegram-only
  deployment kept Rasa's default. And a long conversation goes on in a new
  session every BOTOX_SESSION_MAX_TURNS messages, so a turn's cost stays
  flat (channels/sessions.py).
"""

import logging
from typing import Any

from rasa.core.tracker_store import FailSafeTrackerStore
from sanic import Blueprint

from channels.sessions import bound_sessions
from channels.speedups import action_response_validation_cached, cache_action_response_validation
from faq.clinic import load_clinic
from faq.knowledge_base import load_knowledge_base
from faq.settings import SETTINGS

logger = logging.getLogger(__name__)

# Any request body, any route (see above); nginx caps /webhooks/ at 16 KB too.
MAX_REQUEST_BYTES = 64 * 1024


class TrackerStoreUnavailable(Exception):
    """The conversation store failed; the message is not processed."""


def _raise_tracker_store_error(error: Exception) -> None:
    # Type only: SQLAlchemy's message quotes the SQL parameters (message text).
    logger.error("tracker_store.unavailable error=%s; message not processed", type(error).__name__)
    raise TrackerStoreUnavailable(type(error).__name__) from None


def fail_closed_tracker_store(agent: Any) -> bool:
    """Installs the hook on the agent's FailSafeTrackerStore (idempotent)."""
    store = getattr(agent, "tracker_store", None)
    if not isinstance(store, FailSafeTrackerStore):
        return False
    store._on_tracker_store_error = _raise_tracker_store_error
    return True


async def before_server_start(app: Any, _loop: Any) -> None:
    # Read by each new connection, so it holds from the first request on.
    app.config.REQUEST_MAX_SIZE = min(app.config.REQUEST_MAX_SIZE, MAX_REQUEST_BYTES)
    load_knowledge_base()
    load_clinic()
    cache_action_response_validation()


async def after_server_start(app: Any, _loop: Any) -> None:
    agent = getattr(app.ctx, "agent", None)
    store = getattr(agent, "tracker_store", None)
    if bound_sessions(store, SETTINGS.session_max_turns):
        logger.info("startup: a session goes on in a new one every %d user messages", SETTINGS.session_max_turns)
    if getattr(store, "_on_tracker_store_error", None) is _raise_tracker_store_error:
        return  # another channel's listener did it
    if fail_closed_tracker_store(agent):
        logger.info(
            "startup: the tracker store fails closed; action-response validator cached=%s",
            action_response_validation_cached(),
        )
    else:
        logger.warning("startup: no FailSafeTrackerStore on the agent; the tracker store does not fail closed")


def register(blueprint: Blueprint) -> None:
    """Adds the start-up listeners to a channel's blueprint."""
    blueprint.listener("before_server_start")(before_server_start)
    blueprint.listener("after_server_start")(after_server_start)
