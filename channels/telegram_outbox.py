"""Telegram replies that Telegram has not accepted yet, kept until it does.

A reply is sent at once (channels/telegram.py). When Telegram does not take
it, because the network failed, Telegram answered 5xx, or it asked us to slow
down (429 with `retry_after`), the reply is not lost: it becomes a row of the
`telegram_outbox` table, in the tracker store's own SQL database (SQLite for
`make run`, PostgreSQL in production, through SQLAlchemy), and a background
task of the Rasa process sends it again:

- after 1, 2, 4, 8, 16, 32, then every 60 seconds (RetryPolicy.backoff_s), or
  after exactly as long as a 429's `retry_after` says, however long, as long
  as that is within the retry window: 10 minutes from the first attempt;
- in order: a chat's later replies wait behind its earlier one (a reply the
  channel sends while one of the chat's replies is waiting goes to the table
  too, behind it);
- once: a row is claimed (`claimed_until`) before it is sent, so two Rasa
  instances draining the same table don't both send it, and deleted once
  Telegram has accepted it;
- across a restart: the rows are in the database, and the task drains them
  when the process is back.

A 400 (HTML Telegram can't parse) is retried at once as plain text; a 403
(the patient blocked the bot) or any other refusal ends that reply. A reply
that finally fails is logged with the sender's tag, at ERROR when it was an
emergency reply: an emergency is never dropped silently. A 403 is logged at
INFO: the patient chose to block the bot, nothing is broken.

The rows hold the reply's text (health data) for at most the retry window.
Every wait is multiplied by BOTOX_RETRY_TIME_SCALE (tests run the same
schedule at a fraction of the time); the clock is injectable.
"""

import asyncio
import html
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from channels.telegram_api import BotApi, TelegramApiError
from faq.settings import SETTINGS

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Unscaled: a claim must outlast one send (the Bot API client times out after 15 s).
CLAIM_S = 60.0
# How often the table is read even with nothing due here (rows of a restart or another instance).
POLL_S = 2.0
MAX_ROWS_PER_PASS = 500

