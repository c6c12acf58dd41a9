"""Loads and validates the clinic's triage policy (data/triage_policy.yml).

The policy is data, not code: symptom groups with a level, lay-wording
patterns and the knowledge-base topics to cite; ConText modifiers in patients'
words; the cues that tell a report from a question. `load_policy()` refuses a
policy that names an unknown level or topic or has a malformed pattern, so
neither training nor the action server can start from a broken policy.
"""

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from faq.contract import Escalation, TriageLevel
from faq.settings import KB_PATH, POLICY_PATH

LEVELS = tuple(level.value for level in TriageLevel)
ESCALATIONS = tuple(escalation.value for escalation in Escalation)
# GENERIC is ours: generic or curious questions ("can you get ...", "I read that ...").
CONTEXT_CATEGORIES = ("NEGATED_EXISTENCE", "HYPOTHETICAL", "GENERIC", "HISTORICAL", "FAMILY", "TERMINATE")
DIRECTIONS = ("FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE")
GAP = re.compile(r"^\.\.\.(\d*)$")
DEFAULT_GAP = 3
ARTICLE_WORD = re.compile(r"\barticle\b", re.IGNORECASE)


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class Level:
    name: str
    escalation: str
    advice: Optional[str]  # None: clinic.yml's advice for `escalation`
    answer: str


@dataclass(frozen=True)
class Group:
    id: str
    label: str
    level: str
    cite: Tuple[str, ...]
    patterns: Tuple[str, ...]


@dataclass(frozen=True)
class ContextRuleSpec:
    category: str
    direction: str
    patterns: Tuple[str, ...]
    max_scope: Optional[int]


@dataclass(frozen=True)
class Policy:
    levels: Dict[str, Level]
    other_person_note: str
    groups: Tuple[Group, ...]
    worsening_patterns: Tuple[str, ...]
    worsening_raise_to: str
    context_rules: Tuple[ContextRuleSpec, ...]
    question_starters: Tuple[str, ...]
    anchor_window: int
    person_words: Tuple[str, ...]
    subject_words: Tuple[str, ...]
    possessive_words: Tuple[str, ...]
    present_time_patterns: Tuple[str, ...]
    refers_back_patterns: Tuple[str, ...]
    speech_verbs: Tuple[str, ...]
    remote_words: Tuple[str, ...]
    past_verbs: Tuple[str, ...]
    future_modals: Tuple[str, ...]
    typo_protect: Tuple[str, ...]
    typo_extra_targets: Tuple[str, ...]
    typo_misspellings: Dict[str, str]

    def group(self, group_id: str) -> Group:
        for g in self.groups:
            if g.id == group_id:
                return g
        raise KeyError(group_id)

    def all_patterns(self) -> List[str]:
        found = [p for g in self.groups for p in g.patterns]
        found += list(self.worsening_patterns) + list(self.present_time_patterns)
        found += list(self.refers_back_patterns)
        found += [p for r in self.context_rules for p in r.patterns]
        return found


def parse_pattern(pattern: str) -> List[Tuple[str, Any]]:
    """The pattern mini-language (see the policy file's header) as a list of
    ("words" | "exact", ([alternatives], optional)) / ("any", None) / ("gap", n)
    items. "exact" (written =went|gone) matches the lowercase form only, not
    other inflections."""
    items: List[Tuple[str, Any]] = []
    for part in pattern.split():
        gap = GAP.match(part)
        if gap:
            items.append(("gap", int(gap.group(1) or DEFAULT_GAP)))
        elif part == "*":
            items.append(("any", None))
        else:
            optional = part.endswith("?") and len(part) > 1
            words = part[:-1] if optional else part
            exact = words.startswith("=")
            alternatives = [w for w in words.lstrip("=").lower().split("|")]
            if any(not w for w in alternatives):
                raise PolicyError(f"pattern {pattern!r}: empty alternative in {part!r}")
            if any("=" in w for w in alternatives):
                raise PolicyError(f"pattern {pattern!r}: '=' marks a whole token ({part!r}): write =a|b")
            items.append(("exact" if exact else "words", (tuple(alternatives), optional)))
    if not items:
        raise PolicyError("empty pattern")
    if items[0][0] == "gap" or items[-1][0] == "gap":
        raise PolicyError(f"pattern {pattern!r}: a gap cannot start or end a pattern")
    if not any(kind in ("words", "exact") and not item[1] for kind, item in items):
        raise PolicyError(f"pattern {pattern!r}: needs at least one required word")
    return items


