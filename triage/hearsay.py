"""Symptoms told second hand. Patients tell other people's stories before
their question ("a woman in my office said she felt fluey for a couple of
days after her botox once. Can botox cause flu like symptoms?"), and report
for the person they are with ("my mum said her throat is closing").

ConText's FAMILY category only says another person is near the symptom, and
our GENERIC category takes "said" for hearsay. What tells the two apart is
read over the symptom's clause and sentence (data/triage_policy.yml,
`hearsay`):

- someone else's past episode: the other person is the subject of the
  nearest verb before the symptom, a past tense; the sentence has a speech
  verb or a remote time ("said", "once", "last spring") and nothing says
  "now";
- someone's present state, reported: a possessive right after the speech
  verb ("said her throat ...") and the symptom not in the past tense.

The detector (triage/detector.py) applies both below the emergency level
only; an emergency told second hand is a report (over-triage is preferred).
"""

from typing import List, Optional, Tuple

from spacy.tokens import Span, Token

from triage.policy import Policy

# How far before the past verb its subject may stand ("she felt", "my cowoker had", "she really felt").
SUBJECT_REACH = 2
# Present-tense verbs: the nearest verb decides the symptom's time
# ("the spots where she was injected are a bit red" is now).
PRESENT_VERBS = {"is", "are", "am", "'s", "'re", "'m", "has", "have", "'ve", "feels", "feel", "looks", "look"}


class Hearsay:
    def __init__(self, policy: Policy):
        self.speech_verbs = set(policy.speech_verbs)
        self.cues = self.speech_verbs | set(policy.remote_words)
        self.past_verbs = set(policy.past_verbs)
        self.possessives = set(policy.possessive_words)
        # "told me she's seeing double": a subject after the speech verb, like a possessive.
        self.tellers = self.possessives | set(policy.subject_words)

    def _past(self, token: Token) -> bool:
        """A past-tense verb: listed (irregular) or a regular -ed form whose lemma differs ("fainted")."""
        lower = token.lower_
        return lower in self.past_verbs or (lower.endswith("ed") and token.norm_ != lower)

    def _nearest_verb(self, ent: Span, clause: Span) -> Optional[Token]:
        """The last verb in the symptom ("lips swelled") or, failing one, before it in the clause."""
        for token in reversed(ent.doc[clause.start : ent.end]):
            if token.lower_ in PRESENT_VERBS or self._past(token):
                return token
        return None

    def past_episode(self, ent: Span, clause: Span, others: List[Tuple[int, int]], present: bool, remote: bool) -> bool:
        """`others`: the token spans of the FAMILY modifiers of `ent`; `present`:
        a present-time cue in the sentence; `remote`: a remote time in it ("last spring")."""
        if present or not others or not (remote or any(t.lower_ in self.cues for t in ent.sent)):
            return False
        verb = self._nearest_verb(ent, clause)
        if verb is None or not self._past(verb):
            return False
        other_tokens = {i for start, end in others for i in range(start, end)}
        return any(i in other_tokens for i in range(max(clause.start, verb.i - SUBJECT_REACH), verb.i))

    def told_now(self, ent: Span, clause: Span, trigger: Span, any_time: bool) -> bool:
        """`trigger` (a GENERIC modifier) is a speech verb followed by a possessive
        or a subject ("said her throat is closing", "told me she can't swallow") and the
        symptom is not in the past tense (`any_time`: whatever its tense)."""
        if not any(t.lower_ in self.speech_verbs for t in trigger):
            return False
        doc, start = ent.doc, trigger.end
        if start < len(doc) and doc[start].lower_ in ("me", "us", "that"):
            start += 1  # "told me her ...": the trigger may end before the addressee
        if start >= ent.start or doc[start].lower_ not in self.tellers:
            return False
        verb = self._nearest_verb(ent, clause)
        return any_time or verb is None or not self._past(verb)
