"""Symptom triage: finds symptom mentions in a patient's message and decides
whether they are a current report (of the writer or of someone else), a
question, a negation or history, and which level the clinic's policy gives.

The pipeline is built once from data/triage_policy.yml (no model download):

    text -> typo correction towards the policy's words
         -> spaCy blank English: sentencizer, `triage_keys` (token.norm_ =
            lookup lemma of the lowercase form, from spacy-lookups-data)
         -> symptom matcher (spaCy Matcher on NORM; doc.ents, label = group)
         -> medspaCy ConText (default rules + the policy's rules in patients'
            words): is_negated, is_hypothetical, is_historical, is_family
         -> sentence mood (ours): question vs report, by clause.

`Detector.assess(text)` returns an `Assessment`.
"""

import gzip
import json
import logging
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import AbstractSet, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple, cast

import spacy
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span

from faq.contract import triage_rank
from triage.policy import Policy, load_policy, parse_pattern

logger = logging.getLogger(__name__)

CLAUSE_BREAKS = {",", ";", ":", "-", "--", "\u2014", "\u2013", "...", "(", ")"}
# Words that may precede the real start of a clause ("so can botox ...", "ok is it ...").
FILLERS = {
    "so",
    "and",
    "but",
    "also",
    "ok",
    "okay",
    "um",
    "uh",
    "hey",
    "hi",
    "hello",
    "please",
    "oh",
    "well",
    "just",
    "quick",
    "question",
    "then",
    "sorry",
    "pls",
    "plz",
    "like",
    "erm",
}
# Words for typo correction; not parts of contractions ("havn't" stays whole).
WORD = re.compile(r"(?<![A-Za-z'\u2019])[A-Za-z]+(?![A-Za-z'\u2019])")
KNOWN_WORD_MIN_LOGPROB = -16.5
UNSPLIT_NEGATION = re.compile(r"^[a-z]{2,}(?:n['\u2019]t|['\u2019]nt)$")


# ----------------------------------------------------------------- typos
def _osa_distance(a: str, b: str, limit: int) -> int:
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
            distance = _osa_distance(lower, target, limit)
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


# ----------------------------------------------------------------- results
@dataclass(frozen=True)
class Mention:
    group: str
    label: str
    level: str  # the level after "worsening" (mild -> clinic)
    text: str
    sentence: int
    status: str  # report | question | negated | historical
    about: str  # self | other


@dataclass(frozen=True)
class Assessment:
    level: Optional[str]  # emergency | clinic | mild | None
    escalation: str  # payload escalation (docs/payload.md)
    kind: str  # report | question | negated | historical | none
    about: str  # self | other
    mentions: Tuple[Mention, ...] = field(default=())
    cite: Tuple[str, ...] = field(default=())

    @property
    def is_report(self) -> bool:
        return self.level is not None

    @property
    def negated(self) -> bool:
        return self.kind == "negated"

    @property
    def about_other(self) -> bool:
        return self.about == "other"

    @property
    def reported_by_urgency(self) -> List[Mention]:
        """The reported mentions, most urgent first (stable: text order within a level)."""
        reported = [m for m in self.mentions if m.status == "report"]
        return sorted(reported, key=lambda m: -triage_rank(m.level))

    @property
    def symptoms(self) -> List[str]:
        """Group ids of the reported symptoms, most urgent first."""
        return list(dict.fromkeys(m.group for m in self.reported_by_urgency))

    def as_dict(self) -> Dict:
        """What the NLU component attaches to the message (`message["triage"]`)."""
        return {
            "level": self.level,
            "escalation": self.escalation,
            "symptoms": self.symptoms,
            "labels": list(dict.fromkeys(m.label for m in self.reported_by_urgency)),
            "matched": [m.text for m in self.mentions if m.status == "report"],
            "about": self.about,
            "cite": list(self.cite),
        }


NO_TRIAGE = Assessment(level=None, escalation="none", kind="none", about="self")


