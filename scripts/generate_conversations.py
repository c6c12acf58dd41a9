"""Writes N synthetic conversations straight into a tracker store as Rasa events.

    python scripts/generate_conversations.py --conversations 10000 \
        --endpoints endpoints.yml [--days 30] [--seed 7] [--summary expected.json]

For measuring the clinic review (python -m review) on a large store, and for
its tests: the events are the ones `rasa run` would write (Rasa's own event
classes, the bot's real reply texts and payloads from actions/), with known
figures that --summary writes as JSON. Conversations end before now and start
within the last --days days. SQL tracker stores are written in bulk (one
transaction); other stores through Rasa's TrackerStore.save.

Never point this at a clinic's real tracker store: the conversations are fake.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Dict, List, Tuple

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

from faq.clinic import load_clinic
from faq.dialogue import Conversation, respond
from faq.knowledge_base import load_knowledge_base
from faq.replies import render
from triage.detector import assess
from triage.reply import triage_reply

FALLBACK_QUESTIONS = [
    "can i get botox while pregnant?",
    "is botox ok when pregnant",
    "botox while breastfeeding?",
    "what's the capital of france?",
    "capital of france",
    "how much does botox cost",
    "what does botox cost at your clinic",
    "do you do lip fillers",
    "lip filler prices?",
    "can i drink alcohol after botox",
    "alcohol after botox ok?",
    "how long does botox last",
    "how many months does botox last",
    "what's the weather tomorrow",
    "can men get botox",
]
EMERGENCY_MESSAGES = [
    "I had botox yesterday and now I can't breathe",
    "my throat feels tight and I can't swallow after botox",
    "trouble breathing since my injection",
]
SMALLTALK = {
    "greet": ["hi", "hello", "good morning"],
    "thanks": ["thanks", "thank you!"],
    "goodbye": ["bye", "see you"],
}


def _parse(text: str, intent: str, confidence: float, rng: random.Random) -> Dict:
    ranking = [{"name": intent, "confidence": confidence}]
    if intent == "nlu_fallback":
        guess = rng.uniform(0.25, 0.59)
        ranking = [
            {"name": "nlu_fallback", "confidence": 0.6},
            {"name": "ask_safety", "confidence": guess},
            {"name": "out_of_scope", "confidence": 1 - guess},
        ]
        confidence = 0.6
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking,
        "entities": [],
    }


def conversation_events(sender: str, start: float, rng: random.Random, kb, clinic, expected: Dict) -> List:
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered

    t = start
    events = [
        ActionExecuted("action_session_start", timestamp=t),
        SessionStarted(timestamp=t),
        ActionExecuted("action_listen", timestamp=t),
    ]
    conv = Conversation()
    for _ in range(rng.randint(1, 6)):
        t += rng.uniform(5, 120)
        roll = rng.random()
        if roll < 0.55:
            topic = rng.choice(kb.topics)
            text, intent = rng.choice(topic.examples), topic.intent
            confidence = rng.choice([rng.uniform(0.6, 0.75), rng.uniform(0.75, 1.0), rng.uniform(0.75, 1.0)])
        elif roll < 0.75:
            text, intent, confidence = rng.choice(FALLBACK_QUESTIONS), "nlu_fallback", 0.6
        elif roll < 0.9:
            intent = rng.choice(sorted(SMALLTALK))
            text, confidence = rng.choice(SMALLTALK[intent]), rng.uniform(0.8, 1.0)
        elif roll < 0.97:
            text, intent, confidence = "/tell_me_more", "tell_me_more", 1.0
        else:
            text, intent, confidence = rng.choice(EMERGENCY_MESSAGES), "report_symptom", rng.uniform(0.7, 1.0)
        parse = _parse(text, intent, confidence, rng)
        if intent == "report_symptom":
            parse["triage"] = assess(text).as_dict()  # what the NLU component attaches
        turn = respond(kb, intent, text, conv, partial(triage_reply, kb, clinic), triage=parse.get("triage"))
        reply, conv_after = turn.reply, Conversation(turn.last_topic, turn.shown_topics)
        bot_text, payload = render(reply, clinic)
        events.append(UserUttered(text, parse_data=parse, timestamp=t, input_channel="rest"))
        events.append(ActionExecuted("action_reply", timestamp=t + 0.2))
        events.append(BotUttered(bot_text, data={"custom": payload}, timestamp=t + 0.2))
        events.append(SlotSet("last_topic", conv_after.last_topic, timestamp=t + 0.2))
        events.append(SlotSet("shown_topics", list(conv_after.shown_topics), timestamp=t + 0.2))
        events.append(SlotSet("escalation", reply.escalation, timestamp=t + 0.2))
        events.append(ActionExecuted("action_listen", timestamp=t + 0.3))
        conv = conv_after
        expected["messages"] += 1
        expected["reply_types"][payload["type"]] += 1
        expected["per_day_messages"][time.strftime("%Y-%m-%d", time.gmtime(t))] += 1
        if payload["type"] == "answer" and payload["topic"]:
            expected["answers_per_topic"][payload["topic"]] += 1
        if payload["escalation"] != "none":
            expected["escalations"][payload["escalation"]] += 1
    return events


def generate(n: int, days: float, seed: int, now: float) -> Tuple[List[Tuple[str, List]], Dict]:
    rng = random.Random(seed)
    kb, clinic = load_knowledge_base(), load_clinic()
    expected = {
        "conversations": n,
        "messages": 0,
        "reply_types": Counter(),
        "answers_per_topic": Counter(),
        "escalations": Counter(),
        "per_day_messages": Counter(),
    }
    conversations = []
    for i in range(n):
        sender = f"synthetic-{seed}-{i:06d}"
        # Start early enough that the last message (<= 6 * 120 s later) is still before now.
        start = now - 900 - rng.uniform(0, days * 86400 - 900)
        conversations.append((sender, conversation_events(sender, start, rng, kb, clinic, expected)))
    return conversations, {k: dict(v) if isinstance(v, Counter) else v for k, v in expected.items()}


def write(store, conversations) -> None:
    from rasa.core.tracker_store import SQLTrackerStore

    if isinstance(store, SQLTrackerStore):
        table = store.SQLEvent.__table__
        rows = []
        for sender, events in conversations:
            for event in events:
                data = event.as_dict()
                rows.append(
                    {
                        "sender_id": sender,
                        "type_name": data["event"],
                        "timestamp": event.timestamp,
                        "intent_name": (data.get("parse_data") or {}).get("intent", {}).get("name"),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                )
        with store.engine.begin() as connection:
            for i in range(0, len(rows), 5000):
                connection.execute(table.insert(), rows[i : i + 5000])
        return
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.load("domain.yml")

    async def save_all():
        for sender, events in conversations:
            await store.save(DialogueStateTracker.from_events(sender, events, domain.slots))

    asyncio.run(save_all())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--conversations", "-n", type=int, default=10000)
    p.add_argument("--endpoints", required=True, help="endpoints file whose tracker_store receives the events")
    p.add_argument("--days", type=float, default=30, help="spread the conversations over the last N days")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--summary", help="write the expected figures as JSON")
    args = p.parse_args(argv)
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.utils.endpoints import read_endpoint_config

    config = read_endpoint_config(args.endpoints, "tracker_store")
    if config is None or config.type is None:
        p.error(f"{args.endpoints} configures no persistent tracker_store")
    started = time.perf_counter()
    conversations, expected = generate(args.conversations, args.days, args.seed, time.time())
    store = TrackerStore.create(config, domain=Domain.load("domain.yml"))
    write(store, conversations)
    events = sum(len(e) for _, e in conversations)
    print(
        f"wrote {len(conversations)} conversations, {expected['messages']} messages, {events} events "
        f"in {time.perf_counter() - started:.1f}s"
    )
    if args.summary:
        Path(args.summary).write_text(json.dumps(expected, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
