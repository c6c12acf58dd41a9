"""The clinic review (python -m review, issue 6).

Unit tests on figures from hand-written Rasa events; the command on a
generated tracker store (figures against the generator's own counts, retention,
privacy, NLU candidates); end to end: conversations sent through the running
bot (RasaStack) into SQLite and PostgreSQL, the review's figures checked against
what the bot replied, and the report rendered in chromium (screenshot in
tests/artifacts/).
"""

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from servers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, PROJECT_ROOT, RasaStack, fresh_postgres_store, payloads

from review import cluster, figures, load, privacy
from review.__main__ import main as review_main

SECRET = "test-secret-not-for-production"
PG_DB = "botox_review_test"


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv(privacy.SECRET_ENV, SECRET)


# --- hand-written events -----------------------------------------------------------------

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc).timestamp()


def user(text, intent, confidence, t, ranking=None, triage=None):
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
        "entities": [],
    }
    if triage:
        parse["triage"] = triage
    return {"event": "user", "timestamp": t, "text": text, "parse_data": parse}


def bot(kind, t, topic=None, escalation="none", text="reply"):
    return {
        "event": "bot",
        "timestamp": t,
        "text": text,
        "data": {"custom": {"type": kind, "topic": topic, "escalation": escalation, "sources": []}},
    }


def session(t):
    return {"event": "session_started", "timestamp": t}


FALLBACK_RANKING = [
    {"name": "nlu_fallback", "confidence": 0.6},
    {"name": "ask_safety", "confidence": 0.41},
    {"name": "greet", "confidence": 0.2},
]

EVENTS = {
    "alice": [
        session(T0),
        user("is botox safe?", "ask_safety", 0.97, T0 + 1),
        bot("answer", T0 + 2, "safety", "routine"),
        user("/tell_me_more", "tell_me_more", 1.0, T0 + 3),
        bot("answer", T0 + 4, "common_side_effects", "routine"),
        user("capital of france?", "nlu_fallback", 0.6, T0 + 5, FALLBACK_RANKING),
        bot("fallback", T0 + 6),
        # a new session the next day: a second conversation
        session(T0 + 86400),
        user("hi", "greet", 0.7, T0 + 86401),
        bot("smalltalk", T0 + 86402),
    ],
    "bob": [
        session(T0 + 100),
        user(
            "I can't breathe after botox",
            "report_symptom",
            0.9,
            T0 + 101,
            triage={"escalation": "emergency", "symptom": "breathing"},
        ),
        bot("triage", T0 + 102, None, "emergency", text="Call 112 now."),
        user("what are serious complications", "ask_serious_complications", 0.65, T0 + 103),
        bot("answer", T0 + 104, "serious_complications", "clinic", text="Call the clinic today."),
        user("/tell_me_more", "tell_me_more", 1.0, T0 + 105),
        bot("fallback", T0 + 106),
    ],
}


def test_exchanges_pair_each_message_with_its_replies():
    exchanges = figures.exchanges_from_events(EVENTS)
    assert [t.text for t in exchanges] == [
        "is botox safe?",
        "/tell_me_more",
        "capital of france?",
        "I can't breathe after botox",
        "what are serious complications",
        "/tell_me_more",
        "hi",
    ]
    fallback = exchanges[2]
    assert (fallback.reply_type, fallback.intent, fallback.guessed_intent, fallback.confidence) == (
        "fallback",
        "nlu_fallback",
        "ask_safety",
        0.41,
    )
    assert exchanges[1].is_payload and exchanges[1].confidence is None
    assert exchanges[3].escalation == "emergency" and exchanges[3].triage["symptom"] == "breathing"
    assert [t.session for t in exchanges if t.sender == "alice"] == [1, 1, 1, 2]


