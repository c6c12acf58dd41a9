"""Typo correction towards the triage policy's words.

Patients in distress misspell ("shortnes of breth", "dizzyness"), and a
pattern that does not match is a missed emergency. A word that is not English
and is one edit away (two for words of 8+ letters) from a policy word becomes
that word; a short list of frequent misspellings that *are* English words
("tounge") is mapped directly. Plain Python: the caller supplies the
dictionary (triage/lookups.py) and the policy's words.
"""

import re
from typing import AbstractSet, Dict, Iterable, List, Optional, Tuple

# Words for typo correction; not parts of contractions ("havn't" stays whole).
WORD = re.compile(r"(?<![A-Za-z'\u2019])[A-Za-z]+(?![A-Za-z'\u2019])")


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (Levenshtein + adjacent swaps), capped."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: List[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


class TypoCorrector:
    """Corrects words that are not English towards the policy's vocabulary."""

    def __init__(
        self,
        targets: Iterable[str],
        dictionary: AbstractSet[str],
        protect: Iterable[str],
        misspellings: Optional[Dict[str, str]] = None,
    ):
        self.misspellings = {k.lower(): v for k, v in (misspellings or {}).items()}
        self.targets = sorted({t for t in targets if t.isalpha() and len(t) >= 3})
        self.known = set(dictionary) | set(self.targets) | set(protect)
        self._cache: Dict[str, Optional[str]] = {}

    def correct_word(self, word: str) -> Optional[str]:
        lower = word.lower()
        if lower in self.misspellings:
            return self.misspellings[lower]
        if len(lower) < 4 or lower in self.known:
            return None
        if lower in self._cache:
            return self._cache[lower]
        limit = 2 if len(lower) >= 8 else 1
        best: Optional[Tuple[int, int, str]] = None
        for target in self.targets:
            distance = osa_distance(lower, target, limit)
            if distance <= limit:
                # Prefer the closest, then the same first letter, then alphabetical.
                key = (distance, 0 if target[0] == lower[0] else 1, target)
                if best is None or key < best:
                    best = key
        result = best[2] if best else None
        self._cache[lower] = result
        return result

    def correct(self, text: str) -> str:
        def replace(match: re.Match) -> str:
            fixed = self.correct_word(match.group(0))
            return fixed if fixed else match.group(0)

        return WORD.sub(replace, text)
