"""Someone else's past episode, told second hand: "a woman in my office said
she felt fluey for a couple of days after her botox once". The patient tells
it as background to a question, not as a report of a symptom now.

ConText's FAMILY category only says another person is near the symptom; a
mother who "can't hold her head up since yesterday" is a report. What makes
the story second hand is read over the symptom's clause and sentence: the
other person is the subject of a past-tense verb before the symptom, the
sentence carries reported speech or a remote time ("said", "once", "ago"),
and nothing in it says "now". The detector (triage/detector.py) calls this
for symptoms below the emergency level only: over-triage is preferred.
"""

from typing import List, Optional, Tuple

from spacy.tokens import Span, Token

from triage.policy import Policy

# How far before the past verb its subject may stand ("she felt", "my cowoker had", "she really felt").
SUBJECT_REACH = 2
# Present-tense verbs: the nearest verb before the symptom decides its time
# ("the spots where she was injected are a bit red" is now).
PRESENT_VERBS = {"is", "are", "am", "'s", "'re", "'m", "has", "have", "'ve", "feels", "feel", "looks", "look"}


class Hearsay:
    def __init__(self, policy: Policy):
        self.past_verbs = set(policy.hearsay_past_verbs)
        self.cues = set(policy.hearsay_cues)

    def _past(self, token: Token) -> bool:
        """A past-tense verb: listed (irregular) or a regular -ed form whose lemma differs ("fainted")."""
        lower = token.lower_
        return lower in self.past_verbs or (lower.endswith("ed") and token.norm_ != lower)

    def _nearest_verb(self, ent: Span, clause: Span) -> Optional[Token]:
        for token in reversed(ent.doc[clause.start : ent.start]):
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
