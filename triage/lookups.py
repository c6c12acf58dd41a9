"""spaCy's English lookup tables (spacy-lookups-data), read once per process.

The detector downloads no model: lemmas come from the lookup lemma table and
"is this an English word?" from the corpus log-probabilities, both shipped as
gzipped JSON with spacy-lookups-data. Reading them is most of the detector's
build time, hence the caches.
"""

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Dict, FrozenSet

# Rarer words than this count as misspellings ("dizzyness", "headach", "cnat").
KNOWN_WORD_MIN_LOGPROB = -16.5


def _lookups_json(name: str) -> Dict:
    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / f"en_{name}.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


@cache
def lemma_table() -> Dict[str, str]:
    """spaCy's English lookup lemmas: "swollen" -> "swell"."""
    return _lookups_json("lemma_lookup")


@cache
def english_words() -> FrozenSet[str]:
    """Words typo correction leaves alone: the lemma table's words and every
    word whose corpus log-probability (lexeme_prob) is at least
    KNOWN_WORD_MIN_LOGPROB."""
    probs = _lookups_json("lexeme_prob")
    words = {w for w, p in probs.items() if p >= KNOWN_WORD_MIN_LOGPROB and w.isalpha()}
    lemmas = lemma_table()
    return frozenset(words | set(lemmas) | set(lemmas.values()))
