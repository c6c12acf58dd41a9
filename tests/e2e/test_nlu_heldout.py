"""Intent accuracy and macro-F1 on the held-out set (never trained on); the build
fails below 0.90. The figures are written to results/nlu_heldout.json."""

import json

from servers import MODEL, PROJECT_ROOT, TEST_DATA

from scripts.evaluate_nlu import evaluate

HELD_OUT = TEST_DATA / "nlu_heldout.yml"
MINIMUM = 0.90


def test_held_out_intent_accuracy_and_macro_f1():
    result = evaluate(str(MODEL), HELD_OUT)
    out = PROJECT_ROOT / "results" / "nlu_heldout.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nheld-out NLU: accuracy {result['accuracy']:.3f}, macro-F1 {result['macro_f1']:.3f}")
    assert result["examples"] >= 10 * 21
    # Not the missed texts: whoever reads a failure would be reading the held-out set.
    assert result["accuracy"] >= MINIMUM, f"{len(result['errors'])} misses (texts in results/nlu_heldout.json)"
    assert result["macro_f1"] >= MINIMUM, f"{len(result['errors'])} misses (texts in results/nlu_heldout.json)"


def test_held_out_set_is_not_in_the_training_data():
    from scripts.evaluate_nlu import load_examples

    training = set()
    for path in (PROJECT_ROOT / "data" / "nlu").glob("*.yml"):
        training |= {t.lower() for t, _ in load_examples(path)}
    held_out = {t.lower() for t, _ in load_examples(HELD_OUT)}
    assert not held_out & training
