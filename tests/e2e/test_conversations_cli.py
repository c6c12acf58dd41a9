"""scripts/conversations.py (retention purge, export, delete) on SQLite and on
the PostgreSQL server of this machine (database botox_prod_test), through the
real command line and Rasa's own SQLTrackerStore."""

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import yaml
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from servers import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "conversations.py"
DAY = 86400
POSTGRES = {
    "type": "SQL",
    "dialect": "postgresql",
    "url": "127.0.0.1",
    "port": 5432,
    "username": "postgres",
    "db": "botox_prod_test",
    "login_db": "test",
}


def _session(start: float, texts):
    events = [
        ActionExecuted("action_session_start", timestamp=start),
        SessionStarted(timestamp=start),
        ActionExecuted("action_listen", timestamp=start),
    ]
    for i, text in enumerate(texts):
        t = start + 10 * (i + 1)
        events += [
            UserUttered(text, {"name": "greet", "confidence": 1.0}, timestamp=t),
            ActionExecuted("action_reply", timestamp=t + 1),
            BotUttered("reply", timestamp=t + 1),
            ActionExecuted("action_listen", timestamp=t + 2),
        ]
    return events


@pytest.fixture(params=["sqlite", "postgresql"])
def store_config(request, tmp_path):
    if request.param == "sqlite":
        config = {"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "conversations.db")}
    else:
        config = dict(POSTGRES)
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(yaml.safe_dump({"tracker_store": config}))
    kwargs = {k: v for k, v in config.items() if k not in ("type", "url")}
    store = SQLTrackerStore(host=config.get("url"), **kwargs)
    prefix = f"cli-{uuid.uuid4().hex[:8]}-"
    yield store, endpoints, prefix
    with store.session_scope() as session:
        session.query(store.SQLEvent).filter(store.SQLEvent.sender_id.like(prefix + "%")).delete(
            synchronize_session=False
        )
        session.commit()
    store.engine.dispose()


def _save(store, sender, events):
    asyncio.run(store.save(DialogueStateTracker.from_events(sender, events)))


def _events(store, sender):
    with store.session_scope() as session:
        return [
            json.loads(r.data)
            for r in session.query(store.SQLEvent.data)
            .filter(store.SQLEvent.sender_id == sender)
            .order_by(store.SQLEvent.id)
        ]


def _cli(endpoints, *args, env=None):
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--endpoints", str(endpoints), *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SQLALCHEMY_SILENCE_UBER_WARNING": "1", **(env or {})},
    )


def test_purge_deletes_old_conversations_and_old_sessions(store_config):
    store, endpoints, prefix = store_config
    now = time.time()
    old, active, recent = prefix + "old", prefix + "active", prefix + "recent"
    _save(store, old, _session(now - 100 * DAY, ["old question"]))
    _save(store, active, _session(now - 100 * DAY, ["old session"]) + _session(now - DAY, ["new one"]))
    _save(store, recent, _session(now - 2 * DAY, ["recent question"]))

    dry = _cli(endpoints, "purge", "--older-than-days", "30", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["dry_run"] and _events(store, old)

    result = _cli(endpoints, "purge", env={"BOTOX_RETENTION_DAYS": "30"})
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["older_than_days"] == 30
    assert summary["deleted_conversations"] >= 1 and summary["trimmed_conversations"] >= 1
    assert "question" not in result.stdout + result.stderr

    assert _events(store, old) == []
    kept = _events(store, active)
    assert kept[0]["event"] == "action" and kept[0]["name"] == "action_session_start"
    assert [e["text"] for e in kept if e["event"] == "user"] == ["new one"]
    assert len(_events(store, recent)) == len(_session(0, ["x"]))
    # Rasa still loads the trimmed conversation
    tracker = asyncio.run(store.retrieve(active))
    assert tracker.latest_message.text == "new one"


def test_export_then_delete_one_sender(store_config, tmp_path):
    store, endpoints, prefix = store_config
    patient, other = prefix + "patient", prefix + "other"
    _save(store, patient, _session(time.time() - 60, ["is botox safe?", "thanks"]))
    _save(store, other, _session(time.time() - 60, ["hello"]))

    out = tmp_path / "export.json"
    result = _cli(endpoints, "export", "--sender", patient, "--out", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["sender_id"] == patient
    assert [e["text"] for e in data["events"] if e["event"] == "user"] == ["is botox safe?", "thanks"]
    stdout_export = json.loads(_cli(endpoints, "export", "--sender", patient).stdout)
    assert stdout_export["events"] == data["events"]

    result = _cli(endpoints, "delete", "--sender", patient)
    assert result.returncode == 0 and json.loads(result.stdout)["deleted_events"] == len(data["events"])
    assert _events(store, patient) == [] and _events(store, other)
    assert _cli(endpoints, "export", "--sender", patient).returncode == 1
    assert _cli(endpoints, "delete", "--sender", patient).returncode == 1


def test_refuses_a_non_sql_tracker_store(tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(yaml.safe_dump({"tracker_store": {"type": "redis"}}))
    result = _cli(endpoints, "list")
    assert result.returncode != 0 and "type: SQL" in result.stderr
