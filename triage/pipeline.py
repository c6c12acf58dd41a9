"""The triage spaCy pipeline, built once from the clinic's policy
(data/triage_policy.yml) with no model download. `nlp(text)` runs all of it:

    tokenizer         lowercase, typo correction towards the policy's words
                      (triage/typos.py), then spaCy's English tokenizer
    sentencizer
    triage_keys       token.norm_ := lookup lemma of the lowercase form
    triage_symptoms   the policy's symptom patterns -> doc.ents, label = group id
    triage_cues       worsening, present-time and refers-back cues -> doc.spans
    medspacy_context  medspaCy ConText (its default rules + the policy's):
                      negated, hypothetical, historical, family, generic

Our components are registered with `@Language.factory`, like medspaCy's, and
take the policy's patterns after `add_pipe` (as medspaCy's take `add(rules)`),
so the order of the pipeline is spaCy's, not a hand-written loop. The detector
(triage/detector.py) reads the annotated doc.
"""

import re
from typing import Callable, Dict, List, Set, cast

import spacy
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from faq.contract import triage_rank
from triage.lookups import english_words, lemma_table
from triage.policy import Policy, parse_pattern
from triage.typos import TypoCorrector

# doc.spans keys of the cues (triage_cues).
WORSENING = "triage_worsening"
PRESENT = "triage_present"
REFERS_BACK = "triage_refers_back"
UNSPLIT_NEGATION = re.compile(r"^[a-z]{2,}(?:n['\u2019]t|['\u2019]nt)$")


class CorrectingTokenizer:
    """spaCy's tokenizer after lowercasing and typo correction. Lowercase
    first: patients shout ("I CANT BREATHE"), and spaCy's contraction
    exceptions ("cant" -> "ca" + "nt") are lowercase."""

    def __init__(self, tokenizer: Callable[[str], Doc], typos: TypoCorrector):
        self.tokenizer = tokenizer
        self.typos = typos

    def __call__(self, text: str) -> Doc:
        return self.tokenizer(self.typos.correct(text.lower()))


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


class SymptomMatcher:
    """doc.ents := the symptom mentions, label = the policy's group id. Where
    mentions overlap, the most urgent wins, then the longest: "lips are
    swelling" (emergency) over "swelling" (mild)."""

    def __init__(self, vocab: Vocab):
        self.matcher = Matcher(vocab)
        self.rank: Dict[str, int] = {}

    def add(self, group: str, level: str, patterns: List[List[Dict]]) -> None:
        self.matcher.add(group, patterns)
        self.rank[group] = triage_rank(level)

    def __call__(self, doc: Doc) -> Doc:
        spans = cast(List[Span], self.matcher(doc, as_spans=True))
        spans.sort(key=lambda s: (-self.rank[s.label_], -len(s), s.start))
        taken: Set[int] = set()
        chosen = []
        for span in spans:
            if taken.isdisjoint(range(span.start, span.end)):
                chosen.append(span)
                taken.update(range(span.start, span.end))
        doc.ents = sorted(chosen, key=lambda s: s.start)  # type: ignore[assignment]  # spaCy types ents as a 1-tuple
        return doc


class CueMatcher:
    """doc.spans[name] := where each cue of the policy occurs ("worse",
    "right now", "I have it"). Matched only in a doc with a symptom: the
    detector reads cues around symptoms, and most messages have none."""

    def __init__(self, vocab: Vocab):
        self.matcher = Matcher(vocab)
        self.names: List[str] = []

    def add(self, name: str, patterns: List[List[Dict]]) -> None:
        self.matcher.add(name, patterns)
        self.names.append(name)

    def __call__(self, doc: Doc) -> Doc:
        found: Dict[str, List[Span]] = {name: [] for name in self.names}
        if doc.ents:
            for span in cast(List[Span], self.matcher(doc, as_spans=True)):
                found[span.label_].append(span)
        for name, spans in found.items():
            doc.spans[name] = spans
        return doc


@Language.factory("triage_keys")
def make_key_normalizer(nlp: Language, name: str) -> KeyNormalizer:
    return KeyNormalizer(lemma_table())


@Language.factory("triage_symptoms")
def make_symptom_matcher(nlp: Language, name: str) -> SymptomMatcher:
    return SymptomMatcher(nlp.vocab)


@Language.factory("triage_cues")
def make_cue_matcher(nlp: Language, name: str) -> CueMatcher:
    return CueMatcher(nlp.vocab)


class PatternCompiler:
    """The policy's pattern mini-language (triage/policy.py) as spaCy Matcher
    patterns: on the keys `triage_keys` gives tokens (NORM), or on the
    lowercase form for =exact words."""

    def __init__(self, tokenizer: Callable[[str], Doc], keys: KeyNormalizer):
        self.tokenizer = tokenizer
        self.keys = keys

    def key(self, word: str) -> str:
        tokens = self.tokenizer(word)
        if len(tokens) != 1:
            raise ValueError(f"pattern word {word!r} is {len(tokens)} tokens; write it as separate words")
        return self.keys.key(tokens[0].norm_.lower())

    def __call__(self, pattern: str) -> List[Dict]:
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
                    spec = {"NORM": {"IN": sorted({self.key(w) for w in alternatives})}}
                if optional:
                    spec["OP"] = "?"
                compiled.append(spec)
        return compiled


def typo_corrector(policy: Policy) -> TypoCorrector:
    """Corrects towards every word of the policy's patterns (and its extra targets)."""
    targets = {
        w
        for p in policy.all_patterns()
        for kind, item in parse_pattern(p)
        if kind in ("words", "exact")
        for w in item[0]
    } | set(policy.typo_extra_targets)
    return TypoCorrector(targets, english_words(), policy.typo_protect, policy.typo_misspellings)


def build_pipeline(policy: Policy) -> Language:
    # Registers the "medspacy_context" factory; imported here, as building is rare.
    from medspacy.context import ConText, ConTextRule

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    compile_pattern = PatternCompiler(nlp.tokenizer, cast(KeyNormalizer, nlp.add_pipe("triage_keys")))

    symptoms = cast(SymptomMatcher, nlp.add_pipe("triage_symptoms"))
    for group in policy.groups:
        symptoms.add(group.id, group.level, [compile_pattern(p) for p in group.patterns])

    cues = cast(CueMatcher, nlp.add_pipe("triage_cues"))
    cues.add(WORSENING, [compile_pattern(p) for p in policy.worsening_patterns])
    cues.add(PRESENT, [compile_pattern(p) for p in policy.present_time_patterns])
    cues.add(REFERS_BACK, [compile_pattern(p) for p in policy.refers_back_patterns])

    context = cast(ConText, nlp.add_pipe("medspacy_context", config={"rules": "default"}))
    context.add(
        [
            ConTextRule(
                literal=pattern,
                category=spec.category,
                direction=spec.direction,
                pattern=compile_pattern(pattern),
                max_scope=spec.max_scope,
            )
            for spec in policy.context_rules
            for pattern in spec.patterns
        ]
    )

    # Last: the policy's own words above were tokenized as written.
    nlp.tokenizer = CorrectingTokenizer(nlp.tokenizer, typo_corrector(policy))
    return nlp
