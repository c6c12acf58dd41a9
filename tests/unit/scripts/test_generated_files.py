"""Training data, rules and domain are generated from the knowledge base and kept fresh."""

import subprocess
import sys

import yaml

from faq.settings import PROJECT_ROOT
from scripts.generate_training_data import DOMAIN, RULES, TOPICS_NLU, generated_files


def test_generated_files_are_up_to_date():
    result = subprocess.run(
        [sys.executable, "scripts/generate_training_data.py", "--check"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_every_topic_has_an_intent_a_rule_and_its_examples(kb):
    files = generated_files()
    domain = yaml.safe_load(files[DOMAIN])
    rules = yaml.safe_load(files[RULES])["rules"]
    nlu = {b["intent"]: b["examples"] for b in yaml.safe_load(files[TOPICS_NLU])["nlu"]}
    ruled = {r["steps"][0]["intent"] for r in rules}
    for topic in kb.topics:
        assert topic.intent in domain["intents"]
        assert topic.intent in ruled
        assert all(f"- {e}\n" in nlu[topic.intent] for e in topic.examples)


def test_every_domain_intent_is_answered_by_the_one_action():
    files = generated_files()
    domain = yaml.safe_load(files[DOMAIN])
    rules = yaml.safe_load(files[RULES])["rules"]
    assert {r["steps"][0]["intent"] for r in rules} == set(domain["intents"])
    assert all(r["steps"][1] == {"action": "action_reply"} for r in rules)
