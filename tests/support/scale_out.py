"""Two Rasa instances sharing one conversation store, as in production.

PostgreSQL tracker store (a database of this machine, created by Rasa from
`test`), the project's Redis lock store (stores/redis_lock_store.py) with
the lease of deploy/endpoints.production.yml, the guarded REST channel; one
action server, run by the first stack. Used by test_scale_out.py and
test_instance_death.py (each on its own ports, database and key prefix).
"""

import json
import threading
from contextlib import contextmanager
from typing import Dict, Iterator, List, Tuple

import pytest
import sqlalchemy as sa
import yaml
from servers import PROJECT_ROOT, RasaStack

LOCK_STORE_TYPE = "stores.redis_lock_store.AtomicRedisLockStore"
PRODUCTION_LOCK_STORE = yaml.safe_load((PROJECT_ROOT / "deploy" / "endpoints.production.yml").read_text())["lock_store"]
# Bursts go to one conversation: no rate limit here.
ENV = {"BOTOX_RATE_PER_MINUTE": "0"}


def postgres(db: str) -> Dict:
    return {
        "type": "SQL",
        "dialect": "postgresql",
        "url": "127.0.0.1",
        "port": 5432,
        "username": "postgres",
        "db": db,
        "login_db": "test",
    }


def redis_lock_store(key_prefix: str, db: int = 1) -> Dict:
    """Production's lock store settings (type, lease), on the local Redis."""
    settings = {k: v for k, v in PRODUCTION_LOCK_STORE.items() if k not in ("url", "port", "password", "db")}
    assert settings["type"] == LOCK_STORE_TYPE
    return {**settings, "url": "127.0.0.1", "port": 6379, "db": db, "key_prefix": key_prefix}


@contextmanager
def rasa_pair(ports: Tuple[int, int, int], db: str, key_prefix: str, reply_timeout_s: float) -> Iterator[Tuple]:
    """Rasa A and B (ports[0], ports[1]) and the action server (ports[2]), started together."""
    rasa_a, rasa_b, actions = ports
    common = dict(
        tracker_store=postgres(db),
        lock_store=redis_lock_store(key_prefix),
        credentials={"channels.rest.GuardedRestInput": {"reply_timeout_s": reply_timeout_s}},
        env=ENV,
    )
    a, b = RasaStack(rasa_a, actions, **common), RasaStack(rasa_b, actions, start_actions=False, **common)
    try:
        a.start_action_server()
        errors: List[Exception] = []

        def start(stack: RasaStack) -> None:
            try:
                stack.start_rasa()
            except Exception as error:  # noqa: BLE001 - re-raised below
                errors.append(error)

        threads = [threading.Thread(target=start, args=(s,)) for s in (a, b)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        if errors:
            raise errors[0]
        yield a, b
    finally:
        b.stop()
        a.stop()


def database_fixture(db: str):
    """A module fixture: an engine on database `db` (the events table Rasa writes)."""

    @pytest.fixture(scope="module")
    def engine() -> Iterator[sa.engine.Engine]:
        connected = sa.create_engine(f"postgresql://postgres@127.0.0.1:5432/{db}")
        yield connected
        connected.dispose()

    return engine


def events(engine, sender: str) -> List[Dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender}
        ).fetchall()
    return [json.loads(r[0]) for r in rows]


def user_turns(stored_events: List[Dict]) -> List[Tuple[str, List[str]]]:
    """(user text, [bot texts]) per user message, in stored order."""
    found: List[Tuple[str, List[str]]] = []
    for event in stored_events:
        if event["event"] == "user":
            found.append((event["text"], []))
        elif event["event"] == "bot" and found:
            found[-1][1].append(event.get("text"))
    return found
