"""What a patient would get for messages in the voice of real traffic (issue 9).

    python -m scripts.evaluate_realvoice --model models/botox-faq.tar.gz [--gate]
        [--only dev|dev2|...|dev11|heldout | --dev]

Each message goes, alone in a new conversation, through the trained NLU
(Rasa's Agent: the whole pipeline, triage included) and the dialogue core
(faq.dialogue.respond, as the action server calls it); the reply's payload is
scored as a patient would read it:

- patient questions the article covers: the right topic, quoted ("topic
  right"; a two-topic question counts when every answered topic is one it
  asked about and at least one is answered; a question that also reports a
  symptom counts when its triage reply answers the asked topic, and
  `covered_triaged` says how many did);
- patient questions it does not cover: the honest fallback or handoff, no quote;
- everyday off-topic requests: how many were answered from the article or triaged;
- symptom reports: emergency / clinic-level caught (the reply's escalation).

The sets live in tests/data/realvoice/: `*_dev.yml` to `*_dev11.yml` (ten
more development sets, each written blind later; dev, dev4, dev6, dev7 and
dev9-dev11 have off-topic requests, dev6, dev7, dev10 and dev11 no symptom
reports, dev8 only symptom reports) are tuned on, `*_heldout.yml`
never are (their first run is the honest figure).
With --gate the command exits 1 when a development set falls below its
FLOORS: the figures reached when they were written, so a change that makes
them worse fails the build. TARGETS are issue 9's; every run says which are
met.
"""

import argparse
import asyncio
import json
import logging
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from faq.clinic import load_clinic
from faq.contract import Escalation, ReplyType
from faq.dialogue import Conversation, respond_to_parse
from faq.knowledge_base import load_knowledge_base
from faq.replies import render
from faq.settings import PROJECT_ROOT
from triage.reply import triage_reply

