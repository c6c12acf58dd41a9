"""Groups similar unanswered questions, offline.

Messages are normalised (lower case, punctuation and spacing removed) and
identical ones counted once. Each distinct message, English stop words
dropped, becomes a TF-IDF vector of
word unigrams+bigrams and character 3-5-grams within words (typos such as
"pregnent" still land near "pregnant"), and the vectors are grouped by cosine
distance: agglomerative clustering with average linkage, cut at
`distance_threshold`. Above MAX_AGGLOMERATIVE distinct messages (quadratic
memory) a greedy pass takes the most frequent message first and gathers every
message within the same distance of it.
"""

import re
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import numpy as np

MAX_AGGLOMERATIVE = 2000
DISTANCE_THRESHOLD = 0.75


@dataclass
class QuestionGroup:
    """Unanswered questions worded alike (a symptom group is triage.policy.Group)."""

    # (text as first written, how often) for each distinct phrasing, most frequent first
    phrasings: List[Tuple[str, int]] = field(default_factory=list)
    members: List[int] = field(default_factory=list)  # indexes into the input texts

    @property
    def count(self) -> int:
        return sum(n for _, n in self.phrasings)

    @property
    def label(self) -> str:
        return self.phrasings[0][0]


def normalise(text: str) -> str:
    return " ".join(re.findall(r"[\w']+", text.lower())).replace("'", "")


def _stop_words() -> frozenset:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    # Words scikit-learn drops that change what a patient asks; "botox" is in
    # nearly every question and would make them all look alike.
    keep = {"last", "long", "much", "many", "not", "no", "never", "again", "after", "before", "without"}
    return frozenset(ENGLISH_STOP_WORDS - keep) | {"botox", "s"}


STOP_WORDS = _stop_words()


def _content(key: str) -> str:
    """The words that carry meaning (stop words dropped, unless nothing is left)."""
    words = [w for w in key.split() if w not in STOP_WORDS]
    return " ".join(words) or key


def _vectors(keys: Sequence[str]):
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    keys = [_content(k) for k in keys]
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    return normalize(hstack([words.fit_transform(keys), chars.fit_transform(keys)]).tocsr())


def _labels(keys: Sequence[str], weights: Sequence[int], threshold: float) -> np.ndarray:
    if len(keys) == 1:
        return np.zeros(1, dtype=int)
    x = _vectors(keys)
    if len(keys) <= MAX_AGGLOMERATIVE:
        from sklearn.cluster import AgglomerativeClustering

        distances = np.clip(1.0 - (x @ x.T).toarray(), 0.0, 2.0)
        model = AgglomerativeClustering(
            n_clusters=None, affinity="precomputed", linkage="average", distance_threshold=threshold
        )
        return model.fit_predict(distances)
    labels = np.full(len(keys), -1)
    order = np.argsort(-np.asarray(weights), kind="stable")
    next_label = 0
    for i in order:
        if labels[i] >= 0:
            continue
        similar = (x @ x[i].T).toarray().ravel() >= 1.0 - threshold
        labels[similar & (labels < 0)] = next_label
        next_label += 1
    return labels


def group_similar(texts: Sequence[str], distance_threshold: float = DISTANCE_THRESHOLD) -> List[QuestionGroup]:
    """Groups of similar texts, largest first."""
    distinct: Dict[str, List[int]] = {}
    first_written: Dict[str, str] = {}
    for i, text in enumerate(texts):
        key = normalise(text) or text.strip().lower()
        distinct.setdefault(key, []).append(i)
        first_written.setdefault(key, text.strip())
    keys = [k for k in distinct if k]
    if not keys:
        return []
    labels = _labels(keys, [len(distinct[k]) for k in keys], distance_threshold)
    groups: Dict[int, QuestionGroup] = {}
    for key, label in zip(keys, labels):
        group = groups.setdefault(int(label), QuestionGroup())
        group.phrasings.append((first_written[key], len(distinct[key])))
        group.members.extend(distinct[key])
    for group in groups.values():
        group.phrasings.sort(key=lambda p: (-p[1], p[0]))
        group.members.sort()
    return sorted(groups.values(), key=lambda g: (-g.count, g.label))