def test_figures_from_events():
    day1 = figures.utc_day(T0)
    f = figures.compute(figures.exchanges_from_events(EVENTS), day1, day1 + timedelta(days=2), low_confidence=0.75)
    assert (f.messages, f.conversations, f.senders) == (7, 3, 2)
    assert f.reply_types == {"answer": 3, "fallback": 2, "triage": 1, "smalltalk": 1}
    assert f.fallbacks == 2 and f.fallback_rate == pytest.approx(2 / 7)
    assert dict(f.answers_per_topic) == {"safety": 1, "common_side_effects": 1, "serious_complications": 1}
    assert f.escalations == {"routine": 2, "clinic": 1, "emergency": 1}
    assert [t.text for t in f.audited] == ["I can't breathe after botox", "what are serious complications"]
    # Button payloads are counted as messages, never as unanswered questions or confidences.
    assert [t.text for t in f.unanswered] == ["capital of france?"]
    assert sorted(f.confidences) == [0.41, 0.65, 0.7, 0.9, 0.97]
    assert [t.text for t in f.low_confidence] == ["what are serious complications", "hi"]
    per_day = list(f.per_day.values())
    assert [d["messages"] for d in per_day] == [6, 1, 0]
    assert [d["conversations"] for d in per_day] == [2, 1, 0]
    assert [d["fallbacks"] for d in per_day] == [2, 0, 0]
    assert per_day[0]["fallback_rate"] == pytest.approx(2 / 6, abs=1e-4) and per_day[2]["fallback_rate"] is None
    assert [(d["routine"], d["clinic"], d["emergency"]) for d in per_day] == [(2, 1, 1), (0, 0, 0), (0, 0, 0)]


def test_figures_only_count_the_requested_days():
    day2 = figures.utc_day(T0) + timedelta(days=1)
    f = figures.compute(figures.exchanges_from_events(EVENTS), day2, day2)
    assert (f.messages, f.conversations, f.reply_types) == (1, 1, {"smalltalk": 1})


def test_an_exchange_without_reply_and_events_before_any_session():
    events = {"x": [user("hello", "greet", 0.9, T0), user("anyone?", "greet", 0.8, T0 + 5), bot("smalltalk", T0 + 6)]}
    exchanges = figures.exchanges_from_events(events)
    assert [t.reply_type for t in exchanges] == [figures.NO_REPLY, "smalltalk"]
    f = figures.compute(exchanges, figures.utc_day(T0), figures.utc_day(T0))
    assert f.conversations == 1 and f.low_confidence == []


def test_grouping_puts_rewordings_together():
    texts = [
        "can i get botox while pregnant?",
        "Can I get Botox while pregnant",
        "is botox ok when pregnant",
        "what's the capital of france?",
        "capital of France",
        "how much does botox cost",
        "what does botox cost at your clinic",
        "what's the weather tomorrow",
    ]
    groups = cluster.group_similar(texts)
    as_sets = [{texts[i] for i in g.members} for g in groups]
    assert set(texts[:3]) in as_sets
    assert set(texts[3:5]) in as_sets
    assert set(texts[5:7]) in as_sets
    assert {"what's the weather tomorrow"} in as_sets
    assert groups[0].count == 3 and groups[0].phrasings[0] == ("can i get botox while pregnant?", 2)
    assert cluster.group_similar([]) == []


def test_greedy_grouping_for_many_distinct_messages(monkeypatch):
    monkeypatch.setattr(cluster, "MAX_AGGLOMERATIVE", 3)
    texts = [
        "can i get botox while pregnant?",
        "is botox ok when pregnant",
        "capital of france",
        "what's the capital of france?",
        "how much does botox cost",
    ]
    as_sets = [{texts[i] for i in g.members} for g in cluster.group_similar(texts)]
    assert set(texts[2:4]) in as_sets and {"how much does botox cost"} in as_sets


def test_pseudonyms_are_stable_keyed_and_not_the_id(tmp_path, monkeypatch):
    a, b = privacy.Pseudonymiser(b"one"), privacy.Pseudonymiser(b"two")
    assert a("+15550100") == a("+15550100") != b("+15550100")
    assert "15550100" not in a("+15550100") and a("x") != a("y")
    monkeypatch.delenv(privacy.SECRET_ENV)
    secret_file = tmp_path / "secret"
    first = privacy.load_secret(secret_file)
    assert privacy.load_secret(secret_file) == first and len(first) >= 32
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"


