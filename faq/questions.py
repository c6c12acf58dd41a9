"""Reading a patient's message the way a person would: which parts are
questions, and whether it is about the article's subject at all.

Real messages tell a story first ("I'm 34, my friend had a bad time at a
cheap place...") and ask one or two things at the end. The NLU classifies the
question parts, so the story neither hides the question nor triggers an
unrelated topic (nlu/focus.py). The subject check keeps everyday requests
("can I move money between my accounts") from being answered from the article.

Pure functions, no NLP library: they run on every message in both processes.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import List, Sequence, Tuple

# Sentence ends, and clause breaks that start a new question ("..., and is it safe?").
# Not "or": "can I keep my retinol or do I stop?" is one question with two choices.
_SENTENCE = re.compile(r"(?<=[.!?\n])\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")

QUESTION_STARTERS: Tuple[str, ...] = (
    "what",
    "whats",
    "what's",
    "how",
    "hows",
    "is",
    "isnt",
    "isn't",
    "are",
    "arent",
    "aren't",
    "can",
    "cant",
    "can't",
    "could",
    "should",
    "shouldnt",
    "would",
    "will",
    "wont",
    "won't",
    "does",
    "doesnt",
    "doesn't",
    "do",
    "dont",
    "don't",
    "did",
    "who",
    "whom",
    "whose",
    "where",
    "when",
    "which",
    "why",
    "any",
    "anything",
    "has",
    "have",
    "am",
    "was",
    "were",
    "tell",
    "explain",
    "wondering",
    "wonder",
    "curious",
)
# Words before the real start of a question ("so is it safe", "ok but can a nurse do it").
_FILLERS = ("so", "ok", "okay", "and", "but", "also", "then", "honestly", "please", "pls", "hi", "hey", "um")
_STARTS = "|".join(re.escape(w) for w in QUESTION_STARTERS)
# An adverb may come between ("..., and roughly how many units would I need?").
_ADVERBS = "roughly|approximately|realistically|honestly|generally|usually|typically|actually|also|then|maybe"
_CLAUSE = re.compile(
    r"\s*(?:;|,?\s+(?:and|but|also|plus)\s+(?:(?:" + _ADVERBS + r")\s+)?(?=(?:" + _STARTS + r")\b))\s*"
)
# A question run on after a story without punctuation ("i bruise easily will i get bruising").
_RUN_ON = re.compile(
    r"\s+(?=(?:will|can|should|could|would|is|are|does|do|how|what|why)\s+(?:i|it|you|botox|they|there|this|that|my)\b)"
)


def words(text: str) -> List[str]:
    return _WORD.findall(text.lower())


def sentences(text: str) -> List[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s and s.strip()]


def clauses(sentence: str) -> List[str]:
    """A sentence split where a second question starts ("can a nurse do it and is it safe?")."""
    parts = [c.strip(" ,") for c in _CLAUSE.split(sentence) if c and c.strip(" ,")]
    if len(parts) == 1 and not is_question(parts[0]):
        parts = [c.strip(" ,") for c in _RUN_ON.split(parts[0], maxsplit=1) if c.strip(" ,")]
    return parts


# A question after its condition: "if I stop, will I look older?" (a verb, then its subject).
_CONDITIONAL = re.compile(
    r"^(?:if|once|when)\b.*\b(?:will|would|can|could|should|do|does|is|am)\s+(?:i|it|you|my|they|we)\b"
)


def is_question(clause: str) -> bool:
    tokens = words(clause)
    while tokens and tokens[0] in _FILLERS:
        tokens = tokens[1:]
    if clause.rstrip().endswith("?") or bool(tokens and tokens[0] in QUESTION_STARTERS):
        return True
    return bool(_CONDITIONAL.search(" ".join(tokens)))


@dataclass(frozen=True)
class Parts:
    """A message split into its question clauses and the rest (the story)."""

    questions: Tuple[str, ...]
    story: Tuple[str, ...]

    @property
    def focus(self) -> str:
        """What to classify: the questions, else the last sentence (real messages end on the point)."""
        if self.questions:
            return " ".join(self.questions)
        return self.story[-1] if self.story else ""


def split_message(text: str) -> Parts:
    questions: List[str] = []
    story: List[str] = []
    for sentence in sentences(text):
        for clause in clauses(sentence):
            (questions if is_question(clause) else story).append(clause)
    return Parts(tuple(questions), tuple(story))


def mentions_any(text: str, vocabulary: Sequence[str]) -> bool:
    """Whether the text uses one of the vocabulary's words or phrases (whole words;
    a * ends a word with any ending: "inject*" matches "injections", "crow* feet" "crows feet";
    a leading * any beginning: "from *ing" matches "from staring";
    ... between two words allows up to GAP_WORDS words: "how long ... last" matches
    "how long will my botox last")."""
    return bool(_pattern(tuple(vocabulary)).search(" ".join(words(text))))


def without_any(text: str, vocabulary: Sequence[str]) -> str:
    """The text's words, lowercased, with every match of the vocabulary removed."""
    return _pattern(tuple(vocabulary)).sub(" ", " ".join(words(text)))


GAP = "..."
GAP_WORDS = 6


# One compiled pattern per vocabulary: the knowledge base has about 30
# (subject, treatment, causes, each not_covered entry and its `unless`).
@lru_cache(maxsize=128)
def _pattern(vocabulary: Tuple[str, ...]) -> "re.Pattern[str]":
    def entry(phrase: str) -> str:
        pattern, gap = "", False
        for word in phrase.split():
            if word == GAP:
                gap = True
                continue
            if pattern:
                pattern += (rf"(?:\s+\S+){{0,{GAP_WORDS}}}" if gap else "") + r"\s+"
            any_start, any_end = (r"[a-z0-9']*" if flag else "" for flag in (word.startswith("*"), word.endswith("*")))
            pattern += any_start + re.escape(word.strip("*")) + any_end
            gap = False
        return pattern

    return re.compile(r"\b(?:" + "|".join(entry(v.lower()) for v in vocabulary if v.strip()) + r")\b")