METADATA = sa.MetaData()
OUTBOX = sa.Table(
    "telegram_outbox",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("chat_id", sa.String(64), nullable=False, index=True),
    sa.Column("params", sa.Text, nullable=False),  # the sendMessage call, JSON
    sa.Column("emergency", sa.Boolean, nullable=False),
    sa.Column("sender_tag", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("give_up_at", sa.Float, nullable=False),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("claimed_until", sa.Float),
)


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again, in seconds of `scale`d time."""

    scale: float = 1.0
    window_s: float = 600.0
    backoff_s: Tuple[float, ...] = (1, 2, 4, 8, 16, 32, 60)

    @classmethod
    def from_settings(cls) -> "RetryPolicy":
        return cls(scale=SETTINGS.retry_time_scale)

    def wait(self, attempts: int, retry_after: Optional[float]) -> float:
        """The wait after the `attempts`-th failed attempt."""
        if retry_after is not None:
            return max(0.0, retry_after) * self.scale
        return self.backoff_s[min(attempts, len(self.backoff_s)) - 1] * self.scale

    @property
    def window(self) -> float:
        return self.window_s * self.scale


def plain_params(params: Dict[str, Any]) -> Dict[str, Any]:
    """The same message without HTML or buttons: the last resort after a 400."""
    return {"chat_id": params["chat_id"], "text": html.unescape(re.sub(r"<[^>]+>", "", params["text"]))}


def tracker_store_engine(agent: Any) -> Optional[sa.engine.Engine]:
    """The SQLAlchemy engine of the agent's SQL tracker store, if it has one
    (Rasa wraps the store: FailSafeTrackerStore, AwaitableTrackerStore)."""
    store = getattr(agent, "tracker_store", None)
    for _ in range(5):
        if isinstance(getattr(store, "engine", None), sa.engine.Engine):
            return store.engine  # type: ignore[union-attr]
        store = getattr(store, "_tracker_store", None)
    return None


class Outbox:
    """The table, and the task that drains it (one per Rasa process)."""

    def __init__(self, api: BotApi, policy: Optional[RetryPolicy] = None, clock: Callable[[], float] = time.time):
        self.api, self.policy, self.clock = api, policy or RetryPolicy.from_settings(), clock
        self.engine: Optional[sa.engine.Engine] = None
        # Replies of a chat waiting in the table, as this process knows them: its
        # next reply queues behind them instead of overtaking them.
        self._waiting: Dict[str, int] = {}
        # One thread: the database calls never block the event loop and never race each other.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="telegram-outbox")
        self._wake: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task[None]] = None

    # ---- database ------------------------------------------------------------

    async def _db(self, work: Callable[..., T], *args: Any) -> T:
        if self.engine is None:
            await self.bind(None)
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    async def bind(self, engine: Optional[sa.engine.Engine]) -> None:
        """Uses `engine` (the tracker store's); without one, an in-memory
        database (replies waiting for Telegram are then lost on a restart)."""
        if engine is None:
            logger.warning("telegram.outbox.in_memory: no SQL tracker store; waiting replies don't survive a restart")
            engine = sa.create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        self.engine = engine
        counts = await asyncio.get_running_loop().run_in_executor(self._executor, self._create_and_count)
        self._waiting = counts
        if counts:
            logger.info("telegram.outbox.resumed replies=%d chats=%d", sum(counts.values()), len(counts))

    def _create_and_count(self) -> Dict[str, int]:
        assert self.engine is not None
        try:
            METADATA.create_all(self.engine, checkfirst=True)
        except sa.exc.SQLAlchemyError:  # another instance created it at the same moment
            METADATA.create_all(self.engine, checkfirst=True)
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(OUTBOX.c.chat_id, sa.func.count()).group_by(OUTBOX.c.chat_id))
            return {chat: count for chat, count in rows}

    def _insert(self, rows: List[Dict[str, Any]]) -> None:
        assert self.engine is not None
        with self.engine.begin() as connection:
            connection.execute(OUTBOX.insert(), rows)

    def _due_rows(self, now: float) -> List[Any]:
        assert self.engine is not None
        query = (
            sa.select(OUTBOX)
            .where(sa.or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now))
            .order_by(OUTBOX.c.id)
            .limit(MAX_ROWS_PER_PASS)
        )
        with self.engine.connect() as connection:
            return list(connection.execute(query))

    def _claim(self, row_id: int, now: float) -> bool:
        assert self.engine is not None
        unclaimed = sa.or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now)
        with self.engine.begin() as connection:
            result = connection.execute(
                OUTBOX.update().where(OUTBOX.c.id == row_id, unclaimed).values(claimed_until=now + CLAIM_S)
            )
            return result.rowcount == 1

    def _update(self, row_id: int, values: Dict[str, Any]) -> None:
        assert self.engine is not None
        with self.engine.begin() as connection:
            connection.execute(OUTBOX.update().where(OUTBOX.c.id == row_id).values(claimed_until=None, **values))

    def _delete(self, row_id: int) -> None:
        assert self.engine is not None
        with self.engine.begin() as connection:
            connection.execute(OUTBOX.delete().where(OUTBOX.c.id == row_id))

    # ---- what the channel calls -----------------------------------------------

    def waiting(self, chat_id: str) -> bool:
        """Whether a reply of this chat is waiting (a new one must queue behind it)."""
        return self._waiting.get(str(chat_id), 0) > 0

    async def put(
        self, messages: List[Dict[str, Any]], emergency: bool, tag: str, error: Optional[TelegramApiError] = None
    ) -> None:
        """Keeps these sendMessage calls (one reply, in order) for the drainer.
        `error`: why the first of them just failed (None: it was not tried,
        because an earlier reply of the chat is waiting)."""
        now = self.clock()
        attempts = 1 if error is not None else 0
        first_try = now + (self.policy.wait(1, error.retry_after) if error is not None else 0.0)
        if error is not None and first_try > now + self.policy.window:
            self.dropped(tag, emergency, f"retry_after {error.retry_after}s is beyond the retry window")
            return
        rows = [
            {
                "chat_id": str(params["chat_id"]),
                "params": json.dumps(params),
                "emergency": emergency,
                "sender_tag": tag,
                "attempts": attempts if i == 0 else 0,
                "give_up_at": now + self.policy.window,
                "next_attempt_at": first_try,
                "claimed_until": None,
            }
            for i, params in enumerate(messages)
        ]
        try:
            await self._db(self._insert, rows)
        except Exception as error_db:  # noqa: BLE001 - log it, never raise into the webhook
            self.dropped(tag, emergency, f"the outbox table is unavailable ({type(error_db).__name__})")
            return
        chat = str(messages[0]["chat_id"])
        self._waiting[chat] = self._waiting.get(chat, 0) + len(rows)
        logger.warning(
            "telegram.outbox.queued sender=%s messages=%d emergency=%s reason=%s",
            tag,
            len(rows),
            emergency,
            error.status if error is not None else "behind an earlier reply",
        )
        if self._wake is not None:
            self._wake.set()

    @staticmethod
    def dropped(tag: str, emergency: bool, reason: str) -> None:
        """A reply that will not reach the patient: never silently."""
        if emergency:
            logger.error("telegram.reply.lost EMERGENCY reply sender=%s reason=%s", tag, reason)
        else:
            logger.warning("telegram.reply.lost sender=%s reason=%s", tag, reason)

    @classmethod
    def refused(cls, tag: str, emergency: bool, status: int) -> None:
        """Telegram will never take this reply (`status`: its HTTP status)."""
        if status == 403:  # blocked by the patient, or they left the chat
            logger.info("telegram.reply.blocked sender=%s emergency=%s", tag, emergency)
        else:
            cls.dropped(tag, emergency, f"Telegram refused it ({status})")

    # ---- the drainer ---------------------------------------------------------

    async def drain_once(self) -> float:
        """Sends what is due, in order per chat; returns how long to wait before the next pass."""
        now = self.clock()
        rows = await self._db(self._due_rows, now)
        blocked: set = set()
        next_due = now + POLL_S
        for row in rows:
            if row.chat_id in blocked:
                continue
            if row.next_attempt_at > now:
                blocked.add(row.chat_id)  # its later replies wait behind it
                next_due = min(next_due, row.next_attempt_at)
                continue
            if not await self._db(self._claim, row.id, now) or not await self._attempt(row):
                blocked.add(row.chat_id)
        return max(0.0, next_due - self.clock())

    async def _attempt(self, row: Any) -> bool:
        """One send of one row; True when it is done with (delivered or dropped)."""
        params = json.loads(row.params)
        try:
            await self.api.call("sendMessage", **params)
        except TelegramApiError as error:
            return await self._failed(row, params, error)
        await self._finish(row)
        logger.info("telegram.outbox.delivered sender=%s attempts=%d", row.sender_tag, row.attempts + 1)
        return True

    async def _failed(self, row: Any, params: Dict[str, Any], error: TelegramApiError) -> bool:
        attempts = row.attempts + 1
        if error.status == 400 and "parse_mode" in params:
            await self._db(self._update, row.id, {"params": json.dumps(plain_params(params)), "attempts": attempts})
            return False  # next pass, as plain text
        if not error.retryable:
            await self._finish(row)
            self.refused(row.sender_tag, row.emergency, error.status)
            return True
        next_attempt = self.clock() + self.policy.wait(attempts, error.retry_after)
        if next_attempt > row.give_up_at:
            await self._finish(row)
            self.dropped(row.sender_tag, row.emergency, f"not accepted within the retry window ({attempts} attempts)")
            return True
        await self._db(self._update, row.id, {"attempts": attempts, "next_attempt_at": next_attempt})
        logger.warning("telegram.outbox.retry sender=%s attempts=%d status=%d", row.sender_tag, attempts, error.status)
        return False

    async def _finish(self, row: Any) -> None:
        await self._db(self._delete, row.id)
        left = self._waiting.get(row.chat_id, 1) - 1
        if left > 0:
            self._waiting[row.chat_id] = left
        else:
            self._waiting.pop(row.chat_id, None)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                wait = await self.drain_once()
            except Exception as error:  # noqa: BLE001 - keep draining; type only (SQL errors quote the text)
                logger.error("telegram.outbox.drain_failed error=%s", type(error).__name__)
                wait = POLL_S
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.01))
            except asyncio.TimeoutError:
                pass

    async def start(self, engine: Optional[sa.engine.Engine]) -> None:
        """Binds the table and starts draining it (server start)."""
        await self.bind(engine)
        self._wake = asyncio.Event()
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
