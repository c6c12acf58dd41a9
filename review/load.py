"""Reads conversations from the tracker store Rasa writes to.

The tracker store is the one configured in endpoints.yml (`tracker_store:`),
read with Rasa's own endpoint reader, so `${ENV_VAR}` placeholders and the
same keys work as for `rasa run`.

* SQL stores (SQLite, PostgreSQL, ...): one SQLAlchemy query on Rasa's `events`
  table, only the event types the review needs, only the date range. Read-only:
  no table is created, nothing is written.
* Any other store (Redis, Mongo, Dynamo, custom): Rasa's `TrackerStore.create`,
  `keys()` and `retrieve_full_tracker()`, then the same time filter. Slower (one
  round trip per conversation) but uses only Rasa's public interface.

Both return `(sender_id, event_dict)` pairs in conversation order, where
`event_dict` is Rasa's serialised event (`Event.as_dict()`).
"""

import asyncio
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

# Only these event types carry what the review reports.
REVIEW_EVENT_TYPES = ("user", "bot", "session_started")

RawEvent = Tuple[str, Dict[str, Any]]


class TrackerStoreError(RuntimeError):
    pass


def tracker_store_config(endpoints: Optional[str]):
    """Rasa's EndpointConfig for `tracker_store`, or None (in-memory store)."""
    from rasa.utils.endpoints import read_endpoint_config

    if endpoints and not Path(endpoints).exists():
        raise TrackerStoreError(f"endpoints file not found: {endpoints}")
    return read_endpoint_config(endpoints, "tracker_store") if endpoints else None


def describe(config) -> str:
    """A human-readable name of the store (no password)."""
    if config is None or config.type is None:
        return "in-memory (nothing persisted)"
    if config.type.lower() == "sql":
        import sqlalchemy as sa

        return repr(sa.engine.make_url(sql_url(config)))  # SQLAlchemy masks the password
    return f"{config.type} tracker store"


def sql_url(config):
    """The SQLAlchemy URL Rasa's SQLTrackerStore would connect to."""
    from rasa.core.tracker_store import SQLTrackerStore, validate_port

    kwargs = dict(config.kwargs)
    return SQLTrackerStore.get_db_url(
        dialect=kwargs.get("dialect", "sqlite"),
        host=config.url,
        port=validate_port(kwargs.get("port")),
        db=kwargs.get("db", "rasa.db"),
        username=kwargs.get("username"),
        password=kwargs.get("password"),
        query=kwargs.get("query"),
    )


def read_events(config, start: float, end: float, domain_path: str = "domain.yml") -> List[RawEvent]:
    """Events with start <= timestamp < end, grouped by sender, in stored order."""
    if config is None or config.type is None:
        raise TrackerStoreError(
            "endpoints.yml configures no tracker store: Rasa keeps conversations "
            "in memory only, there is nothing to review"
        )
    if config.type.lower() == "sql":
        return read_sql_events(config, start, end)
    return read_events_via_tracker_store(config, start, end, domain_path)


def read_sql_events(config, start: float, end: float) -> List[RawEvent]:
    import sqlalchemy as sa

    url = sql_url(config)
    kwargs = dict(config.kwargs)
    if kwargs.get("dialect", "sqlite") == "sqlite":
        db = kwargs.get("db", "rasa.db")
        if not Path(db).exists():
            raise TrackerStoreError(f"SQLite tracker store not found: {os.path.abspath(db)}")
        # Read-only: a review must never create or change the database.
        url = f"sqlite:///file:{os.path.abspath(db)}?mode=ro&uri=true"
    engine = sa.create_engine(url)
    try:
        if not sa.inspect(engine).has_table("events"):
            return []
        query = sa.text(
            "SELECT sender_id, data FROM events "
            "WHERE type_name IN :types AND timestamp >= :start AND timestamp < :end "
            "ORDER BY sender_id, id"
        ).bindparams(sa.bindparam("types", expanding=True))
        with engine.connect() as connection:
            rows = connection.execute(query, {"types": list(REVIEW_EVENT_TYPES), "start": start, "end": end})
            loads = json.loads
            return [(sender, loads(data)) for sender, data in rows]
    finally:
        engine.dispose()


def read_events_via_tracker_store(config, start: float, end: float, domain_path: str) -> List[RawEvent]:
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.domain import Domain

    domain = Domain.load(domain_path) if Path(domain_path).exists() else Domain.empty()
    store = TrackerStore.create(config, domain=domain)

    async def collect() -> List[RawEvent]:
        out: List[RawEvent] = []
        for sender in sorted(await store.keys()):
            tracker = await store.retrieve_full_tracker(sender)
            if tracker is None:
                continue
            for event in tracker.events:
                data = event.as_dict()
                if data.get("event") in REVIEW_EVENT_TYPES and start <= (event.timestamp or 0) < end:
                    out.append((sender, data))
        return out

    return asyncio.run(collect())


def group_by_sender(events: Iterable[RawEvent]) -> Dict[str, List[Dict[str, Any]]]:
    grouped: Dict[str, List[Dict[str, Any]]] = {}
    for sender, event in events:
        grouped.setdefault(sender, []).append(event)
    return grouped