def test_redaction_masks_contact_details():
    assert privacy.redact("mail me at jane.doe@example.com or +44 7700 900123") == ("mail me at [email] or [number]")
    assert privacy.redact("I had 2 units 3 days ago") == "I had 2 units 3 days ago"


# --- the command on a generated tracker store -------------------------------------------


def write_sqlite_store(tmp_path, conversations):
    """A SQLite tracker store (Rasa's schema) holding the given Rasa events."""
    from rasa.core.tracker_store import SQLTrackerStore

    from scripts.generate_conversations import write

    db = tmp_path / "conversations.db"
    write(SQLTrackerStore(dialect="sqlite", db=str(db)), conversations)
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(yaml.safe_dump({"tracker_store": {"type": "SQL", "dialect": "sqlite", "db": str(db)}}))
    return endpoints


def run_review(tmp_path, endpoints, since, until, name="review", retention_days=None):
    out, nlu, js = tmp_path / f"{name}.html", tmp_path / f"{name}.yml", tmp_path / f"{name}.json"
    retention = ["--retention-days", str(retention_days)] if retention_days is not None else []
    code = review_main(
        retention
        + [
            "--endpoints",
            str(endpoints),
            "--since",
            str(since),
            "--until",
            str(until),
            "--out",
            str(out),
            "--nlu-out",
            str(nlu),
            "--json-out",
            str(js),
        ]
    )
    assert code == 0
    return out.read_text(), nlu.read_text(), json.loads(js.read_text())


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from scripts.generate_conversations import generate

    tmp = tmp_path_factory.mktemp("generated")
    conversations, expected = generate(150, days=10, seed=3, now=time.time())
    return tmp, write_sqlite_store(tmp, conversations), expected


def test_review_figures_match_the_generated_conversations(generated, tmp_path):
    _, endpoints, expected = generated
    today = datetime.now(timezone.utc).date()
    html, nlu, data = run_review(tmp_path, endpoints, today - timedelta(days=12), today)
    assert data["conversations"] == expected["conversations"] == 150
    assert data["messages"] == expected["messages"]
    assert data["reply_types"] == expected["reply_types"]
    assert data["answers_per_topic"] == expected["answers_per_topic"]
    assert data["escalations"] == {"routine": 0, "clinic": 0, "emergency": 0, **expected["escalations"]}
    assert {d: v["messages"] for d, v in data["per_day"].items() if v["messages"]} == expected["per_day_messages"]
    assert len(data["audited_escalations"]) == expected["escalations"].get("clinic", 0) + expected["escalations"].get(
        "emergency", 0
    )
    # Rasa's reader accepts the candidates file; every unanswered wording is in it.
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    examples = RasaYAMLReader().reads(nlu).training_examples
    assert examples and all(e.get("intent").startswith("TODO_") for e in examples)
    wordings = {w for g in data["unanswered_groups"] for w, _ in g["wordings"]}
    assert wordings <= {e.get("text") for e in examples}
    # Sender ids only as pseudonyms.
    assert "synthetic-" not in html and "synthetic-" not in json.dumps(data)


def test_generic_tracker_store_reader_agrees_with_the_sql_query(generated):
    _, endpoints, _ = generated
    config = load.tracker_store_config(str(endpoints))
    now = time.time()
    fast = load.read_sql_events(config, now - 11 * 86400, now)
    slow = load.read_events_via_tracker_store(config, now - 11 * 86400, now, "domain.yml")
    key = lambda pair: (pair[0], pair[1]["timestamp"], pair[1]["event"])  # noqa: E731
    assert sorted(map(key, fast)) == sorted(map(key, slow)) and len(fast) > 1000


