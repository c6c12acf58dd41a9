"""Intent accuracy and macro-F1 of the trained model on the held-out test set.

    python scripts/evaluate_nlu.py --model models/botox-faq.tar.gz tests/data/nlu_heldout.yml

The held-out set is never trained on. `nlu_fallback` and `out_of_scope` give
the patient the same "the article doesn't cover that" reply, so they count as
one label. Exits 1 below --min (default 0.90) for accuracy or macro-F1.
"""

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

import yaml
from sklearn.metrics import accuracy_score, f1_score

FALLBACK_LABEL = "out_of_scope"
SAME_REPLY = {"nlu_fallback": FALLBACK_LABEL}


def load_examples(path: Path) -> List[Tuple[str, str]]:
    examples = []
    for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
        for line in block["examples"].splitlines():
            text = line.strip()[2:].strip() if line.strip().startswith("- ") else ""
            if text:
                examples.append((text, block["intent"]))
    return examples


async def predict(model: str, texts: List[str]) -> List[str]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    predictions = []
    for text in texts:
        intent = (await agent.parse_message(text))["intent"]["name"]
        predictions.append(SAME_REPLY.get(intent, intent))
    return predictions


def evaluate(model: str, test_file: Path) -> Dict:
    examples = load_examples(test_file)
    texts, expected = [t for t, _ in examples], [i for _, i in examples]
    predicted = asyncio.run(predict(model, texts))
    errors = [{"text": t, "expected": e, "predicted": p} for t, e, p in zip(texts, expected, predicted) if e != p]
    return {
        "examples": len(examples),
        "accuracy": accuracy_score(expected, predicted),
        "macro_f1": f1_score(expected, predicted, average="macro", labels=sorted(set(expected))),
        "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("test_file", type=Path)
    parser.add_argument("--model", required=True)
    parser.add_argument("--min", type=float, default=0.90)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    result = evaluate(args.model, args.test_file)
    # Counts only: a held-out message read is a held-out message tuned on (the texts are in --json-out).
    confusion = Counter((error["expected"], error["predicted"]) for error in result["errors"])
    for (expected, predicted), count in confusion.most_common():
        print(f"  expected {expected:<26} got {predicted:<26} {count}")
    print(
        f"held-out NLU: {result['examples']} examples, intent accuracy {result['accuracy']:.3f}, "
        f"macro-F1 {result['macro_f1']:.3f} (minimum {args.min:.2f})"
    )
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2))
    return 0 if min(result["accuracy"], result["macro_f1"]) >= args.min else 1


if __name__ == "__main__":
    sys.exit(main())
