"""Symptom triage: reads a patient's message, parsed by the triage pipeline
(triage/pipeline.py), and decides for each symptom mention whether it is a
current report (of the writer or of someone else), a question, a negation or
history, and which level the clinic's policy gives.

The pipeline marks symptoms, cues and ConText modifiers; what they mean
together is decided here, per clause: sentence mood (question vs report, which
ConText does not do), anchors to a person or to the present, "worsening" and a
later sentence pointing back at a question.

`assess(text)` returns an `Assessment` (triage/assessment.py).
"""

from functools import cache
from typing import Dict, List, Tuple, cast

from spacy.tokens import Doc, Span, Token

from faq.contract import TriageLevel, triage_rank
from triage.assessment import NO_TRIAGE, Assessment, Mention
from triage.hearsay import Hearsay
from triage.pipeline import PRESENT, REFERS_BACK, WORSENING, CorrectingTokenizer, build_pipeline
from triage.policy import Policy, load_policy

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
# Words before a refers-back cue that deny it ("make sure that doesn't happen to me").
DENIALS = {"not", "never"}
# A sentence that goes on about the symptom before it ("It's been there 6 days now").
POINTING_BACK = {"it", "its", "they", "this", "that", "still"}


class Detector:
    def __init__(self, policy: Policy):
        self.policy = policy
        self.nlp = build_pipeline(policy)
        self.typos = cast(CorrectingTokenizer, self.nlp.tokenizer).typos
        self.group_by_label = {g.id: g for g in policy.groups}
        # Word sets the per-entity checks look words up in.
        self._people = set(policy.person_words)
        self._pronouns = set(policy.subject_words)
        self._possessives = set(policy.possessive_words)
        self._future_modals = set(policy.future_modals)
        self.hearsay = Hearsay(policy)

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

    def _worse(self, doc: Doc, sentences: List[Span], index: int) -> bool:
        """A worsening cue in the symptom's sentence, or in the next one when it
        points back ("a hard lump... It's been there 6 days now")."""
        if self._cue_in(doc, WORSENING, sentences[index]):
            return True
        if index + 1 >= len(sentences):
            return False
        following = sentences[index + 1]
        return following[0].lower_ in POINTING_BACK and self._cue_in(doc, WORSENING, following)

    @staticmethod
    def _cue_in(doc: Doc, cue: str, span: Span) -> bool:
        return any(c.start >= span.start and c.end <= span.end for c in doc.spans[cue])

    @staticmethod
    def _modifiers(ent: Span) -> Dict[str, List[Tuple[int, int]]]:
        """ConText categories modifying `ent` -> the modifiers' token spans,
        ignoring modifiers that lie inside the symptom itself (the "not" of
        "can't breathe"), but for history ("my eyebrow has always sat low"), and those
        cut off by a terminating word between them and the symptom ("the left
        doesn't, so my smile is wonky"). medspaCy ends a scope at a
        terminating word only when the scope runs to the end of the sentence
        (its overlap test misses a scope inside the sentence), so the cut is
        made here."""
        stops = [m.modifier_span for m in ent.doc._.context_graph.modifiers if m.direction.upper() == "TERMINATE"]
        found: Dict[str, List[Tuple[int, int]]] = {}
        for modifier in ent._.modifiers:
            start, end = modifier.modifier_span
            if start >= ent.start and end <= ent.end and modifier.category != "HISTORICAL":
                continue
            if end <= ent.start and any(end <= s and e <= ent.start for s, e in stops):
                continue
            if start >= ent.end and any(ent.end <= s and e <= start for s, e in stops):
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
            if token.lower_ in self._pronouns and not self._future_after(token):
                return True
            if token.lower_ in self._possessives and token.i >= clause.start > after:
                return True
        return False

    def _future_after(self, token: Token) -> bool:
        """A future modal after the subject: a worry, not a report ("he's convinced I'll keel over")."""
        return token.i + 1 < len(token.doc) and token.doc[token.i + 1].norm_ in self._future_modals

    def _emergency(self, ent: Span) -> bool:
        return self.group_by_label[ent.label_].level == TriageLevel.EMERGENCY

    def _second_hand(self, ent: Span, clause: Span, modifiers: Dict[str, List[Tuple[int, int]]]) -> bool:
        """Someone else's past episode (triage/hearsay.py); never for an emergency symptom."""
        if self._emergency(ent):
            return False
        # A duration ("for a week") takes the time of its verb: not "now" in a past story.
        present = any(
            c.start >= ent.sent.start and c.end <= ent.sent.end and c[0].lower_ != "for" for c in ent.doc.spans[PRESENT]
        )
        # A remote time anywhere in the sentence ("... after hers last spring"), whatever ConText's scope.
        remote = any(
            m.category == "HISTORICAL" and ent.sent.start <= m.modifier_span[0] < ent.sent.end
            for m in ent.doc._.context_graph.modifiers
        )
        return self.hearsay.past_episode(ent, clause, modifiers.get("FAMILY", []), present, remote)

    @staticmethod
    def _refers_back(doc: Doc, sentence: Span) -> bool:
        """The sentence points back at an asked-about symptom ("I have it right now"), undenied."""
        return any(
            c.start >= sentence.start
            and c.end <= sentence.end
            and not any(t.norm_ in DENIALS for t in doc[max(sentence.start, c.start - 2) : c.end])
            for c in doc.spans[REFERS_BACK]
        )

    def _status(self, ent: Span, modifiers: Dict[str, List[Tuple[int, int]]]) -> str:
        categories = set(modifiers)
        if "NEGATED_EXISTENCE" in categories:
            return "negated"
        clause = self._clause(ent)
        present = self._cue_in(ent.doc, PRESENT, clause)
        anchored = self._has_person_anchor(ent, clause)
        if "HYPOTHETICAL" in categories:
            return "report" if (anchored and present) else "question"
        if "GENERIC" in categories:
            start, end = max(modifiers["GENERIC"], key=lambda span: span[1])
            told_now = self.hearsay.told_now(ent, clause, ent.doc[start:end], any_time=self._emergency(ent))
            if not ((anchored and present) or self._subject_after(ent, clause, end) or told_now):
                return "question"
        if "HISTORICAL" in categories or self._second_hand(ent, clause, modifiers):
            return "historical"
        if self._interrogative(clause) and not (anchored or present):
            return "question"
        return "report"

    def assess(self, text: str) -> Assessment:
        if not text or not text.strip():
            return NO_TRIAGE
        doc = self.nlp(text)
        if not doc.ents:
            return NO_TRIAGE
        sentences = list(doc.sents)
        sentence_index = {s.start: i for i, s in enumerate(sentences)}
        refers_back = {sentence_index[s.start] for s in sentences if self._refers_back(doc, s)}
        mentions: List[Mention] = []
        for ent in doc.ents:
            group = self.group_by_label[ent.label_]
            index = sentence_index[ent.sent.start]
            modifiers = self._modifiers(ent)
            status = self._status(ent, modifiers)
            if status == "question" and any(i > index for i in refers_back):
                status = "report"  # "can botox cause X? because I have it right now"
            level = group.level
            if triage_rank(level) < triage_rank(self.policy.worsening_raise_to) and self._worse(doc, sentences, index):
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