# ----------------------------------------------------------------- pipeline
@Language.factory("triage_keys")
def _make_keys(nlp: Language, name: str):
    return KeyNormalizer(_lemma_table())


def _lookups_json(name: str) -> Dict:
    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / f"en_{name}.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


@cache
def _lemma_table() -> Dict[str, str]:
    """spaCy's English lookup lemmas (spacy-lookups-data): "swollen" -> "swell"."""
    return _lookups_json("lemma_lookup")


@cache
def _english_words() -> FrozenSet[str]:
    """Words typo correction leaves alone: the lemma table's words and every
    word whose corpus log-probability (spacy-lookups-data lexeme_prob) is
    at least KNOWN_WORD_MIN_LOGPROB. Rare misspellings ("dizzyness",
    "headach", "cnat") fall below it."""
    probs = _lookups_json("lexeme_prob")
    words = {w for w, p in probs.items() if p >= KNOWN_WORD_MIN_LOGPROB and w.isalpha()}
    lemmas = _lemma_table()
    return frozenset(words | set(lemmas) | set(lemmas.values()))


class KeyNormalizer:
    """token.norm_ := lookup lemma of spaCy's lowercase norm ("swollen" ->
    "swell", "n't"/"nt" -> "not"). Patterns match on NORM."""

    def __init__(self, lemmas: Dict[str, str]):
        self.lemmas = lemmas

    def key(self, norm: str) -> str:
        return self.lemmas.get(norm, norm)

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            lower = token.norm_.lower()
            if UNSPLIT_NEGATION.search(lower):
                # A misspelt contraction the tokenizer left whole ("havn't",
                # "hav'nt"): its meaning here is the negation.
                token.norm_ = "not"
            else:
                token.norm_ = self.key(lower)
        return doc


