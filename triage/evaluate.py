"""Evaluates the triage detector on labelled test sets.

    python -m triage.evaluate tests/data/triage_cases.yml tests/data/triage_cases_second.yml \
        tests/data/nlu_heldout.yml --extra tests/data/triage_cases_third.yml tests/data/triage_cases_fourth.yml

Prints, per file and overall: emergency recall, clinic recall, mild recall,
the share of questions/negations/history not escalated to emergency, exact
level accuracy, the misclassified cases and the per-message latency. Exits 1
when a target is missed on any file:
  emergency recall 100% (a missed emergency fails the build),
  clinic recall >= 95% (clinic or emergency counts as caught),
  >= 95% of questions/negations/history not escalated to emergency.
Sets given with --extra are gated on emergency recall only.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from faq.contract import triage_rank
from triage.policy import LEVELS as POLICY_LEVELS

LEVELS = POLICY_LEVELS + ("none",)
NON_REPORT_KINDS = ("question", "negated", "historical")
TARGETS = {"emergency_recall": 1.0, "clinic_recall": 0.95, "non_escalation": 0.95}


def load_cases(path: Path) -> List[Dict]:
    """A triage case file (`cases:`), or a Rasa NLU file (`nlu:`) whose
    examples are all questions that must not be triaged (e.g. the held-out
    NLU test set; `report_symptom` examples are skipped)."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if "nlu" in raw:
        return [
            {"text": line.strip()[2:], "level": "none", "kind": "question"}
            for block in raw["nlu"]
            if block.get("intent") and block["intent"] != "report_symptom"
            for line in block.get("examples", "").splitlines()
            if line.strip().startswith("- ")
        ]
    cases = raw["cases"]
    for case in cases:
        if case.get("level") not in LEVELS:
            raise ValueError(f"{path}: {case!r}: level must be one of {LEVELS}")
    return cases


def _ratio(hits: int, total: int) -> Optional[float]:
    return hits / total if total else None


def score(results: List[Tuple[Dict, str]]) -> Dict:
    """results: (case, predicted level) pairs."""

    def of_level(level):
        return [(c, p) for c, p in results if c["level"] == level]

    emergency = of_level("emergency")
    clinic = of_level("clinic")
    mild = of_level("mild")
    non_reports = [
        (c, p)
        for c, p in results
        if c.get("kind") in NON_REPORT_KINDS or (c["level"] == "none" and c.get("kind") not in ("other",))
    ]
    return {
        "cases": len(results),
        "emergency_recall": _ratio(sum(p == "emergency" for _, p in emergency), len(emergency)),
        "emergency_total": len(emergency),
        # A clinic-level report escalated to emergency is caught (over-triage, not a miss).
        "clinic_recall": _ratio(sum(triage_rank(p) >= triage_rank("clinic") for _, p in clinic), len(clinic)),
        "clinic_exact": _ratio(sum(p == "clinic" for _, p in clinic), len(clinic)),
        "clinic_total": len(clinic),
        "mild_recall": _ratio(sum(p == "mild" for _, p in mild), len(mild)),
        "mild_total": len(mild),
        "non_escalation": _ratio(sum(p != "emergency" for _, p in non_reports), len(non_reports)),
        "non_escalation_total": len(non_reports),
        "non_reports_untriaged": _ratio(sum(p == "none" for _, p in non_reports), len(non_reports)),
        "accuracy": _ratio(sum(p == c["level"] for c, p in results), len(results)),
        "errors": [(c, p) for c, p in results if p != c["level"]],
    }


def target_failures(s: Dict) -> List[str]:
    failed = []
    for key, target in TARGETS.items():
        value = s[key]
        if value is not None and value < target:
            failed.append(f"{key} {value:.1%} < {target:.0%}")
    return failed


def _pct(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def report(name: str, s: Dict, out=sys.stdout) -> None:
    print(f"\n== {name}: {s['cases']} cases", file=out)
    print(f"  emergency recall     {_pct(s['emergency_recall'])} of {s['emergency_total']}  (target 100%)", file=out)
    print(
        f"  clinic recall        {_pct(s['clinic_recall'])} of {s['clinic_total']}  (target 95%; "
        f"exactly clinic {_pct(s['clinic_exact'])})",
        file=out,
    )
    print(f"  mild recall          {_pct(s['mild_recall'])} of {s['mild_total']}", file=out)
    print(
        f"  questions/negations not escalated to emergency  {_pct(s['non_escalation'])} of "
        f"{s['non_escalation_total']}  (target 95%; not triaged at all {_pct(s['non_reports_untriaged'])})",
        file=out,
    )
    print(f"  exact level accuracy {_pct(s['accuracy'])}", file=out)
    if s["errors"]:
        print("  misclassified (expected -> got):", file=out)
        for case, predicted in s["errors"]:
            print(f"    [{case.get('kind', '?')}] {case['level']} -> {predicted}: {case['text']}", file=out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="sets gated on all three targets")
    parser.add_argument(
        "--extra", nargs="*", type=Path, default=[], help="sets gated on emergency recall only (e.g. a small blind set)"
    )
    args = parser.parse_args(argv)

    from triage.detector import get_detector

    started = time.perf_counter()
    detector = get_detector()
    build_s = time.perf_counter() - started
    failed = []
    timings: List[float] = []
    everything = []
    for path in list(args.files) + list(args.extra):
        results = []
        for case in load_cases(path):
            t0 = time.perf_counter()
            assessment = detector.assess(case["text"])
            timings.append(time.perf_counter() - t0)
            results.append((case, assessment.level or "none"))
        everything += results
        s = score(results)
        report(str(path), s)
        failures = target_failures(s)
        if path in args.extra:
            failures = [f for f in failures if f.startswith("emergency_recall")]
        failed += [f"{path}: {f}" for f in failures]
    if len(args.files) + len(args.extra) > 1:
        report("all files", score(everything))
    timings.sort()
    print(
        f"\npipeline build {build_s:.2f}s; assess() per message: median "
        f"{statistics.median(timings) * 1000:.1f} ms, p95 {timings[int(len(timings) * 0.95) - 1] * 1000:.1f} ms, "
        f"max {timings[-1] * 1000:.1f} ms ({len(timings)} messages)"
    )
    if failed:
        print("\nFAILED targets:\n  " + "\n  ".join(failed))
        return 1
    print("\nAll targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