def test_retention_window_hides_old_conversations_even_if_not_purged(tmp_path):
    import random

    from faq.clinic import load_clinic
    from faq.knowledge_base import load_knowledge_base
    from scripts.generate_conversations import conversation_events

    kb, clinic = load_knowledge_base(), load_clinic()
    now = time.time()
    counts = Counter()
    expected = {
        "messages": 0,
        "reply_types": Counter(),
        "answers_per_topic": Counter(),
        "escalations": Counter(),
        "per_day_messages": counts,
    }
    old = conversation_events("old-sender", now - 40 * 86400, random.Random(1), kb, clinic, expected)
    recent_expected = {
        "messages": 0,
        "reply_types": Counter(),
        "answers_per_topic": Counter(),
        "escalations": Counter(),
        "per_day_messages": Counter(),
    }
    recent = conversation_events("recent-sender", now - 2 * 86400, random.Random(2), kb, clinic, recent_expected)
    endpoints = write_sqlite_store(tmp_path, [("old-sender", old), ("recent-sender", recent)])
    today = datetime.now(timezone.utc).date()
    _, _, data = run_review(tmp_path, endpoints, today - timedelta(days=60), today, retention_days=30)
    assert data["conversations"] == 1 and data["messages"] == recent_expected["messages"]
    assert data["retention_days"] == 30
    _, _, longer = run_review(tmp_path, endpoints, today - timedelta(days=60), today, "longer", retention_days=50)
    assert longer["conversations"] == 2
    # The purge with the same setting deletes exactly what the review already left out.
    from scripts.conversations import open_store, purge

    assert purge(open_store(str(endpoints)), 30)["deleted_conversations"] == 1
    _, _, after = run_review(tmp_path, endpoints, today - timedelta(days=60), today, "after", retention_days=30)
    assert after == data


def test_retention_is_the_purge_commands_setting():
    from faq.settings import Settings
    from review import retention
    from scripts.conversations import parser

    assert retention.retention_days(Settings.from_env({})) == 180
    assert retention.retention_days(Settings.from_env({"BOTOX_RETENTION_DAYS": "30"})) == 30
    assert parser().parse_args(["purge"]).older_than_days == retention.retention_days()


def test_report_escapes_patient_text(tmp_path):
    now = time.time()
    events = [
        session(now - 60),
        user("<script>alert(1)</script> & <b>me</b>", "nlu_fallback", 0.6, now - 50, FALLBACK_RANKING),
        bot("fallback", now - 49, text="<i>sorry</i>"),
    ]
    from rasa.shared.core.events import Event

    endpoints = write_sqlite_store(
        tmp_path, [("<img src=x onerror=alert(1)>", [Event.from_parameters(e) for e in events])]
    )
    today = datetime.now(timezone.utc).date()
    html, nlu, _ = run_review(tmp_path, endpoints, today - timedelta(days=1), today)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;me" in html
    assert "<img src=x" not in html and "onerror" not in html
    assert "default-src 'none'" in html  # the page may load nothing
    assert "<script>alert(1)</script> & <b>me</b>" in nlu