CITE = re.compile(r"^(?P<topic>[a-z0-9_]+)(?:#(?P<paragraph>\d+)\.(?P<sentence>\d+))?$")


def parse_cite(cite: str) -> Tuple[str, Optional[Tuple[int, int]]]:
    """ "topic" (all its quotes) or "topic#paragraph.sentence" (that quote)."""
    match = CITE.match(cite)
    if not match:
        raise PolicyError(f"cite {cite!r}: write topic_id or topic_id#paragraph.sentence")
    where = (int(match["paragraph"]), int(match["sentence"])) if match["paragraph"] else None
    return match["topic"], where


def _kb_quotes(path: Path = KB_PATH) -> Dict[str, List[Tuple[int, int]]]:
    """topic id -> (paragraph, sentence) of its quotes."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {t["id"]: [(q["paragraph"], q["sentence"]) for q in t.get("quotes", [])] for t in raw.get("topics", [])}


def _speaks_for_the_article(levels: Dict) -> List[str]:
    """The level texts are the clinic's advice, not the article's claims, so
    the faithfulness check (faq.faithfulness) does not read them; a text that
    names the article would escape it. What the article says about a symptom
    reaches the patient as the cited quotes only."""
    texts = {
        f"levels.{name}.{field}": (levels.get(name) or {}).get(field)
        for name in LEVELS
        for field in ("answer", "advice")
    }
    texts["levels.other_person_note"] = levels.get("other_person_note")
    return [
        f"{where}: clinic policy must not speak for the article; put article claims in "
        "data/knowledge_base.yml, where the faithfulness check reads them, and cite them"
        for where, text in texts.items()
        if isinstance(text, str) and ARTICLE_WORD.search(text)
    ]


def problems(raw: Dict, kb_quotes: Dict[str, List[Tuple[int, int]]]) -> List[str]:
    """Every way the raw policy is malformed or disagrees with the knowledge base."""
    found = []
    levels = raw.get("levels") or {}
    for name in LEVELS:
        level = levels.get(name)
        if not isinstance(level, dict):
            found.append(f"levels: {name!r} missing")
            continue
        if level.get("escalation") not in ESCALATIONS:
            found.append(f"levels.{name}: escalation {level.get('escalation')!r} not in {ESCALATIONS}")
        if not level.get("answer"):
            found.append(f"levels.{name}: no answer text")
    if levels.get("emergency", {}).get("escalation") != "emergency":
        found.append("levels.emergency must escalate to 'emergency'")
    found += _speaks_for_the_article(levels)
    groups = raw.get("groups") or []
    if not groups:
        found.append("no symptom groups")
    ids = [g.get("id") for g in groups]
    for duplicate in {i for i in ids if ids.count(i) > 1}:
        found.append(f"group id {duplicate!r} is used twice")
    for g in groups:
        where = f"group {g.get('id')!r}"
        if g.get("level") not in LEVELS:
            found.append(f"{where}: level {g.get('level')!r} not in {LEVELS}")
        if not g.get("label"):
            found.append(f"{where}: no label")
        for cite in g.get("cite") or []:
            try:
                topic, quote = parse_cite(str(cite))
            except PolicyError as error:
                found.append(f"{where}: {error}")
                continue
            if topic not in kb_quotes:
                found.append(f"{where}: cites unknown knowledge-base topic {topic!r}")
            elif quote and quote not in kb_quotes[topic]:
                found.append(f"{where}: topic {topic!r} has no quote at paragraph {quote[0]} sentence {quote[1]}")
        if not g.get("patterns"):
            found.append(f"{where}: no patterns")
    if not any(g.get("level") == "emergency" for g in groups):
        found.append("no emergency group")
    worsening = raw.get("worsening") or {}
    if worsening.get("raise_to") not in LEVELS:
        found.append(f"worsening.raise_to {worsening.get('raise_to')!r} not in {LEVELS}")
    for rule in raw.get("context_rules") or []:
        if rule.get("category") not in CONTEXT_CATEGORIES:
            found.append(f"context rule category {rule.get('category')!r} not in {CONTEXT_CATEGORIES}")
        if rule.get("direction") not in DIRECTIONS:
            found.append(f"context rule direction {rule.get('direction')!r} not in {DIRECTIONS}")
        if not rule.get("patterns"):
            found.append(f"context rule {rule.get('category')!r}: no patterns")
    if not raw.get("question_starters"):
        found.append("no question_starters")
    if not raw.get("person_words"):
        found.append("no person_words")
    # Without them "my mum said her throat is closing" would read as hearsay.
    for key in ("speech_verbs", "past_verbs"):
        if not (raw.get("hearsay") or {}).get(key):
            found.append(f"no hearsay.{key}")
    patterns = [p for g in groups for p in g.get("patterns") or []]
    patterns += list(worsening.get("patterns") or [])
    patterns += list(raw.get("present_time_patterns") or []) + list(raw.get("refers_back_patterns") or [])
    patterns += [p for r in raw.get("context_rules") or [] for p in r.get("patterns") or []]
    for pattern in patterns:
        try:
            parse_pattern(str(pattern))
        except PolicyError as error:
            found.append(str(error))
    return found


def _words(words: Optional[List[str]]) -> Tuple[str, ...]:
    return tuple(str(w).lower() for w in words or ())


def build_policy(raw: Dict) -> Policy:
    levels = {
        name: Level(
            name=name,
            escalation=raw["levels"][name]["escalation"],
            advice=(" ".join(raw["levels"][name]["advice"].split()) if raw["levels"][name].get("advice") else None),
            answer=" ".join(raw["levels"][name]["answer"].split()),
        )
        for name in LEVELS
    }
    return Policy(
        levels=levels,
        other_person_note=" ".join((raw["levels"].get("other_person_note") or "").split()),
        groups=tuple(
            Group(g["id"], g["label"], g["level"], tuple(g.get("cite") or ()), tuple(map(str, g["patterns"])))
            for g in raw["groups"]
        ),
        worsening_patterns=tuple(raw["worsening"]["patterns"]),
        worsening_raise_to=raw["worsening"]["raise_to"],
        context_rules=tuple(
            ContextRuleSpec(r["category"], r["direction"], tuple(map(str, r["patterns"])), r.get("max_scope"))
            for r in raw.get("context_rules") or []
        ),
        question_starters=tuple(w.lower() for w in raw["question_starters"]),
        anchor_window=int(raw.get("anchor_window", 4)),
        person_words=tuple(w.lower() for w in raw["person_words"]),
        subject_words=tuple(w.lower() for w in raw.get("subject_words") or ()),
        possessive_words=tuple(w.lower() for w in raw.get("possessive_words") or ()),
        present_time_patterns=tuple(raw.get("present_time_patterns") or ()),
        refers_back_patterns=tuple(raw.get("refers_back_patterns") or ()),
        speech_verbs=_words((raw.get("hearsay") or {}).get("speech_verbs")),
        remote_words=_words((raw.get("hearsay") or {}).get("remote_words")),
        past_verbs=_words((raw.get("hearsay") or {}).get("past_verbs")),
        future_modals=_words(raw.get("future_modals")),
        typo_protect=tuple(w.lower() for w in (raw.get("typo") or {}).get("protect") or ()),
        typo_extra_targets=tuple(w.lower() for w in (raw.get("typo") or {}).get("extra_targets") or ()),
        typo_misspellings={
            str(k).lower(): str(v).lower() for k, v in ((raw.get("typo") or {}).get("misspellings") or {}).items()
        },
    )


@cache
def load_policy(path: Path = POLICY_PATH, kb_path: Path = KB_PATH) -> Policy:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    found = problems(raw, _kb_quotes(Path(kb_path)))
    if found:
        raise PolicyError(f"{path}:\n- " + "\n- ".join(found))
    return build_policy(raw)
