"""Retention and patients' requests on the tracker store (SQLite or PostgreSQL).

    python scripts/conversations.py purge  [--older-than-days N] [--dry-run]
    python scripts/conversations.py export --sender ID [--out FILE]
    python scripts/conversations.py delete --sender ID
    python scripts/conversations.py list

All commands read the tracker store from endpoints.yml (or --endpoints FILE;
${ENV_VARS} in it are filled in as Rasa does, so
deploy/endpoints.production.yml works as is) and open it with Rasa's own
SQLTrackerStore: same connection settings, same `events` table. Run them from
the folder Rasa runs in (a relative SQLite path is relative to it).

purge: a conversation (sender) whose latest event is older than N days is
deleted entirely. For a sender still active, whole old sessions are deleted:
every event before the start of the session that holds the oldest event
inside the window, so the current session (what Rasa reloads) is never cut.
N comes from --older-than-days, else BOTOX_RETENTION_DAYS, else 180.

export: every stored event of one sender, as Rasa stored them, as JSON
(stdout or --out). delete: removes every event of one sender.

Exit status 0 on success, 1 when `export`/`delete` found no such sender.
Output never contains message text except the export itself.
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from typing import Dict, List, Optional

from faq.settings import SETTINGS

SESSION_START = "action_session_start"


def open_store(endpoints: str):
    """Rasa's SQLTrackerStore from the tracker_store section of `endpoints`."""
    from rasa.core.tracker_store import SQLTrackerStore, create_tracker_store
    from rasa.core.utils import read_endpoints_from_path

    config = read_endpoints_from_path(endpoints).tracker_store
    if config is None or (config.type or "").lower() != "sql":
        raise SystemExit(f"{endpoints}: tracker_store must be `type: SQL` (SQLite or PostgreSQL)")
    store = create_tracker_store(config)
    store = getattr(store, "_tracker_store", store)
    assert isinstance(store, SQLTrackerStore)
    return store


def _event_model(store):
    return store.SQLEvent


def senders(store) -> List[str]:
    return sorted(asyncio.run(store.keys()))


def purge(store, older_than_days: float, dry_run: bool = False, now: Optional[float] = None) -> Dict:
    """Deletes what is older than the window; returns counts (no content)."""
    Event = _event_model(store)
    cutoff = (now if now is not None else time.time()) - older_than_days * 86400
    deleted_events = deleted_senders = trimmed_senders = 0
    with store.session_scope() as session:
        old_senders = [row[0] for row in session.query(Event.sender_id).filter(Event.timestamp < cutoff).distinct()]
        for sender in old_senders:
            rows = (
                session.query(Event.id, Event.timestamp, Event.action_name)
                .filter(Event.sender_id == sender)
                .order_by(Event.id)
                .all()
            )
            recent = [i for i, row in enumerate(rows) if (row.timestamp or 0) >= cutoff]
            if not recent:
                boundary_id, whole = None, True
            else:
                first = recent[0]
                starts = [i for i in range(first + 1) if rows[i].action_name == SESSION_START]
                keep_from = starts[-1] if starts else 0
                if keep_from == 0:  # nothing before the session to keep
                    continue
                boundary_id, whole = rows[keep_from].id, False
            query = session.query(Event).filter(Event.sender_id == sender)
            if boundary_id is not None:
                query = query.filter(Event.id < boundary_id)
            count = query.count() if dry_run else query.delete(synchronize_session=False)
            deleted_events += count
            deleted_senders += whole
            trimmed_senders += not whole
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return {
        "cutoff": cutoff,
        "older_than_days": older_than_days,
        "deleted_events": deleted_events,
        "deleted_conversations": deleted_senders,
        "trimmed_conversations": trimmed_senders,
        "dry_run": dry_run,
    }


def export(store, sender: str) -> Optional[Dict]:
    Event = _event_model(store)
    with store.session_scope() as session:
        rows = session.query(Event.data).filter(Event.sender_id == sender).order_by(Event.id).all()
    if not rows:
        return None
    return {"sender_id": sender, "exported_at": time.time(), "events": [json.loads(row.data) for row in rows]}


def delete(store, sender: str) -> int:
    Event = _event_model(store)
    with store.session_scope() as session:
        count = session.query(Event).filter(Event.sender_id == sender).delete(synchronize_session=False)
        session.commit()
    return count


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", default="endpoints.yml", help="Rasa endpoints file (tracker_store)")
    commands = parser.add_subparsers(dest="command", required=True)
    p_purge = commands.add_parser("purge", help="delete conversations older than N days")
    p_purge.add_argument("--older-than-days", type=float, default=SETTINGS.retention_days)
    p_purge.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    p_export = commands.add_parser("export", help="one sender's conversation as JSON")
    p_export.add_argument("--sender", required=True)
    p_export.add_argument("--out", help="file to write (default: stdout)")
    p_delete = commands.add_parser("delete", help="delete one sender's conversation")
    p_delete.add_argument("--sender", required=True)
    commands.add_parser("list", help="sender ids in the tracker store")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)

    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    store = open_store(args.endpoints)

    if args.command == "purge":
        if args.older_than_days < 0:
            cli.error("--older-than-days must be >= 0")
        print(json.dumps(purge(store, args.older_than_days, args.dry_run)))
        return 0
    if args.command == "list":
        print("\n".join(senders(store)))
        return 0
    if args.command == "export":
        data = export(store, args.sender)
        if data is None:
            print("no conversation for that sender", file=sys.stderr)
            return 1
        text = json.dumps(data, indent=2, ensure_ascii=False)
        if args.out:
            with open(args.out, "w", encoding="utf-8") as out:
                out.write(text + "\n")
            print(json.dumps({"exported_events": len(data["events"]), "out": args.out}))
        else:
            print(text)
        return 0
    count = delete(store, args.sender)
    print(json.dumps({"deleted_events": count}))
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main())
