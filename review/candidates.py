"""Exports unanswered, low-confidence and not-helpful messages as Rasa NLU YAML.

One block per group of similar unanswered questions, one per intent NLU
guessed for low-confidence answers, and one per topic whose answers patients
marked "not helpful" (the typed questions, with what they said was missing). The intent names are placeholders
(`TODO_...`): a person decides the real intent (an existing one, a new topic,
or `out_of_scope`), edits the examples and moves them into data/nlu/.
The file is never read by training as it stands (it lives in results/).
"""

import re
from typing import Callable, Dict, List, Sequence

import yaml

from review.cluster import QuestionGroup
from review.feedback import RatedAnswer
from review.figures import Exchange


def _example(text: str) -> str:
    # One line per example; brackets would be read as entity annotations.
    text = re.sub(r"\s+", " ", text).strip()
    return text.replace("[", "(").replace("]", ")")


def _literal(examples: List[str]) -> str:
    return "".join(f"    - {x}\n" for x in examples)


def nlu_yaml(
    groups: List[QuestionGroup],
    low_confidence: List[Exchange],
    redact: Callable[[str], str],
    header: str,
    rated: Sequence[RatedAnswer] = (),
) -> str:
    lines = ["# " + line for line in header.splitlines()]
    lines += [
        "# Every intent below is a placeholder: replace TODO_... with the real intent",
        "# (an existing one, a new topic, or out_of_scope), check each example, then",
        "# move the block into data/nlu/. Patients' e-mail addresses and long numbers",
        "# are masked.",
        'version: "3.1"',
        "nlu:",
    ]
    body: List[str] = []
    for i, group in enumerate(groups, 1):
        examples = list(dict.fromkeys(_example(redact(t)) for t, _ in group.phrasings))
        examples = [x for x in examples if x]
        if not examples:
            continue
        body.append(f"# unanswered group {i}: {group.count} messages, {len(group.phrasings)} wordings")
        body.append(f"- intent: TODO_unanswered_{i:03d}")
        body.append("  examples: |")
        body.append(_literal(examples).rstrip("\n"))
    by_guess: Dict[str, List[Exchange]] = {}
    for t in low_confidence:
        by_guess.setdefault(t.intent or "unknown", []).append(t)
    for guess, exchanges in sorted(by_guess.items()):
        examples = list(dict.fromkeys(_example(redact(t.text)) for t in exchanges))
        examples = [x for x in examples if x]
        if not examples:
            continue
        confs = ", ".join(f"{t.confidence:.2f}" for t in exchanges[:10])
        body.append(f"# answered as {guess} with low confidence ({confs}{', ...' if len(exchanges) > 10 else ''})")
        body.append(f"- intent: TODO_low_confidence_{re.sub(r'[^A-Za-z0-9_]', '_', guess)}")
        body.append("  examples: |")
        body.append(_literal(examples).rstrip("\n"))
    body += _not_helpful_blocks(rated, redact)
    if not body:
        lines[-1] = "nlu: []"
    text = "\n".join(lines + body) + "\n"
    yaml.safe_load(text)  # never write a file Rasa could not read
    return text


def _not_helpful_blocks(rated: Sequence[RatedAnswer], redact: Callable[[str], str]) -> List[str]:
    """Typed questions whose answer a patient marked not helpful, per topic:
    the wrong topic chosen, or a question the topic's answer does not cover."""
    by_topic: Dict[str, List[RatedAnswer]] = {}
    for item in rated:
        if item.verdict != "helpful" and not item.answer.is_payload:
            by_topic.setdefault(item.topic, []).append(item)
    body: List[str] = []
    for topic, items in sorted(by_topic.items()):
        examples = [x for x in dict.fromkeys(_example(redact(i.answer.text)) for i in items) if x]
        if not examples:
            continue
        body.append(f"# answered as {topic}, marked not helpful ({len(items)})")
        body += [f"#   what was missing: {_example(redact(c))}" for i in items for c in i.comments]
        body.append(f"- intent: TODO_not_helpful_{re.sub(r'[^A-Za-z0-9_]', '_', topic)}")
        body.append("  examples: |")
        body.append(_literal(examples).rstrip("\n"))
    return body