SETS = PROJECT_ROOT / "tests" / "data" / "realvoice"
# Development splits: tuned on, their misses may be printed, gated by FLOORS.
DEV_SPLITS = ("dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "dev9", "dev10", "dev11")
SPLITS = DEV_SPLITS + ("heldout",)
# figure -> (the better direction, value): issue 9's targets.
TARGETS = {
    "offtopic_answered": ("max", 0.005),
    "offtopic_triaged": ("max", 0.001),
    "covered_topic_right": ("min", 0.85),
    "not_covered_honest": ("min", 0.95),
    "emergency_caught": ("min", 1.0),
    "clinic_caught": ("min", 0.95),
}


def load_cases(path: Path) -> List[Dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["cases"])


class Assistant:
    """The NLU of a trained model plus the dialogue core: message -> payload."""

    def __init__(self, model: str):
        from rasa.core.agent import Agent

        self.agent = Agent.load(model)
        self.kb, self.clinic = load_knowledge_base(), load_clinic()
        self.symptom_reply = partial(triage_reply, self.kb, self.clinic)

    async def payload(self, text: str) -> Dict[str, Any]:
        parse = await self.agent.parse_message(text)
        turn = respond_to_parse(self.kb, parse, Conversation(), self.symptom_reply)
        return render(turn.reply, self.clinic)[1]


def answered_topics(payload: Dict[str, Any], replies: Tuple[str, ...] = (ReplyType.ANSWER,)) -> List[str]:
    if payload["type"] not in replies or not payload["sources"]:
        return []
    return list(payload.get("topics") or [payload["topic"]])


# A patient's question that also reports a symptom ("...since Tuesday, is that a
# known side effect?") is answered by the triage reply: the advice first, then
# the asked topic's answer and quotes.
QUESTION_REPLIES = (ReplyType.ANSWER, ReplyType.TRIAGE)


def _ratio(hits: int, total: int) -> Optional[float]:
    return hits / total if total else None


def score_questions(cases: List[Dict[str, Any]], payloads: List[Dict[str, Any]]) -> Dict[str, Any]:
    covered = [(c, p) for c, p in zip(cases, payloads) if c["topics"]]
    uncovered = [(c, p) for c, p in zip(cases, payloads) if not c["topics"]]
    right, both, misses = 0, 0, []
    confusion: Counter = Counter()
    for case, payload in covered:
        got = answered_topics(payload, QUESTION_REPLIES)
        ok = bool(got) and set(got) <= set(case["topics"])
        right += ok
        both += ok and set(got) == set(case["topics"])
        confusion[(case["topics"][0], got[0] if got else payload["type"])] += 1
        if not ok:
            misses.append({"text": case["text"], "expected": case["topics"], "got": got or payload["type"]})
    honest = 0
    for case, payload in uncovered:
        ok = payload["type"] in (ReplyType.FALLBACK, ReplyType.HANDOFF) and not payload["sources"]
        honest += ok
        if not ok:
            misses.append({"text": case["text"], "expected": [], "got": answered_topics(payload) or payload["type"]})
    two = [c for c, _ in covered if len(c["topics"]) > 1]
    return {
        "covered": len(covered),
        "covered_topic_right": _ratio(right, len(covered)),
        "two_topic_questions": len(two),
        "covered_all_topics_answered": _ratio(both, len(covered)),
        # Of the covered questions, answered with a triage reply (they told of a symptom).
        "covered_triaged": _ratio(sum(p["type"] == ReplyType.TRIAGE for _, p in covered), len(covered)),
        "not_covered": len(uncovered),
        "not_covered_honest": _ratio(honest, len(uncovered)),
        # Of those, answered with a triage reply (they told of a symptom: the
        # advice, the symptom's quote, then the honest reply; counted a miss).
        "not_covered_triaged": _ratio(sum(p["type"] == ReplyType.TRIAGE for _, p in uncovered), len(uncovered)),
        "confusion": {f"{e} -> {g}": n for (e, g), n in sorted(confusion.items()) if e != g},
        "misses": misses,
    }


def score_offtopic(cases: List[Dict[str, Any]], payloads: List[Dict[str, Any]]) -> Dict[str, Any]:
    answered = [(c, p) for c, p in zip(cases, payloads) if answered_topics(p)]
    triaged = [(c, p) for c, p in zip(cases, payloads) if p["type"] == ReplyType.TRIAGE]
    return {
        "messages": len(cases),
        "offtopic_answered": _ratio(len(answered), len(cases)),
        "offtopic_triaged": _ratio(len(triaged), len(cases)),
        "misses": [
            {"text": c["text"], "domain": c.get("domain"), "got": p["topic"] or p["type"]}
            for c, p in answered + triaged
        ],
    }


def score_symptoms(cases: List[Dict[str, Any]], payloads: List[Dict[str, Any]]) -> Dict[str, Any]:
    def caught(case: Dict[str, Any], payload: Dict[str, Any]) -> bool:
        rank = Escalation(payload["escalation"]).rank
        if case["level"] == "emergency":
            return payload["escalation"] == Escalation.EMERGENCY
        if case["level"] == "clinic":
            return rank >= Escalation.CLINIC.rank
        return payload["type"] == ReplyType.TRIAGE

    by_level: Dict[str, List[bool]] = {}
    misses = []
    for case, payload in zip(cases, payloads):
        ok = caught(case, payload)
        by_level.setdefault(case["level"], []).append(ok)
        if not ok:
            misses.append({"text": case["text"], "expected": case["level"], "got": payload["escalation"]})
    return {
        "reports": len(cases),
        "emergency_caught": _ratio(sum(by_level.get("emergency", [])), len(by_level.get("emergency", []))),
        "clinic_caught": _ratio(sum(by_level.get("clinic", [])), len(by_level.get("clinic", []))),
        "mild_triaged": _ratio(sum(by_level.get("mild", [])), len(by_level.get("mild", []))),
        "misses": misses,
    }


SCORERS = {"patient_questions": score_questions, "offtopic": score_offtopic, "symptom_reports": score_symptoms}


async def evaluate(assistant: Assistant, split: str) -> Dict[str, Dict[str, Any]]:
    results = {}
    for kind, scorer in SCORERS.items():
        path = SETS / f"{kind}_{split}.yml"
        if not path.exists():  # not every dev set has every kind
            continue
        cases = load_cases(path)
        started = time.perf_counter()
        payloads = [await assistant.payload(c["text"]) for c in cases]
        result = scorer(cases, payloads)
        result["ms_per_message"] = round(1000 * (time.perf_counter() - started) / len(cases), 2)
        results[kind] = result
    return results


# The build's floors on the development sets (make test): their figures when
# the floors were set, rounded down.
FLOORS = {
    # Floors last raised at the end of the not_covered work (issue 9, dev4 and dev5).
    "dev": {
        "offtopic_answered": ("max", 0.005),
        "offtopic_triaged": ("max", 0.003),
        "covered_topic_right": ("min", 0.93),
        "not_covered_honest": ("min", 0.98),
        "emergency_caught": ("min", 1.0),
        "clinic_caught": ("min", 0.95),
    },
    "dev2": {
        "covered_topic_right": ("min", 0.88),
        "not_covered_honest": ("min", 0.98),
        "emergency_caught": ("min", 1.0),
        "clinic_caught": ("min", 0.975),
    },
    "dev3": {
        "covered_topic_right": ("min", 0.85),
        "not_covered_honest": ("min", 0.975),
        "emergency_caught": ("min", 1.0),
        "clinic_caught": ("min", 0.97),
    },
    # Reached 0.977, 0.983, 0.001 / 0.000, 1.0, 1.0.
    "dev4": {
        "offtopic_answered": ("max", 0.002),
        "offtopic_triaged": ("max", 0.001),
        "covered_topic_right": ("min", 0.97),
        "not_covered_honest": ("min", 0.98),
        "emergency_caught": ("min", 1.0),
        "clinic_caught": ("min", 0.97),
    },
    # Reached 0.913, 0.990, 0.001 / 0.003 (a set of hard off-topic health
    # complaints: first-person symptoms with another cause).
    "dev6": {
        "offtopic_answered": ("max", 0.002),
        "offtopic_triaged": ("max", 0.003),
        "covered_topic_right": ("min", 0.9),
        "not_covered_honest": ("min", 0.99),
    },
    # dev7: questions and everyday requests written blind this session; blind
    # first run 0.814, 0.862, 0.001 / 0.003; reached 0.886, 0.969, 0.001 / 0.000.
    "dev7": {
        "offtopic_answered": ("max", 0.002),
        "offtopic_triaged": ("max", 0.001),
        "covered_topic_right": ("min", 0.88),
        "not_covered_honest": ("min", 0.96),
    },
    # dev8: hard symptom reports (habits, plans, other products named beside
    # a real reaction); blind first run 0.967 / 0.833; reached 1.0 / 0.95.
    "dev8": {
        "emergency_caught": ("min", 1.0),
        "clinic_caught": ("min", 0.95),
    },
    # dev9: questions, everyday requests and reports written blind in the third
    # session; blind first run 0.878, 0.826, 0.000 / 0.007, 1.0 / 0.867;
    # reached 0.878, 0.978, 0.000 / 0.001, 1.0 / 0.983.
    "dev9": {
        "offtopic_answered": ("max", 0.001),
        "offtopic_triaged": ("max", 0.001),
        "covered_topic_right": ("min", 0.87),
        "not_covered_honest": ("min", 0.97),
        "emergency_caught": ("min", 1.0),
        "clinic_caught": ("min", 0.98),
    },
    # dev10: questions (formal letters, voice-to-text, buried questions) and
    # everyday requests (half of them a body complaint with an everyday
    # cause), written blind in the third session; blind first run 0.767,
    # 0.855, 0.000 / 0.021; reached 0.770, 0.954, 0.000 / 0.003.
    "dev10": {
        "offtopic_answered": ("max", 0.001),
        "offtopic_triaged": ("max", 0.005),
        "covered_topic_right": ("min", 0.77),
        "not_covered_honest": ("min", 0.95),
    },
    # dev11: questions told with the patient's own situation, everyday
    # requests with causes told many ways; blind first run 0.867, 0.900,
    # 0.001 / 0.026; reached 0.867, 0.980, 0.001 / 0.005.
    "dev11": {
        "offtopic_answered": ("max", 0.001),
        "offtopic_triaged": ("max", 0.005),
        "covered_topic_right": ("min", 0.86),
        "not_covered_honest": ("min", 0.97),
    },
    # Reached 0.921, 0.955, 1.0, 1.0.
    "dev5": {
        "covered_topic_right": ("min", 0.91),
        "not_covered_honest": ("min", 0.95),
        "emergency_caught": ("min", 1.0),
        "clinic_caught": ("min", 0.97),
    },
}


def missed(results: Dict[str, Dict[str, Any]], limits: Dict[str, Tuple[str, float]]) -> List[str]:
    found = []
    for result in results.values():
        for name, (direction, target) in limits.items():
            value = result.get(name)
            if value is None:
                continue
            if (direction == "min" and value < target) or (direction == "max" and value > target):
                found.append(f"{name} {value:.3f} (target {'>=' if direction == 'min' else '<='} {target})")
    return found


def summary(split: str, results: Dict[str, Dict[str, Any]]) -> str:
    lines = [f"[{split}]"]
    for kind, result in results.items():
        figures = ", ".join(
            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in result.items()
            if k not in ("misses", "confusion")
        )
        lines.append(f"  {kind}: {figures}")
        if split in DEV_SPLITS:  # what the held-out sets get wrong stays unread
            for pair, n in list(result.get("confusion", {}).items())[:15]:
                lines.append(f"      confused {pair}: {n}")
    return "\n".join(lines)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(PROJECT_ROOT / "models" / "botox-faq.tar.gz"))
    parser.add_argument("--only", choices=list(SPLITS))
    parser.add_argument("--dev", action="store_true", help="the development sets only (for tuning: held-out unread)")
    parser.add_argument("--gate", action="store_true", help="exit 1 when a dev set misses a target")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results" / "realvoice.json")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args(argv)
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    assistant = Assistant(args.model)
    splits = [args.only] if args.only else list(DEV_SPLITS if args.dev else SPLITS)
    report: Dict[str, Any] = {}
    failed: List[str] = []
    for split in splits:
        results = asyncio.run(evaluate(assistant, split))
        report[split] = results
        print(summary(split, results))
        if args.show_misses and split in DEV_SPLITS:  # the held-out sets stay unread
            for kind, result in results.items():
                for miss in result["misses"]:
                    print(f"    MISS {kind}: {json.dumps(miss, ensure_ascii=False)}")
        for miss in missed(results, TARGETS):
            print(f"  issue 9 target not met on {split}: {miss}")
        if split in FLOORS:
            failed += [f"{split}: {miss}" for miss in missed(results, FLOORS[split])]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    for miss in failed:
        print(f"BELOW THE FLOOR on {miss}", file=sys.stderr)
    return 1 if args.gate and failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