def test_missing_sqlite_store_is_an_error_not_an_empty_report(tmp_path, capsys):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        yaml.safe_dump({"tracker_store": {"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "nope.db")}})
    )
    assert (
        review_main(
            ["--endpoints", str(endpoints), "--out", str(tmp_path / "r.html"), "--nlu-out", str(tmp_path / "c.yml")]
        )
        == 2
    )
    assert "not found" in capsys.readouterr().err and not (tmp_path / "nope.db").exists()


# --- end to end: the running bot, SQLite and PostgreSQL ----------------------------------

# (sender, message): answers, fallbacks, a button payload, smalltalk and an emergency report.
E2E_MESSAGES = [
    ("e2e-alice", "hello"),
    ("e2e-alice", "is botox safe?"),
    ("e2e-alice", "what are the side effects of botox?"),
    ("e2e-alice", "/tell_me_more"),
    ("e2e-bob", "what's the capital of france?"),
    ("e2e-bob", "can i get botox while pregnant?"),
    ("e2e-bob", "what is the capital of France"),
    ("e2e-carol", "I had botox yesterday and now I can't breathe"),
    ("e2e-dave", "who should inject botox?"),
    ("e2e-dave", "thanks"),
]


def screenshot(html: Path, png: Path, expected_cards):
    """Renders the report in chromium; checks it loads nothing and shows the figures."""
    from playwright import sync_api

    assert CHROMIUM.exists(), f"{CHROMIUM} not installed (scripts/install_browser.sh)"
    requests = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html.resolve().as_uri())
            page.wait_for_load_state("load")
            cards = {key: page.inner_text(f"#card-{key} b").split()[0] for key in expected_cards}
            broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length")
            png.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()
    assert cards == {k: str(v) for k, v in expected_cards.items()}
    assert broken == 0
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_review_of_conversations_through_the_running_bot(backend, tmp_path):
    store = fresh_postgres_store(PG_DB) if backend == "postgresql" else None
    replies = []
    with RasaStack(rasa_port=5705, action_port=5755, tracker_store=store) as stack:
        for sender, text in E2E_MESSAGES:
            items = payloads(stack.send(sender, text))
            assert len(items) == 1, (text, items)
            replies.append((sender, text, items[0]))
        endpoints = stack.workdir / "endpoints.yml"
        today = datetime.now(timezone.utc).date()
        out, nlu, js = tmp_path / "review.html", tmp_path / "candidates.yml", tmp_path / "review.json"
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "review",
                "--endpoints",
                str(endpoints),
                "--since",
                str(today - timedelta(1)),
                "--until",
                str(today),
                "--out",
                str(out),
                "--nlu-out",
                str(nlu),
                "--json-out",
                str(js),
            ],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, privacy.SECRET_ENV: SECRET},
        )
        elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(js.read_text())
    html = out.read_text()

    types = Counter(p["type"] for _, _, p in replies)
    topics = Counter(p["topic"] for _, _, p in replies if p["type"] == "answer" and p["topic"])
    levels = Counter(p["escalation"] for _, _, p in replies if p["escalation"] != "none")
    audited = [(text, p) for _, text, p in replies if p["escalation"] in ("clinic", "emergency")]
    unanswered = [text for _, text, p in replies if p["type"] == "fallback" and not text.startswith("/")]
    report = {
        "backend": backend,
        "review_seconds": round(elapsed, 1),
        "replies": [(text, p["type"], p["topic"], p["escalation"]) for _, text, p in replies],
        "figures": {
            k: data[k]
            for k in (
                "conversations",
                "messages",
                "fallbacks",
                "fallback_rate",
                "reply_types",
                "answers_per_topic",
                "escalations",
            )
        },
        "groups": data["unanswered_groups"],
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"review-{backend}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))

    # The test conversations must contain what the review is about.
    assert types["answer"] >= 2 and types["fallback"] >= 1, report["replies"]
    assert data["messages"] == len(E2E_MESSAGES)
    assert data["conversations"] == data["senders"] == len({s for s, _ in E2E_MESSAGES})
    assert data["reply_types"] == dict(types)
    assert data["fallbacks"] == types["fallback"]
    assert data["fallback_rate"] == pytest.approx(types["fallback"] / len(E2E_MESSAGES), abs=1e-4)
    assert data["answers_per_topic"] == dict(topics)
    assert {k: v for k, v in data["escalations"].items() if v} == dict(levels)
    assert [(a["text"], a["escalation"], a["reply"]) for a in data["audited_escalations"]] == [
        (text, p["escalation"], p["text"]) for text, p in audited
    ]
    assert sorted(w for g in data["unanswered_groups"] for w, n in g["wordings"] for _ in range(n)) == sorted(
        unanswered
    )
    # The emergency: asserted only when the bot itself escalated it (triage may not be deployed).
    emergency = [p for _, text, p in replies if text.startswith("I had botox yesterday")][0]
    if emergency["escalation"] == "emergency":
        assert any(
            a["text"].startswith("I had botox yesterday") and a["escalation"] == "emergency"
            for a in data["audited_escalations"]
        )
    # Privacy: no raw sender id anywhere in the outputs.
    for sender in {s for s, _ in E2E_MESSAGES}:
        assert sender not in html and sender not in js.read_text() and sender not in nlu.read_text()
    for text in unanswered:
        assert text in nlu.read_text()

    screenshot(
        out,
        ARTIFACTS / f"review-{backend}.png",
        {
            "conversations": len({s for s, _ in E2E_MESSAGES}),
            "messages": len(E2E_MESSAGES),
            "answers": types["answer"],
            "fallbacks": types["fallback"],
            "emergency": levels["emergency"],
            "clinic": levels["clinic"],
            "routine": levels["routine"],
        },
    )