class Detector:
    def __init__(self, policy: Policy):
        self.policy = policy
        self.nlp = spacy.blank("en")
        self.nlp.add_pipe("sentencizer")
        self.keys = cast(KeyNormalizer, self.nlp.add_pipe("triage_keys"))
        self.group_by_label = {g.id: g for g in policy.groups}
        # Word sets the per-entity checks look words up in.
        self._people = set(policy.person_words)
        self._pronouns = set(policy.subject_words)
        self._possessives = set(policy.possessive_words)

        self.symptoms = Matcher(self.nlp.vocab)
        for group in policy.groups:
            self.symptoms.add(group.id, [self._compile(p) for p in group.patterns])
        self.cues = Matcher(self.nlp.vocab)
        self.cues.add("WORSENING", [self._compile(p) for p in policy.worsening_patterns])
        self.cues.add("PRESENT", [self._compile(p) for p in policy.present_time_patterns])
        self.cues.add("REFERS_BACK", [self._compile(p) for p in policy.refers_back_patterns])

        # medspaCy ConText: its default rules plus the policy's.
        from medspacy.context import ConText, ConTextRule

        self.context = cast(ConText, self.nlp.add_pipe("medspacy_context", config={"rules": "default"}))
        rules = []
        for spec in policy.context_rules:
            for pattern in spec.patterns:
                rules.append(
                    ConTextRule(
                        literal=pattern,
                        category=spec.category,
                        direction=spec.direction,
                        pattern=self._compile(pattern),
                        max_scope=spec.max_scope,
                    )
                )
        self.context.add(rules)

        targets = {
            w
            for p in policy.all_patterns()
            for kind, item in parse_pattern(p)
            if kind in ("words", "exact")
            for w in item[0]
        } | set(policy.typo_extra_targets)
        self.typos = TypoCorrector(targets, _english_words(), policy.typo_protect, policy.typo_misspellings)

    # -- patterns
    def _key(self, word: str) -> str:
        tokens = self.nlp.tokenizer(word)
        if len(tokens) != 1:
            raise ValueError(f"pattern word {word!r} is {len(tokens)} tokens; write it as separate words")
        return self.keys.key(tokens[0].norm_.lower())

    def _compile(self, pattern: str) -> List[Dict]:
        compiled: List[Dict] = []
        for kind, item in parse_pattern(pattern):
            if kind == "gap":
                compiled.extend({"OP": "?"} for _ in range(item))
            elif kind == "any":
                compiled.append({})
            else:
                alternatives, optional = item
                if kind == "exact":
                    spec: Dict = {"LOWER": {"IN": sorted(alternatives)}}
                else:
                    spec = {"NORM": {"IN": sorted({self._key(w) for w in alternatives})}}
                if optional:
                    spec["OP"] = "?"
                compiled.append(spec)
        return compiled

    # -- analysis
    def parse(self, text: str) -> Doc:
        # Lowercase first: patients shout ("I CANT BREATHE"), and spaCy's
        # contraction exceptions ("cant" -> "ca" + "nt") are lowercase.
        doc = self.nlp.make_doc(self.typos.correct(text.lower()))
        for name, component in self.nlp.pipeline:
            if name == "medspacy_context":
                doc.ents = tuple(self._symptom_spans(doc))  # type: ignore[assignment]  # spaCy types ents as a 1-tuple
            doc = component(doc)
        return doc

    def _symptom_spans(self, doc: Doc) -> List[Span]:
        spans = [
            Span(doc, start, end, label=self.nlp.vocab.strings[match_id]) for match_id, start, end in self.symptoms(doc)
        ]
        # Most urgent first, then longest: "lips are swelling" (emergency)
        # wins over "swelling" (mild).
        spans.sort(key=lambda s: (-triage_rank(self.group_by_label[s.label_].level), -len(s), s.start))
        taken: Set[int] = set()
        chosen = []
        for span in spans:
            if taken.isdisjoint(range(span.start, span.end)):
                chosen.append(span)
                taken.update(range(span.start, span.end))
        return sorted(chosen, key=lambda s: s.start)

    def _clause(self, span: Span) -> Span:
        sent = span.sent
        start, end = sent.start, sent.end
        for i in range(span.start - 1, sent.start - 1, -1):
            if span.doc[i].text in CLAUSE_BREAKS:
                start = i + 1
                break
        for i in range(span.end, sent.end):
            if span.doc[i].text in CLAUSE_BREAKS:
                end = i
                break
        return span.doc[start:end]

    def _interrogative(self, clause: Span) -> bool:
        words = [t for t in clause if not t.is_punct]
        for i, token in enumerate(words):
            if token.lower_ in FILLERS:
                continue
            # "cannot breathe properly", "can't swallow": a statement, not "can ...?"
            negated_modal = i + 1 < len(words) and words[i + 1].norm_ == "not"
            if token.lower_ in self.policy.question_starters and not negated_modal:
                return True
            break
        sent = clause.sent
        last_clause = clause.end >= sent.end - 1 or all(t.is_punct for t in sent.doc[clause.end : sent.end])
        return last_clause and "?" in sent.text.rstrip()[-3:]

    def _has_person_anchor(self, span: Span, clause: Span) -> bool:
        window = self.policy.anchor_window
        start = max(clause.start, span.start - window)
        people = self._people
        tokens = list(span.doc[start : span.end]) + list(span.doc[span.end : min(clause.end, span.end + 3)])
        for token in tokens:
            if token.lower_ in people or token.norm_ in people:
                return True
        return False

    def _cue_in(self, cues: Sequence[Tuple[int, int, int]], name: str, span: Span) -> bool:
        key = self.nlp.vocab.strings[name]
        return any(m == key and s >= span.start and e <= span.end for m, s, e in cues)

    @staticmethod
    def _modifiers(ent: Span) -> Dict[str, List[Tuple[int, int]]]:
        """ConText categories modifying `ent` -> the modifiers' token spans,
        ignoring modifiers that lie inside the symptom itself (the "not" of
        "can't breathe", the "gone" of "my eyebrow has gone low")."""
        found: Dict[str, List[Tuple[int, int]]] = {}
        for modifier in ent._.modifiers:
            start, end = modifier.modifier_span
            if start >= ent.start and end <= ent.end:
                continue
            found.setdefault(modifier.category, []).append((start, end))
        return found

    def _subject_after(self, ent: Span, clause: Span, after: int) -> bool:
        """A subject after the trigger (token `after`) and at most
        anchor_window tokens before the symptom: a subject pronoun ("can you
        help me I can't breathe") or, in a new clause, a possessive ("could
        you call someone, her lips are swelling"). "can botox make my eyelid
        droop" has neither: "my" is the object's, in the trigger's clause."""
        start = max(after, ent.start - self.policy.anchor_window)
        for token in ent.doc[start : ent.start]:
            if token.lower_ in self._pronouns:
                return True
            if token.lower_ in self._possessives and token.i >= clause.start > after:
                return True
        return False

    def _status(self, ent: Span, cues, modifiers: Dict[str, List[Tuple[int, int]]]) -> str:
        categories = set(modifiers)
        if "NEGATED_EXISTENCE" in categories:
            return "negated"
        clause = self._clause(ent)
        present = self._cue_in(cues, "PRESENT", clause)
        anchored = self._has_person_anchor(ent, clause)
        if "HYPOTHETICAL" in categories:
            return "report" if (anchored and present) else "question"
        if "GENERIC" in categories:
            last_trigger = max(end for _, end in modifiers["GENERIC"])
            if not ((anchored and present) or self._subject_after(ent, clause, last_trigger)):
                return "question"
        if "HISTORICAL" in categories:
            return "historical"
        if self._interrogative(clause) and not (anchored or present):
            return "question"
        return "report"

    def assess(self, text: str) -> Assessment:
        if not text or not text.strip():
            return NO_TRIAGE
        doc = self.parse(text)
        if not doc.ents:
            return NO_TRIAGE
        cues = self.cues(doc)
        sentences = list(doc.sents)
        sentence_index = {s.start: i for i, s in enumerate(sentences)}
        refers_back = {sentence_index[s.start] for s in sentences if self._cue_in(cues, "REFERS_BACK", s)}
        mentions: List[Mention] = []
        for ent in doc.ents:
            group = self.group_by_label[ent.label_]
            index = sentence_index[ent.sent.start]
            modifiers = self._modifiers(ent)
            status = self._status(ent, cues, modifiers)
            if status == "question" and any(i > index for i in refers_back):
                status = "report"  # "can botox cause X? because I have it right now"
            level = group.level
            if triage_rank(level) < triage_rank(self.policy.worsening_raise_to) and self._cue_in(
                cues, "WORSENING", ent.sent
            ):
                level = self.policy.worsening_raise_to
            about = "other" if "FAMILY" in modifiers else "self"
            mentions.append(Mention(group.id, group.label, level, ent.text, index, status, about))
        reported = [m for m in mentions if m.status == "report"]
        if not reported:
            statuses = {m.status for m in mentions}
            kind = next((k for k in ("negated", "historical", "question") if k in statuses), "none")
            return Assessment(None, "none", kind, "self", tuple(mentions))
        top = max(triage_rank(m.level) for m in reported)
        level = max(reported, key=lambda m: triage_rank(m.level)).level
        # Cite the topics of the most urgent symptoms first.
        cite: List[str] = []
        for mention in sorted(reported, key=lambda m: -triage_rank(m.level)):
            for topic in self.group_by_label[mention.group].cite:
                if topic not in cite:
                    cite.append(topic)
        about = "other" if all(m.about == "other" for m in reported if triage_rank(m.level) == top) else "self"
        return Assessment(
            level=level,
            escalation=self.policy.levels[level].escalation,
            kind="report",
            about=about,
            mentions=tuple(mentions),
            cite=tuple(cite),
        )


@cache
def get_detector() -> Detector:
    """The detector for the project's policy, built once per process."""
    return Detector(load_policy())


def assess(text: str) -> Assessment:
    return get_detector().assess(text)
